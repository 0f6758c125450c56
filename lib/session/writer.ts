/**
 * The write scheduler of one connection: control frames first (in the order queued, so header blocks
 * reach the wire in the order they were compressed), then DATA by priority 0 (highest) … 7, round-robin
 * among streams of equal priority, one frame per turn, so one busy stream cannot starve the others.
 *
 * Frames are coalesced: everything that is ready in one turn is written inside `cork()`/`uncork()`, which
 * Node turns into one `writev`. DATA payloads are never copied: a frame is an 8-byte header plus a
 * `subarray` of the caller's buffer. There are no timers: a flush is scheduled with `process.nextTick`
 * and, when the socket is full, resumed on `'drain'`.
 */
import type { Duplex } from 'node:stream';
import { encodeDataHeader } from '../frames/encoder.js';
import { FLAG_FIN } from '../frames/constants.js';
import type { SendWindow } from './flow.js';

/** One chunk a stream asked to send. `cb` runs once all its bytes are handed to the socket. */
export interface WriteItem {
  data: Buffer;
  offset: number;
  fin: boolean;
  cb: ((err?: Error | null) => void) | null;
}

/** What the scheduler needs of a stream. */
export interface Sendable {
  readonly id: number;
  readonly priority: number;
  readonly pending: WriteItem[];
  readonly sendWindow: SendWindow;
  /** True while the stream sits in a priority ring. */
  scheduled: boolean;
  /** Called after a frame of this stream was written (for stats, FIN state). */
  onDataWritten(bytes: number, fin: boolean): void;
}

export interface WriterOptions {
  /** When false (compatibility mode), windows are counted but never waited on. Changed by {@link FrameWriter.setFlowControl}. */
  flowControl: boolean;
  /** Largest DATA payload written in one frame, bytes. */
  maxDataFrameSize: number;
  /** The session send window (WINDOW_UPDATE on stream 0). */
  sessionWindow: SendWindow;
  /** Called for every frame handed to the socket with its length and frame type (DATA = 0) — for stats. */
  onWrite?: (bytes: number, type: number) => void;
  /** Called for every DATA frame written, when set (debug logs only: leave unset otherwise). */
  onData?: (streamId: number, length: number, fin: boolean) => void;
}

/** Bytes of DATA written per turn before yielding to I/O with setImmediate. */
const TURN_BUDGET = 4 * 1024 * 1024;
/** Bytes buffered in the socket past which the scheduler waits for 'drain'. */
const SOCKET_BUFFER_LIMIT = 1024 * 1024;

export class FrameWriter {
  private readonly socket: Duplex;
  private readonly opts: WriterOptions;
  private control: Buffer[] = [];
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
  }

  /** Bytes of control frames waiting. */
  get controlQueued(): number {
    let n = 0;
    for (const b of this.control) n += b.length;
    return n;
  }

  /** Queues one encoded control frame. */
  writeControl(frame: Buffer): void {
    if (this.closed) return;
    this.control.push(frame);
    this.schedule();
  }

  /** Queues a chunk for a stream. */
  enqueue(s: Sendable, item: WriteItem): void {
    if (this.closed) {
      item.cb?.(new Error('connection closed'));
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

  /** Drops a stream's pending data (RST_STREAM); callbacks get `err`. */
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
    for (const ring of this.rings) ring.length = 0;
    if (this.immediate) clearImmediate(this.immediate);
    this.socket.off('drain', this.onDrain);
  }

  /** Writes whatever is queued now, synchronously (used before ending the socket). */
  flushNow(): void {
    this.flush();
  }

  private canSend(s: Sendable): boolean {
    const head = s.pending[0];
    if (!head) return false;
    const remaining = head.data.length - head.offset;
    if (remaining === 0) return true; // empty DATA (FIN) needs no window (§2.6.8)
    return s.sendWindow.size > 0 && this.opts.sessionWindow.size > 0;
  }

  private schedule(): void {
    if (this.flushScheduled || this.waitingDrain || this.closed) return;
    this.flushScheduled = true;
    process.nextTick(this.flushTick);
  }

  private flush(): void {
    if (this.closed || this.waitingDrain) return;
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) return;
    const control = this.control;
    let budget = TURN_BUDGET;
    let corked = false;
    if (control.length > 0) {
      socket.cork();
      corked = true;
      this.control = [];
      for (const frame of control) {
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
      let len = item.data.length - item.offset;
      if (len > this.opts.maxDataFrameSize) len = this.opts.maxDataFrameSize;
      if (flow && len > 0) {
        const win = Math.min(s.sendWindow.size, session.size);
        if (win <= 0) continue; // woken again by a WINDOW_UPDATE
        if (len > win) len = win;
      }
      const last = item.offset + len === item.data.length;
      const fin = last && item.fin;
      if (!corked) {
        socket.cork();
        corked = true;
      }
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
