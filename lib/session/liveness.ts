/**
 * Liveness of a connection: periodic PINGs whose reply must arrive within a timeout, and an idle
 * timeout that PINGs do not reset. One timer each per connection; nothing runs per frame except a
 * counter increment.
 *
 * It blames the right side: a PING reply travels behind whatever the peer sent before it, so while
 * *we* do not read the socket (compatibility mode pauses reading for a slow stream reader) a missing
 * reply says nothing about the peer. A timeout counts only when reading was never paused during the
 * wait and no byte arrived meanwhile; otherwise the connection is probed again at once. A slow local
 * reader therefore never gets a connection declared dead.
 */
import { LivenessError, TimeoutError } from '../errors.js';
import { IdleWatch } from './idle.js';

/** What the connection reports about its reading side. */
export interface ReadHealth {
  /** Reading the socket is paused now. */
  paused: boolean;
  /** How many times reading was paused so far. */
  pauses: number;
  /** Bytes read from the socket so far. */
  bytesIn: number;
}

export interface LivenessHost {
  ping(options: { timeout: number }): Promise<number>;
  /** The reading side, sampled when a PING is sent and when its wait ends. */
  readHealth(): ReadHealth;
  /** Frames in + out, PING excluded. */
  activity(): number;
  /** Number of open streams. */
  openStreams(): number;
  dead(err: LivenessError): void;
  idle(): void;
}

/**
 * True when a PING that went unanswered from `before` to `after` proves nothing about the peer: reading
 * was paused at some point (the reply may be queued unread behind DATA), or bytes did arrive.
 */
export function peerExcused(before: ReadHealth, after: ReadHealth): boolean {
  return before.paused || after.paused || after.pauses !== before.pauses || after.bytesIn !== before.bytesIn;
}

export class Liveness {
  private pingTimer: NodeJS.Timeout | null = null;
  private readonly idleWatch: IdleWatch | null;
  private pinging = false;
  private stopped = false;
  /** Timeouts excused in a row (for logs and tests). */
  excused = 0;

  /**
   * @param pingInterval ms between PINGs; 0 = no keep-alive pings.
   * @param pingTimeout ms to wait for each reply; a missed reply (that the peer is to blame for, see
   *   above) declares the connection dead.
   * @param idleTimeout ms without any frame but PING, and no open stream, before the connection is closed; 0 = never.
   */
  constructor(
    private readonly host: LivenessHost,
    private readonly pingInterval: number,
    private readonly pingTimeout: number,
    idleTimeout: number,
  ) {
    if (pingInterval > 0) this.schedulePing(pingInterval);
    this.idleWatch =
      idleTimeout > 0 ? new IdleWatch(idleTimeout, host.activity, () => !this.stopped && host.idle(), () => host.openStreams() > 0) : null;
  }

  stop(): void {
    this.stopped = true;
    if (this.pingTimer) clearTimeout(this.pingTimer);
    this.idleWatch?.stop();
  }

  private schedulePing(delay: number): void {
    this.pingTimer = setTimeout(() => {
      this.pingTimer = null;
      if (this.stopped || this.pinging) return;
      this.pinging = true;
      const before = this.host.readHealth();
      this.host.ping({ timeout: this.pingTimeout }).then(
        () => {
          this.pinging = false;
          this.excused = 0;
          if (!this.stopped) this.schedulePing(this.pingInterval);
        },
        (err: unknown) => {
          this.pinging = false;
          if (this.stopped || !(err instanceof TimeoutError)) return;
          if (peerExcused(before, this.host.readHealth())) {
            // Not the peer's fault: probe again at once (a PING reply costs the peer nothing).
            this.excused++;
            this.schedulePing(0);
            return;
          }
          this.host.dead(new LivenessError(`no PING reply within ${this.pingTimeout} ms: the connection is dead`));
        },
      );
    }, delay);
    this.pingTimer.unref?.();
  }
}
