/**
 * Socket pausing for compatibility mode (no SPDY/3.1 windows in effect, §2.6.8): a peer that does not wait
 * for windows can only be held back by not reading the socket. A stream whose reader fell behind
 * "blocks" reading until it wants data again; the socket is read again once no stream blocks it.
 */
import type { Duplex } from 'node:stream';

export class ReadGate<S> {
  /** Streams whose reader is behind: reading the socket stays paused while any is here. */
  private readonly blocked = new Set<S>();
  /** Open streams whose reader fell behind at least once while windows were not honoured (they make the connection congested). */
  private readonly slow = new Set<S>();
  private paused_ = false;
  /** Times reading the socket was paused (liveness: a PING reply may sit unread behind DATA meanwhile). */
  private pauses_ = 0;

  constructor(private readonly socket: Duplex) {}

  /** True while the socket is not read. */
  get paused(): boolean {
    return this.paused_;
  }

  /** Times reading was paused so far. */
  get pauses(): number {
    return this.pauses_;
  }

  /** True while a stream still open has fallen behind at least once. */
  get hasSlow(): boolean {
    return this.slow.size > 0;
  }

  /** `stream`'s reader is behind: stop reading the socket until it catches up. */
  block(stream: S): void {
    this.blocked.add(stream);
    this.slow.add(stream);
    if (!this.paused_) {
      this.paused_ = true;
      this.pauses_++;
      this.socket.pause();
    }
  }

  /** `stream`'s reader wants data again: read the socket once no stream blocks it. */
  unblock(stream: S): void {
    if (this.blocked.delete(stream) && this.blocked.size === 0 && this.paused_) {
      this.paused_ = false;
      this.socket.resume();
    }
  }

  /** No more DATA comes for `stream`: it no longer makes the connection congested. */
  notSlow(stream: S): void {
    this.slow.delete(stream);
  }

  /**
   * `stream` left the connection: it blocks reading no more. (A stream reset while it blocked, with
   * data still buffered for its reader, leaves here first; the socket must not stay paused for it.)
   */
  forget(stream: S): void {
    this.slow.delete(stream);
    this.unblock(stream);
  }

  /** The connection closed: let the socket flow to its end (the paused flag stays as it was). */
  release(): void {
    if (this.paused_) this.socket.resume();
  }
}
