/**
 * One SPDY stream as a Node `Duplex` with real backpressure.
 *
 * - Writing queues DATA frames on the connection's scheduler; the write callback runs once the bytes
 *   are handed to the socket, so `write()` returns false while the session cannot send (flow-control
 *   window or a full socket).
 * - `end()` sends FIN (an empty DATA frame with FLAG_FIN after all queued data).
 * - `destroy()` before both sides sent FIN sends RST_STREAM CANCEL (or the `status` of a
 *   {@link StreamError}); a RST_STREAM from the peer destroys the stream without answering it
 *   (§2.4.2: never answer a RST_STREAM with a RST_STREAM). A peer reset other than CANCEL destroys the
 *   stream with a {@link StreamResetError}: attach an `'error'` listener.
 * - Reading: DATA payloads are pushed as they arrive. With flow control on, WINDOW_UPDATEs are sent as
 *   the application reads (consumes) the data, so a slow reader slows only its own stream.
 *
 * Events (besides Duplex's): `'headers' (headers: Headers)` for a HEADERS frame; `'reply' (headers)`
 * when the SYN_REPLY arrives on a stream we created.
 */
import { Duplex } from 'node:stream';
import type { Headers } from '../frames/types.js';
import { RstStatus } from '../frames/constants.js';
import { StreamError, TimeoutError } from '../errors.js';
import { SendWindow, RecvWindow } from './flow.js';
import type { Sendable, WriteItem } from './writer.js';
import { IdleWatch } from './idle.js';

/** Stream states (one enum, SPDY/3.1 §2.3). */
export const StreamState = {
  /** We sent SYN_STREAM, no SYN_REPLY yet. */
  OPENING: 'opening',
  /** Both sides may send. */
  OPEN: 'open',
  /** We sent FIN; the peer may still send. */
  HALF_CLOSED_LOCAL: 'half-closed-local',
  /** The peer sent FIN; we may still send. */
  HALF_CLOSED_REMOTE: 'half-closed-remote',
  /** Both FINs, or a RST_STREAM either way. */
  CLOSED: 'closed',
} as const;
export type StreamStateValue = (typeof StreamState)[keyof typeof StreamState];

/** What a stream needs of its connection (implemented by Connection). @internal */
export interface StreamOwner {
  enqueueData(stream: Stream, item: WriteItem): void;
  sendReply(stream: Stream, headers: Headers, fin: boolean): void;
  sendHeaders(stream: Stream, headers: Headers, fin: boolean): void;
  sendReset(stream: Stream, status: number): void;
  /** The application consumed `n` bytes of this stream (flow control). */
  consumed(stream: Stream, n: number): void;
  /** The application wants more data of this stream (socket backpressure in compatibility mode). */
  wantsData(stream: Stream): void;
  streamClosed(stream: Stream): void;
}

export interface StreamInit {
  id: number;
  priority: number;
  headers: Headers;
  /** True for a stream this side created. */
  local: boolean;
  sendWindow: number;
  recvWindow: number;
  /** Readable high-water mark, bytes. */
  highWaterMark: number;
}

/** Per-stream counters returned by {@link Stream.stats}. */
export interface StreamStats {
  id: number;
  state: StreamStateValue;
  bytesIn: number;
  bytesOut: number;
  framesIn: number;
  framesOut: number;
  /** Bytes received and not yet read by the application. */
  buffered: number;
  sendWindow: number;
  recvWindow: number;
}

