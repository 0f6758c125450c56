/**
 * The write scheduler of one connection (x/net/http2's WriteScheduler shape: open, push, pop, close).
 *
 * - Connection frames (stream 0: SETTINGS, PING, GOAWAY, WINDOW_UPDATE 0) and the frames that must not
 *   wait behind a stream's data (SYN_STREAM, RST_STREAM, a stream's WINDOW_UPDATE) go in one control
 *   queue, written first, in the order queued. SYN_STREAMs stay in that queue so stream ids reach the
 *   wire in increasing order (SPDY/3.1 §2.3.2: "the stream-id MUST increase").
 * - Every other frame that belongs to a stream (SYN_REPLY, HEADERS, DATA, the FIN) goes through that
 *   stream's own queue, in the order the stream produced it: HEADERS+FIN can never overtake queued DATA.
 *   Streams take turns by priority 0 (highest) … 7, round-robin among equal priorities, one frame per
 *   turn, so one busy stream cannot starve the others.
 * - Header blocks are queued serialized and compressed when their frame leaves the queue, so the
 *   peer's shared zlib context sees blocks in wire order (§2.6.10.1: "the compression state is
 *   shared across all frames of one direction of a session"), whatever order the queues drain in.
 * - Bounded: at most `maxQueuedControlFrames` control frames wait (a peer that does not read while it
 *   makes us queue RST_STREAMs, PING echoes or WINDOW_UPDATEs); past it {@link FrameWriter.writeControl}
 *   returns false and the connection is dropped (x/net/http2's `maxQueuedControlFrames`, 10,000).
 *
 * Frames are coalesced: everything ready in one turn is written inside `cork()`/`uncork()` (one
 * `writev`). DATA payloads are never copied: a frame is an 8-byte header plus a `subarray` of the
 * caller's buffer. There are no timers: a flush is scheduled with `process.nextTick` and, when the
 * socket is full, resumed on `'drain'`.
 */
import type { Duplex } from 'node:stream';
import { encodeDataHeader, encodeHeaders, encodeSynReply, encodeSynStream } from '../frames/encoder.js';
import { FLAG_FIN, FrameType } from '../frames/constants.js';
import type { SendWindow } from './flow.js';

/**
 * A frame carrying a header block, queued with its block serialized but not yet compressed.
 * `type` is SYN_STREAM (control queue), SYN_REPLY or HEADERS (the stream's queue).
 */
export interface HeaderFrame {
  type: number;
  streamId: number;
  flags: number;
  /** The serialized (uncompressed) header block. */
  block: Buffer;
  /** SYN_STREAM only. */
  priority?: number;
}

/**
 * One item of a stream's queue: DATA (`data` from `offset`, FIN on the last frame when `fin`), or a
 * SYN_REPLY / HEADERS frame when `header` is set (then `data` is empty and `fin` mirrors its FLAG_FIN).
 * `cb` runs once all of it is
 * handed to the socket (or with an error when the stream is dropped).
 */
export interface WriteItem {
  data: Buffer;
  offset: number;
  fin: boolean;
  cb: ((err?: Error | null) => void) | null;
  header?: HeaderFrame;
}

/** What the scheduler needs of a stream. */
export interface Sendable {
  readonly id: number;
  readonly priority: number;
  readonly pending: WriteItem[];
  readonly sendWindow: SendWindow;
  /** True while the stream sits in a priority ring. */
  scheduled: boolean;
  /** Called after a frame of this stream was written (for stats; `fin` when it carried FLAG_FIN). */
  onDataWritten(bytes: number, fin: boolean): void;
}

export interface WriterOptions {
  /** When false (compatibility mode), windows are counted but never waited on. Changed by {@link FrameWriter.setFlowControl}. */
  flowControl: boolean;
  /** Largest DATA payload written in one frame, bytes. */
  maxDataFrameSize: number;
  /** The session send window (WINDOW_UPDATE on stream 0). */
  sessionWindow: SendWindow;
  /** Compresses one serialized header block with the connection's shared compressor (in wire order). */
  compressBlock: (block: Buffer) => Buffer;
  /** Most control frames waiting to be written; past it `writeControl` returns false. Default 10000. */
  maxQueuedControlFrames?: number;
  /** Called for every frame handed to the socket with its length and frame type (DATA = 0) — for stats. */
  onWrite?: (bytes: number, type: number) => void;
  /** Called for every DATA frame written, when set (debug logs only: leave unset otherwise). */
  onData?: (streamId: number, length: number, fin: boolean) => void;
  /** Called when writing a frame failed (compression): the connection must fail. */
  onError?: (err: unknown) => void;
}

