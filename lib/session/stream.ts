/**
 * One SPDY stream as a Node `Duplex` with real backpressure.
 *
 * - Writing queues DATA frames on the stream's own queue in the connection's scheduler; the write
 *   callback runs once the bytes are handed to the socket, so `write()` returns false while the session
 *   cannot send (flow-control window or a full socket).
 * - Every frame of the stream leaves in the order the stream produced it: SYN_REPLY, DATA, HEADERS and
 *   the FIN go through the same queue (HEADERS after the data written before it).
 * - `end()` sends FIN (an empty DATA frame with FLAG_FIN after all queued data, or the HEADERS of
 *   `sendHeaders(h, { fin: true })`).
 * - `destroy()` before both sides sent FIN sends RST_STREAM CANCEL (or the `status` of a
 *   {@link StreamError}); a RST_STREAM from the peer destroys the stream without answering it
 *   (§2.4.2: "To avoid looping, an endpoint MUST NOT send a RST_STREAM in response to a RST_STREAM").
 *   A peer reset other than CANCEL fails the stream with a {@link StreamResetError}.
 * - Reading: DATA payloads are pushed as they arrive. With flow control on, WINDOW_UPDATEs (stream and
 *   session) are sent as the application reads the data, counted in bytes (also with `setEncoding()`),
 *   so a connection buffers at most its session window.
 *
 * Events (besides Duplex's): `'headers' (headers: Headers)` for a HEADERS frame; `'reply' (headers)`
 * when the SYN_REPLY arrives on a stream we created.
 */
import { Duplex } from 'node:stream';
import type { Headers } from '../frames/types.js';
import { FrameType, RstStatus } from '../frames/constants.js';
import { ClosedError, InvalidArgumentError, StreamError, TimeoutError } from '../errors.js';
import { SendWindow, RecvWindow } from './flow.js';
import type { WriteItem } from './writer.js';
import { IdleWatch } from './idle.js';
import { Lifecycle, StreamEvent, StreamState, initialState, type StreamStateValue } from './state.js';

export { StreamState, type StreamStateValue } from './state.js';

/** What a stream needs of its connection (implemented by Connection). @internal */
export interface StreamOwner {
  /** Queues an item on the stream's queue (answering a received stream with SYN_REPLY first). */
  enqueue(stream: Stream, item: WriteItem): void;
  /**
   * Validates and serializes a SYN_REPLY or HEADERS frame (nothing is queued).
   * @throws InvalidArgumentError for invalid headers.
   */
  prepareHeaders(stream: Stream, type: number, headers: Headers, fin: boolean): { item: WriteItem; headers: Headers };
  sendReset(stream: Stream, status: number): void;
  /** The application consumed `n` bytes of this stream (flow control). */
  consumed(stream: Stream, n: number): void;
  /** The application wants more data of this stream (socket backpressure in compatibility mode). */
  wantsData(stream: Stream): void;
  /** Our FIN for this stream was written. */
  finWritten(stream: Stream): void;
  /** The stream was destroyed; `unread` bytes it received were never consumed. */
  streamClosed(stream: Stream, unread: number): void;
}

export interface StreamInit {
  id: number;
  priority: number;
  headers: Headers;
  /** True for a stream this side created. */
  local: boolean;
  /** FLAG_UNIDIRECTIONAL: the recipient does not send. */
  unidirectional: boolean;
  /** A local stream whose SYN_STREAM carries FIN. */
  fin: boolean;
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

const EMPTY = Buffer.alloc(0);

export class Stream extends Duplex {
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
  /** True when the stream was opened with FLAG_UNIDIRECTIONAL: only its creator sends. */
  readonly unidirectional: boolean;
  /** Why the stream ended abnormally (a reset, GOAWAY, connection loss), or null. */
  closeError: Error | null = null;
  /**
   * True once the peer's FIN arrived (§2.2.2 FLAG_FIN): what was read is the whole of what it sent.
   * A readable side that ends without it (a peer RST_STREAM CANCEL after unread data) was cut short.
   */
  finReceived = false;
  /** @internal */ readonly lifecycle: Lifecycle;
  /** @internal */ readonly pending: WriteItem[] = [];
  /** @internal */ readonly sendWindow: SendWindow;
  /** @internal */ readonly recvWindow: RecvWindow;
  /** @internal */ scheduled = false;
  /** @internal A SYN_REPLY was queued (received streams). */
  replyQueued = false;
  /** @internal Our FIN is queued (or we never send): nothing more may be written. */
  finQueued = false;
  /** @internal */ owner: StreamOwner;
  /** @internal */ counters = { bytesIn: 0, bytesOut: 0, framesIn: 0, framesOut: 0 };
  private pushedBytes = 0;
  private consumedBytes = 0;
  private finalCb: ((err?: Error | null) => void) | null = null;
  /** The HEADERS+FIN frame `end()` sends instead of an empty DATA FIN. */
  private finalItem: WriteItem | null = null;
  /** Empty marker chunks written through the Writable to keep HEADERS in order with buffered writes. */
  private markers: Map<Buffer, WriteItem> | null = null;
  private idleWatch: IdleWatch | null = null;

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
    this.unidirectional = init.unidirectional;
    this.lifecycle = new Lifecycle(initialState(init.local, init.unidirectional));
    this.sendWindow = new SendWindow(init.sendWindow);
    this.recvWindow = new RecvWindow(init.recvWindow);
    if (init.unidirectional && !init.local) this.finQueued = true; // we never send on it
    if (init.local && init.fin) {
      this.finQueued = true;
      this.lifecycle.apply(StreamEvent.SENT_FIN); // FIN rides on the SYN_STREAM
    }
  }

