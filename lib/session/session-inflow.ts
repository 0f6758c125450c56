/**
 * The receive side of the session window (SPDY/3.1 §2.6.8, stream id 0): what the peer may still send on
 * the whole connection, how much of it the application holds unread, and when WINDOW_UPDATEs for the
 * session go out. Per-stream receive windows are {@link RecvWindow}s on the streams themselves.
 */
import { DEFAULT_INITIAL_WINDOW } from '../frames/constants.js';
import { RecvWindow } from './flow.js';

export interface SessionInflowHost {
  /** True while windows are honoured (nothing is returned otherwise). */
  readonly active: () => boolean;
  /** Sends WINDOW_UPDATE on stream 0 for `delta` bytes. */
  readonly sendUpdate: (delta: number) => void;
}

export class SessionInflow {
  /** The session window we granted the peer. */
  readonly window = new RecvWindow(DEFAULT_INITIAL_WINDOW);
  /** Bytes delivered to streams and not yet read (flow control). */
  private unread = 0;
  /** Session window withheld on arrival, returned as the application reads. */
  private owedOnRead = 0;

  /** @param sessionWindowSize the `sessionWindowSize` option, bytes. */
  constructor(
    private readonly sessionWindowSize: number,
    private readonly host: SessionInflowHost,
  ) {}

  /**
   * Raises the window from the default 64 KiB to `sessionWindowSize` (sent with our first SETTINGS).
   * @returns the WINDOW_UPDATE delta to send, or 0.
   */
  grow(): number {
    const extra = this.sessionWindowSize - DEFAULT_INITIAL_WINDOW;
    if (extra <= 0) return 0;
    this.window.available += extra;
    this.window.initial = this.sessionWindowSize;
    return extra;
  }

  /**
   * Session window for `n` bytes delivered to a stream (not yet read). It is returned at once while what
   * the connection holds unread is at most half the session window (the cheap path: one stream, or readers
   * that keep up); past that it is owed and returned as the application reads (x/net/http2 returns
   * connection flow on read). So a connection holds at most 1.5 × `sessionWindowSize` unread, however
   * many streams it has, and a single slow stream still cannot hold back the others below that.
   */
  arrived(n: number): void {
    this.unread += n;
    if (this.unread <= this.sessionWindowSize / 2) this.release(n);
    else this.owedOnRead += n;
  }

  /** `n` delivered bytes were read by the application (or dropped with their stream). */
  read(n: number): void {
    this.unread = Math.max(0, this.unread - n);
    if (this.owedOnRead > 0) {
      const k = Math.min(n, this.owedOnRead);
      this.owedOnRead -= k;
      this.release(k);
    }
  }

  /** Returns `n` bytes of session window to the peer (batched by {@link RecvWindow.consume}). */
  release(n: number): void {
    if (!this.host.active() || n === 0) return;
    const delta = this.window.consume(n);
    if (delta > 0) this.host.sendUpdate(delta);
  }
}
