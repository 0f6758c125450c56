/**
 * Liveness of a connection: periodic PINGs whose reply must arrive within a timeout, and an idle
 * timeout that PINGs do not reset. One timer each per connection; nothing runs per frame except a
 * counter increment.
 */
import { LivenessError, TimeoutError } from '../errors.js';

export interface LivenessHost {
  ping(options: { timeout: number }): Promise<number>;
  /** Frames in + out, PING excluded. */
  activity(): number;
  /** Number of open streams. */
  openStreams(): number;
  dead(err: LivenessError): void;
  idle(): void;
}

export class Liveness {
  private pingTimer: NodeJS.Timeout | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private lastActivity = -1;
  private lastChange = Date.now();
  private pinging = false;
  private stopped = false;

  /**
   * @param pingInterval ms between PINGs; 0 = no keep-alive pings.
   * @param pingTimeout ms to wait for each reply; a missed reply declares the connection dead.
   * @param idleTimeout ms without any frame but PING, and no open stream, before the connection is closed; 0 = never.
   */
  constructor(
    private readonly host: LivenessHost,
    private readonly pingInterval: number,
    private readonly pingTimeout: number,
    private readonly idleTimeout: number,
  ) {
    if (pingInterval > 0) this.schedulePing();
    if (idleTimeout > 0) this.scheduleIdle(Math.max(1, Math.floor(idleTimeout / 4)));
  }

  stop(): void {
    this.stopped = true;
    if (this.pingTimer) clearTimeout(this.pingTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
  }

  private schedulePing(): void {
    this.pingTimer = setTimeout(() => {
      this.pingTimer = null;
      if (this.stopped || this.pinging) return;
      this.pinging = true;
      this.host.ping({ timeout: this.pingTimeout }).then(
        () => {
          this.pinging = false;
          if (!this.stopped) this.schedulePing();
        },
        (err: unknown) => {
          this.pinging = false;
          if (this.stopped) return;
          if (err instanceof TimeoutError) {
            this.host.dead(new LivenessError(`no PING reply within ${this.pingTimeout} ms: the connection is dead`));
          }
        },
      );
    }, this.pingInterval);
    this.pingTimer.unref?.();
  }

  /** Checks four times per idle period, so the connection closes within 1.25 × idleTimeout of its last frame. */
  private scheduleIdle(ms: number): void {
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.stopped) return;
      const now = Date.now();
      const count = this.host.activity();
      if (count !== this.lastActivity || this.host.openStreams() > 0) {
        this.lastActivity = count;
        this.lastChange = now;
      } else if (now - this.lastChange >= this.idleTimeout) {
        this.host.idle();
        return;
      }
      this.scheduleIdle(Math.max(1, Math.floor(this.idleTimeout / 4)));
    }, ms);
    this.idleTimer.unref?.();
  }
}