  /** The stream's state (SPDY/3.1 §2.3), changed only by its transition table (`state.ts`). */
  get state(): StreamStateValue {
    return this.lifecycle.state;
  }

  /**
   * Answers a received stream with SYN_REPLY (§2.6.2). `headers` defaults to none (what the kubelet
   * sends). With `fin`, our side is closed at once. Nothing happens on a UNIDIRECTIONAL stream (no
   * SYN_REPLY is sent for one) or a closed one.
   * @throws InvalidArgumentError when the stream was created locally, was already answered, or
   *   `headers` are invalid (the stream can still be answered then).
   */
  reply(headers: Headers = {}, options: { fin?: boolean } = {}): void {
    if (this.local) throw new InvalidArgumentError(`stream ${this.id} was created by this side; only a received stream is replied to`);
    if (this.unidirectional) return;
    if (this.replyQueued) throw new InvalidArgumentError(`stream ${this.id} was already replied to`);
    if (this.state === StreamState.CLOSED) return;
    const fin = options.fin === true;
    const { item, headers: sent } = this.owner.prepareHeaders(this, FrameType.SYN_REPLY, headers, fin);
    this.replyQueued = true;
    this.replyHeaders = sent;
    this.owner.enqueue(this, item);
    if (fin) {
      this.finQueued = true;
      this.end();
    }
  }

  /**
   * Sends a HEADERS frame (§2.6.7) after everything written before it; with `fin`, it ends the stream
   * (like `end()`, with HEADERS+FIN as the last frame).
   * @throws ClosedError when the stream is closed for writing; InvalidArgumentError for invalid headers.
   */
  sendHeaders(headers: Headers, options: { fin?: boolean } = {}): void {
    if (this.state === StreamState.CLOSED || this.finQueued || this.writableEnded || this.destroyed) {
      throw new ClosedError(`stream ${this.id} is closed for writing`);
    }
    const fin = options.fin === true;
    const { item } = this.owner.prepareHeaders(this, FrameType.HEADERS, headers, fin);
    if (fin) {
      this.finalItem = item;
      this.end();
    } else {
      // Through the Writable, so it is queued after the chunks still buffered there.
      const marker = Buffer.alloc(0);
      (this.markers ??= new Map()).set(marker, item);
      this.write(marker);
    }
  }

  /**
   * Resets the stream with RST_STREAM `status` (default CANCEL) and destroys it.
   * `status` is an RST_STREAM status (1 PROTOCOL_ERROR … 11 FRAME_TOO_LARGE).
   */
  reset(status: number = RstStatus.CANCEL): void {
    if (this.state !== StreamState.CLOSED) this.owner.sendReset(this, status);
    this.destroy();
  }