export class Stream extends Duplex implements Sendable {
  /** Stream id: odd when the client created it, even for the server (§2.3.2). */
  readonly id: number;
  /** 0 (highest) … 7 (lowest). */
  readonly priority: number;
  /** Headers of the SYN_STREAM (sent by us, or received). */
  readonly headers: Headers;
  /** Headers of the SYN_REPLY (on a stream we created, once it arrived; on a received stream, what we sent). */
  replyHeaders: Headers | null = null;
  /** True when this side created the stream. */
  readonly local: boolean;
  state: StreamStateValue;
  /** @internal */ readonly pending: WriteItem[] = [];
  /** @internal */ readonly sendWindow: SendWindow;
  /** @internal */ readonly recvWindow: RecvWindow;
  /** @internal */ scheduled = false;
  /** @internal */ replied = false;
  /** @internal */ localFin = false;
  /** @internal */ remoteFin = false;
  /** @internal */ resetSent = false;
  /** True when the peer opened it with FLAG_UNIDIRECTIONAL: we only read it. */
  unidirectional = false;
  /** @internal */ owner: StreamOwner;
  /** @internal */ counters = { bytesIn: 0, bytesOut: 0, framesIn: 0, framesOut: 0 };
  private pushedBytes = 0;
  private consumedBytes = 0;
  private finalCb: ((err?: Error | null) => void) | null = null;

  /** @internal Created by Connection only. */
  constructor(owner: StreamOwner, init: StreamInit) {
    super({
      allowHalfOpen: true,
      readableHighWaterMark: init.highWaterMark,
      writableHighWaterMark: init.highWaterMark,
    });
    this.owner = owner;
    this.id = init.id;
    this.priority = init.priority;
    this.headers = init.headers;
    this.local = init.local;
    this.state = init.local ? StreamState.OPENING : StreamState.OPEN;
    this.sendWindow = new SendWindow(init.sendWindow);
    this.recvWindow = new RecvWindow(init.recvWindow);
  }

  /**
   * Answers a received stream with SYN_REPLY (§2.6.2). `headers` defaults to none (what the kubelet
   * sends). With `fin`, our side is closed at once. Throws if the stream was created locally or was
   * already answered.
   */
  reply(headers: Headers = {}, options: { fin?: boolean } = {}): void {
    if (this.local) throw new Error(`stream ${this.id} was created by this side; only a received stream is replied to`);
    if (this.unidirectional) return; // the creator expects no SYN_REPLY on a UNIDIRECTIONAL stream (§2.6.1)
    if (this.replied) throw new Error(`stream ${this.id} was already replied to`);
    if (this.state === StreamState.CLOSED) return;
    this.replied = true;
    this.replyHeaders = headers;
    const fin = options.fin === true;
    this.owner.sendReply(this, headers, fin);
    if (fin) {
      this.localFin = true;
      this.end();
    }
  }

  /** Sends a HEADERS frame (§2.6.7). */
  sendHeaders(headers: Headers, options: { fin?: boolean } = {}): void {
    if (this.state === StreamState.CLOSED || this.localFin) throw new Error(`stream ${this.id} is closed for writing`);
    this.owner.sendHeaders(this, headers, options.fin === true);
    if (options.fin) {
      this.localFin = true;
      this.end();
    }
  }

  /**
   * Resets the stream with RST_STREAM `status` (default CANCEL) and destroys it.
   * `status` is an RST_STREAM status (1 PROTOCOL_ERROR … 11 FRAME_TOO_LARGE).
   */
  reset(status: number = RstStatus.CANCEL): void {
    if (this.state !== StreamState.CLOSED && !this.resetSent) {
      this.resetSent = true;
      this.owner.sendReset(this, status);
    }
    this.destroy();
  }

  private idleWatch: IdleWatch | null = null;

  /**
   * Destroys the stream with a {@link TimeoutError} (RST_STREAM CANCEL to the peer) after `ms` without a
   * DATA frame either way. `0` turns it off. One timer per stream, checking four times per period (the
   * stream fails within 1.25 × `ms`); nothing runs per frame. Returns the stream.
   */
  setIdleTimeout(ms: number): this {
    if (!Number.isInteger(ms) || ms < 0) throw new RangeError(`idle timeout must be a whole number of ms >= 0, got ${ms}`);
    this.idleWatch?.stop();
    this.idleWatch = null;
    if (ms > 0 && !this.destroyed) {
      const c = this.counters;
      this.idleWatch = new IdleWatch(
        ms,
        () => c.framesIn + c.framesOut,
        () => this.fail(new TimeoutError(`stream ${this.id} idle for ${ms} ms`, ms)),
      );
    }
    return this;
  }