/** Bytes of DATA written per turn before yielding to I/O with setImmediate. */
const TURN_BUDGET = 4 * 1024 * 1024;
/**
 * Bytes buffered in the socket past which the scheduler waits for 'drain'. About one DATA frame: Node
 * emits 'drain' only once its whole buffer is in the kernel, so a larger backlog empties the pipe before
 * each refill. One stream of 256 MiB over a loopback pair, compatibility mode, same run: 1 MiB 0.81× raw
 * TCP, 512 KiB 1.37×, 256 KiB 1.52×, 128 KiB 1.48×, 64 KiB 1.75× (with flow control 1.17×, 1.11×, 1.07×,
 * 1.21×, 1.25×). It is also what the writer holds in user space beyond the streams' own queues.
 */
const SOCKET_BUFFER_LIMIT = 256 * 1024;
/** Default {@link WriterOptions.maxQueuedControlFrames}. */
export const DEFAULT_MAX_QUEUED_CONTROL_FRAMES = 10000;

type ControlEntry = Buffer | HeaderFrame;

export class FrameWriter {
  private readonly socket: Duplex;
  private readonly opts: WriterOptions;
  private control: ControlEntry[] = [];
  /** Encoded frames in `control` (our own SYN_STREAMs are not counted: see `writeControl`). */
  private controlFrames = 0;
  private readonly maxControl: number;
  private readonly rings: Sendable[][] = [[], [], [], [], [], [], [], []];
  private flushScheduled = false;
  private waitingDrain = false;
  private closed = false;
  private immediate: NodeJS.Immediate | null = null;
  private readonly onDrain = (): void => {
    this.waitingDrain = false;
    this.flush();
  };
  private readonly flushTick = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  constructor(socket: Duplex, opts: WriterOptions) {
    this.socket = socket;
    this.opts = { ...opts };
    this.maxControl = opts.maxQueuedControlFrames ?? DEFAULT_MAX_QUEUED_CONTROL_FRAMES;
  }

  /** Control frames waiting that count towards `maxQueuedControlFrames` (SYN_STREAMs of our own do not). */
  get controlQueued(): number {
    return this.controlFrames;
  }

  /**
   * Queues one control frame (an encoded frame, or a SYN_STREAM whose block is compressed on the way
   * out). Returns false, queuing nothing, when `maxQueuedControlFrames` encoded frames already wait:
   * the peer is not reading and the connection should be dropped. Our own SYN_STREAMs never count
   * (nor are refused): the application creates them, bounded by its own calls and the peer's
   * MAX_CONCURRENT_STREAMS, and 10,000 `createStream` calls in one tick are not a peer that stopped
   * reading.
   */
  writeControl(frame: ControlEntry): boolean {
    if (this.closed) return true;
    if (Buffer.isBuffer(frame)) {
      if (this.controlFrames >= this.maxControl) return false;
      this.controlFrames++;
    }
    this.control.push(frame);
    this.schedule();
    return true;
  }

  /** Queues an item (DATA, FIN, SYN_REPLY or HEADERS) on a stream's queue. */
  enqueue(s: Sendable, item: WriteItem): void {
    if (this.closed) {
      item.cb?.(null);
      return;
    }
    s.pending.push(item);
    this.wake(s);
  }

  /** Puts a stream back into its ring (after a WINDOW_UPDATE or new data). */
  wake(s: Sendable): void {
    if (s.scheduled || s.pending.length === 0) return;
    if (this.opts.flowControl && !this.canSend(s)) return;
    s.scheduled = true;
    this.rings[s.priority]!.push(s);
    this.schedule();
  }

  /** Wakes every stream with pending data (after the session window grew, or SETTINGS). */
  wakeAll(streams: Iterable<Sendable>): void {
    for (const s of streams) this.wake(s);
  }

  /** Drops a stream's queue (RST_STREAM): nothing more of it is written; callbacks get `err`. */
  drop(s: Sendable, err: Error | null): void {
    if (s.scheduled) {
      const ring = this.rings[s.priority]!;
      const i = ring.indexOf(s);
      if (i >= 0) ring.splice(i, 1);
      s.scheduled = false;
    }
    const items = s.pending.splice(0);
    for (const it of items) it.cb?.(err);
  }

  /** Starts (or stops) waiting on windows: `flowControl: 'auto'` switching on. Streams stalled on a window are woken by WINDOW_UPDATEs. */
  setFlowControl(on: boolean): void {
    this.opts.flowControl = on;
  }

  /** True while the socket is over its buffer and the scheduler waits for 'drain'. */
  get blocked(): boolean {
    return this.waitingDrain;
  }

  /** Stops writing; later writes are dropped. */
  close(): void {
    this.closed = true;
    this.control = [];
    this.controlFrames = 0;
    for (const ring of this.rings) ring.length = 0;
    if (this.immediate) clearImmediate(this.immediate);
    this.socket.off('drain', this.onDrain);
  }