  /**
   * Destroys the stream with a {@link TimeoutError} (RST_STREAM CANCEL to the peer) after `ms` without a
   * frame either way. `0` turns it off. One timer per stream, checking four times per period (the
   * stream fails within 1.25 × `ms`); nothing runs per frame. Returns the stream.
   * @throws InvalidArgumentError unless `ms` is a whole number ≥ 0.
   */
  setIdleTimeout(ms: number): this {
    if (!Number.isInteger(ms) || ms < 0) throw new InvalidArgumentError(`idle timeout must be a whole number of ms >= 0, got ${ms}`);
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

  /**
   * @internal Destroys the stream for `err`. `'error'` is emitted only when someone listens for it, so
   * a stream nobody watches can never crash the process; `closeError` keeps the reason either way.
   */
  fail(err: Error | null): void {
    if (err) this.closeError = err;
    if (err && this.listenerCount('error') > 0) this.destroy(err);
    else this.destroy();
  }

  /** @internal The SYN_REPLY of a stream we created arrived. */
  replyReceived(headers: Headers): void {
    this.replyHeaders = headers;
  }

  /** @internal Ended by the peer's RST_STREAM CANCEL: `closeError` says why, no `'error'`. */
  closeQuietly(err: Error): void {
    this.closeError = err;
    this.destroy();
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
    if (fin) {
      this.owner.finWritten(this);
      if (this.finalCb) {
        const cb = this.finalCb;
        this.finalCb = null;
        cb(null);
      }
    }
  }

  /**
   * Bytes still buffered for the reader. `readableLength` counts characters once `setEncoding()` is
   * used, so the buffered strings are measured back in bytes in that case (windows count bytes, §2.6.8).
   */
  private bufferedBytes(): number {
    const enc = this.readableEncoding;
    if (enc === null) return this.readableLength;
    const state = (this as unknown as { _readableState: { buffer: Iterable<Buffer | string | null>; bufferIndex?: number } })._readableState;
    let n = 0;
    let i = 0;
    const from = state.bufferIndex ?? 0;
    for (const c of state.buffer) {
      if (i++ < from || c === null || c === undefined) continue;
      n += typeof c === 'string' ? Buffer.byteLength(c, enc) : c.length;
    }
    return Math.min(n, this.pushedBytes - this.consumedBytes);
  }

  /**
   * Counts what the application took out of the readable buffer. Node calls `_read()` before it removes
   * the bytes a `read()` returns, so consumption is also checked after every `read()`.
   */
  private accountConsumed(): void {
    const consumed = this.pushedBytes - this.bufferedBytes();
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

  private closedForWriting(): Error | null {
    if (this.state === StreamState.CLOSED) return new StreamError(this.id, RstStatus.STREAM_ALREADY_CLOSED, `stream ${this.id} is closed`);
    if (this.finQueued) return new StreamError(this.id, RstStatus.STREAM_ALREADY_CLOSED, `stream ${this.id} is closed for writing`);
    return null;
  }

  /** Writing to a received stream before answering it: answer with an empty SYN_REPLY first. */
  private replyIfNeeded(): void {
    if (this.local || this.replyQueued || this.unidirectional) return;
    const { item, headers } = this.owner.prepareHeaders(this, FrameType.SYN_REPLY, {}, false);
    this.replyQueued = true;
    this.replyHeaders = headers;
    this.owner.enqueue(this, item);
  }

  private itemFor(chunk: Buffer, cb: ((err?: Error | null) => void) | null): WriteItem {
    if (chunk.length === 0 && this.markers !== null) {
      const item = this.markers.get(chunk);
      if (item) {
        this.markers.delete(chunk);
        item.cb = cb;
        return item;
      }
    }
    return { data: chunk, offset: 0, fin: false, cb };
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const err = this.closedForWriting();
    if (err) {
      cb(err);
      return;
    }
    this.replyIfNeeded();
    this.owner.enqueue(this, this.itemFor(chunk, cb));
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    const err = this.closedForWriting();
    if (err) {
      cb(err);
      return;
    }
    this.replyIfNeeded();
    const last = chunks.length - 1;
    for (let i = 0; i < last; i++) this.owner.enqueue(this, this.itemFor(chunks[i]!.chunk, null));
    this.owner.enqueue(this, this.itemFor(chunks[last]!.chunk, cb));
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.finQueued || this.state === StreamState.CLOSED) {
      cb(null);
      return;
    }
    this.replyIfNeeded();
    this.finQueued = true;
    this.finalCb = cb;
    const item = this.finalItem ?? { data: EMPTY, offset: 0, fin: true, cb: null };
    this.finalItem = null;
    this.owner.enqueue(this, item);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.idleWatch?.stop();
    if (this.state !== StreamState.CLOSED) {
      const status = err instanceof StreamError && !err.fromPeer ? err.status : RstStatus.CANCEL;
      this.owner.sendReset(this, status);
    }
    if (this.finalCb) {
      const f = this.finalCb;
      this.finalCb = null;
      f(err ?? null);
    }
    this.markers = null;
    this.owner.streamClosed(this, this.pushedBytes - this.consumedBytes);
    cb(err);
  }
}
