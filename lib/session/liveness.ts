/**
 * Liveness of a connection: periodic PINGs whose reply must arrive within a timeout, and an idle
 * timeout that PINGs do not reset. One timer each per connection; nothing runs per frame except a
 * counter increment.
 */
import { LivenessError, TimeoutError } from '../errors.js';
import { IdleWatch } from './idle.js';

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
  private readonly idleWatch: IdleWatch | null;
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
    idleTimeout: number,
  ) {
    if (pingInterval > 0) this.schedulePing();
    this.idleWatch =
      idleTimeout > 0 ? new IdleWatch(idleTimeout, host.activity, () => !this.stopped && host.idle(), () => host.openStreams() > 0) : null;
  }

  stop(): void {
    this.stopped = true;
    if (this.pingTimer) clearTimeout(this.pingTimer);
    this.idleWatch?.stop();
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
}