  /** Counters and windows of this stream. */
  stats(): StreamStats {
    return {
      id: this.id,
      state: this.state,
      ...this.counters,
      buffered: this.readableLength,
      sendWindow: this.sendWindow.size,
      recvWindow: this.recvWindow.available,
    };
  }

  /** Why the stream ended abnormally (a reset, GOAWAY, connection loss), or null. */
  closeError: Error | null = null;

  /**
   * @internal Destroys the stream for `err`. `'error'` is emitted only when someone listens for it, so
   * a stream nobody watches can never crash the process; `closeError` keeps the reason either way.
   */
  fail(err: Error | null): void {
    if (err) this.closeError = err;
    if (err && this.listenerCount('error') > 0) this.destroy(err);
    else this.destroy();
  }

  /** @internal Payload from a DATA frame. Returns false when the readable buffer is over its mark. */
  pushData(data: Buffer): boolean {
    this.counters.bytesIn += data.length;
    this.counters.framesIn++;
    if (data.length === 0) return true;
    this.pushedBytes += data.length;
    return this.push(data);
  }

  /** @internal The peer sent FIN. */
  pushEnd(): void {
    this.push(null);
  }

  /** @internal A frame of ours was written (scheduler callback). */
  onDataWritten(bytes: number, fin: boolean): void {
    this.counters.bytesOut += bytes;
    this.counters.framesOut++;
    if (fin && this.finalCb) {
      const cb = this.finalCb;
      this.finalCb = null;
      cb(null);
    }
  }

  /**
   * Counts what the application took out of the readable buffer. Node calls `_read()` before it removes
   * the bytes a `read()` returns, so consumption is also checked after every `read()`.
   */
  private accountConsumed(): void {
    const consumed = this.pushedBytes - this.readableLength;
    if (consumed > this.consumedBytes) {
      const n = consumed - this.consumedBytes;
      this.consumedBytes = consumed;
      this.owner.consumed(this, n);
    }
    if (this.readableLength < this.readableHighWaterMark) this.owner.wantsData(this);
  }

  override read(size?: number): any {
    const chunk = super.read(size);
    this.accountConsumed();
    return chunk;
  }

  override _read(): void {
    this.accountConsumed();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.state === StreamState.CLOSED) {
      cb(new StreamError(this.id, RstStatus.STREAM_ALREADY_CLOSED, `stream ${this.id} is closed`));
      return;
    }
    this.owner.enqueueData(this, { data: chunk, offset: 0, fin: false, cb });
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    if (this.state === StreamState.CLOSED) {
      cb(new StreamError(this.id, RstStatus.STREAM_ALREADY_CLOSED, `stream ${this.id} is closed`));
      return;
    }
    const last = chunks.length - 1;
    for (let i = 0; i < last; i++) this.owner.enqueueData(this, { data: chunks[i]!.chunk, offset: 0, fin: false, cb: null });
    this.owner.enqueueData(this, { data: chunks[last]!.chunk, offset: 0, fin: false, cb });
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.localFin || this.state === StreamState.CLOSED) {
      cb(null);
      return;
    }
    this.localFin = true;
    this.finalCb = cb;
    this.owner.enqueueData(this, { data: EMPTY, offset: 0, fin: true, cb: null });
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.idleWatch?.stop();
    if (this.state !== StreamState.CLOSED && !this.resetSent) {
      this.resetSent = true;
      const status = err instanceof StreamError ? err.status : RstStatus.CANCEL;
      this.owner.sendReset(this, status);
    }
    if (this.finalCb) {
      const f = this.finalCb;
      this.finalCb = null;
      f(err ?? null);
    }
    this.owner.streamClosed(this);
    cb(err);
  }
}

const EMPTY = Buffer.alloc(0);
