/**
 * Flow-control windows (SPDY/3.1 §2.6.8). Two small types, as x/net/http2 keeps them:
 * - {@link SendWindow}: what we may still send on a stream or on the session.
 * - {@link RecvWindow}: what the peer may still send us, and the WINDOW_UPDATE we owe it.
 */
import { MAX_WINDOW } from '../frames/constants.js';

/** The window a sender may use. It may go negative after SETTINGS INITIAL_WINDOW_SIZE shrinks it. */
export class SendWindow {
  size: number;
  constructor(initial: number) {
    this.size = initial;
  }
  /**
   * Adds a WINDOW_UPDATE delta. Returns false when the window would exceed 2^31-1, which
   * §2.6.8 makes a FLOW_CONTROL_ERROR (stream) or a session error (stream 0).
   */
  add(delta: number): boolean {
    if (this.size + delta > MAX_WINDOW) return false;
    this.size += delta;
    return true;
  }
}

/**
 * The window we granted the peer. `take(n)` when DATA arrives, `consume(n)` when the bytes are given
 * away (to the application, or released for the session window); a WINDOW_UPDATE is due once at least
 * half the initial window is owed, so updates are batched.
 */
export class RecvWindow {
  /** Bytes the peer may still send. */
  available: number;
  /** Bytes consumed but not yet returned by a WINDOW_UPDATE. */
  private unsent = 0;
  initial: number;
  constructor(initial: number) {
    this.available = initial;
    this.initial = initial;
  }
  /**
   * Accounts for `n` received bytes. Returns false if the peer overran the window by more than `slack`
   * (bytes the peer may rightly use before it has seen our SETTINGS; `available` then goes negative).
   */
  take(n: number, slack = 0): boolean {
    if (n > this.available + slack) return false;
    this.available -= n;
    return true;
  }
  /** Marks `n` bytes consumed. Returns the delta to send in a WINDOW_UPDATE now, or 0. */
  consume(n: number): number {
    this.unsent += n;
    if (this.unsent >= this.initial / 2 || (this.available <= 0 && this.unsent > 0)) {
      const delta = this.unsent;
      this.unsent = 0;
      this.available += delta;
      return delta;
    }
    return 0;
  }
}