  /** Writes whatever is queued now, synchronously (used before ending the socket). */
  flushNow(): void {
    this.waitingDrain = false;
    this.flush();
  }

  private canSend(s: Sendable): boolean {
    const head = s.pending[0];
    if (!head) return false;
    const remaining = head.data.length - head.offset;
    if (remaining === 0) return true; // header frames and an empty DATA (FIN) need no window (§2.6.8)
    return s.sendWindow.size > 0 && this.opts.sessionWindow.size > 0;
  }

  private schedule(): void {
    if (this.flushScheduled || this.waitingDrain || this.closed) return;
    this.flushScheduled = true;
    process.nextTick(this.flushTick);
  }

  /** Compresses and encodes a header frame now (it is about to be written). */
  private encodeHeaderFrame(h: HeaderFrame): Buffer {
    const block = this.opts.compressBlock(h.block);
    if (h.type === FrameType.SYN_STREAM) {
      return encodeSynStream({ streamId: h.streamId, associatedStreamId: 0, priority: h.priority ?? 0, slot: 0, flags: h.flags, headerBlock: block });
    }
    return h.type === FrameType.SYN_REPLY ? encodeSynReply(h.streamId, h.flags, block) : encodeHeaders(h.streamId, h.flags, block);
  }

  private flush(): void {
    if (this.closed || this.waitingDrain) return;
    try {
      this.flushTurn();
    } catch (err) {
      // Only compression can throw here; the shared zlib context is then unusable: fail the connection.
      this.close();
      this.opts.onError?.(err);
    }
  }

  private flushTurn(): void {
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) return;
    const control = this.control;
    let budget = TURN_BUDGET;
    let corked = false;
    if (control.length > 0) {
      socket.cork();
      corked = true;
      this.control = [];
      this.controlFrames = 0;
      for (const entry of control) {
        const frame = Buffer.isBuffer(entry) ? entry : this.encodeHeaderFrame(entry);
        socket.write(frame);
        this.opts.onWrite?.(frame.length, frame.readUInt16BE(2)); // control type: bytes 2–3 of the header
      }
    }
    const flow = this.opts.flowControl;
    const session = this.opts.sessionWindow;
    for (let p = 0; p < 8 && budget > 0; ) {
      const ring = this.rings[p]!;
      const s = ring.shift();
      if (!s) {
        p++;
        continue;
      }
      s.scheduled = false;
      const item = s.pending[0];
      if (!item) continue;
      if (!corked) {
        socket.cork();
        corked = true;
      }
      if (item.header !== undefined) {
        const frame = this.encodeHeaderFrame(item.header);
        socket.write(frame);
        this.opts.onWrite?.(frame.length, item.header.type);
        budget -= frame.length;
        s.pending.shift();
        item.cb?.(null);
        s.onDataWritten(0, item.fin);
      } else {
        let len = item.data.length - item.offset;
        if (len > this.opts.maxDataFrameSize) len = this.opts.maxDataFrameSize;
        if (flow && len > 0) {
          const win = Math.min(s.sendWindow.size, session.size);
          if (win <= 0) continue; // woken again by a WINDOW_UPDATE
          if (len > win) len = win;
        }
        const last = item.offset + len === item.data.length;
        const fin = last && item.fin;
        socket.write(encodeDataHeader(s.id, fin ? FLAG_FIN : 0, len));
        if (len > 0) {
          socket.write(
            item.offset === 0 && len === item.data.length ? item.data : item.data.subarray(item.offset, item.offset + len),
          );
        }
        this.opts.onWrite?.(8 + len, 0);
        this.opts.onData?.(s.id, len, fin);
        item.offset += len;
        s.sendWindow.size -= len;
        session.size -= len;
        budget -= len + 8;
        if (last) {
          s.pending.shift();
          item.cb?.(null);
        }
        s.onDataWritten(len, fin);
      }
      if (s.pending.length > 0 && (!flow || this.canSend(s))) {
        s.scheduled = true;
        ring.push(s);
      }
      if (socket.writableLength >= SOCKET_BUFFER_LIMIT) break;
    }
    if (corked) socket.uncork();
    if (socket.writableNeedDrain && socket.writableLength >= SOCKET_BUFFER_LIMIT) {
      this.waitingDrain = true;
      socket.once('drain', this.onDrain);
      return;
    }
    if (this.rings.some((r) => r.length > 0)) {
      // Yield to I/O before the next turn so reads (WINDOW_UPDATEs, PINGs) are not starved.
      if (!this.immediate) {
        this.immediate = setImmediate(() => {
          this.immediate = null;
          this.flush();
        });
      }
    }
  }
}
