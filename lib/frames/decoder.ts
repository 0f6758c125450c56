/**
 * SPDY/3.1 incremental frame decoder: a small state machine over a list of input chunks (the shape of
 * ws's Receiver). No I/O, no timers, no zlib: header blocks are returned still compressed.
 *
 *   const dec = new FrameDecoder();
 *   socket.on('data', (chunk) => {
 *     dec.push(chunk);
 *     for (let f = dec.next(); f !== null; f = dec.next()) handle(f);
 *   });
 *
 * Limits are checked from the 8-byte frame header, before any payload byte is buffered. Protocol
 * violations throw `SessionError(GoawayStatus.PROTOCOL_ERROR, …)`; the decoder is then dead and every
 * later `next()` throws the same error. Semantic rules (delta 0, status 0, stream-id parity, …) are
 * the session's: values are decoded as they are on the wire.
 */
import { InvalidArgumentError, SessionError } from '../errors.js';
import { FRAME_HEADER_SIZE, FrameType, GoawayStatus, MAX_FRAME_LENGTH, SPDY_VERSION, frameTypeName } from './constants.js';
import type { Frame, SettingsEntry, UnknownFrame } from './types.js';

/** Default {@link FrameDecoderOptions.maxControlFrameSize}: 1 MiB. */
export const DEFAULT_MAX_CONTROL_FRAME_SIZE = 1048576;
/**
 * Smallest accepted `maxControlFrameSize` (SPDY/3 §2.2.1): implementations may limit the control-frame
 * length but must be able to receive control frames of at least 8192 octets.
 */
export const MIN_MAX_CONTROL_FRAME_SIZE = 8192;
/** Default {@link FrameDecoderOptions.maxSettingsEntries}. */
export const DEFAULT_MAX_SETTINGS_ENTRIES = 64;

export interface FrameDecoderOptions {
  /**
   * Largest control-frame payload accepted (the header's 24-bit length), bytes.
   * Default 1048576 (1 MiB); at least 8192 (the spec's minimum), at most 2^24-1.
   * Unknown, NOOP and CREDENTIAL frames are exempt: they are discarded as they arrive, never buffered.
   */
  maxControlFrameSize?: number;
  /** Largest DATA payload accepted, bytes. Default 2^24-1 (no limit beyond the wire's); 0..2^24-1. */
  maxDataFrameSize?: number;
  /** Most SETTINGS entries accepted in one frame. Default 64; 0..2097151 (what a 2^24-1 length can hold). */
  maxSettingsEntries?: number;
}

const EMPTY = Buffer.alloc(0);
const MASK31 = 0x7fffffff;

/** Decoder states. */
const State = {
  /** Waiting for an 8-byte frame header. */
  Header: 0,
  /** Waiting for `length` payload bytes of a DATA or known control frame. */
  Payload: 1,
  /** Discarding `skipRemaining` bytes of an unknown control frame. */
  Skip: 2,
} as const;
type StateValue = (typeof State)[keyof typeof State];

/** A control-frame payload parser: a pure function of the header's flags and the exact payload. */
type Parser = (flags: number, p: Buffer) => Frame;

function protocolError(message: string): SessionError {
  return new SessionError(GoawayStatus.PROTOCOL_ERROR, message);
}

/**
 * Reads "X · stream-id(31)" at `offset` and rejects stream id 0 for frames that name a stream
 * (SPDY/3.1 §2.3.2 Stream creation: stream ids start at 1, odd for the client, even for the server;
 * only WINDOW_UPDATE uses 0, for the session, §2.6.8).
 */
function streamId(p: Buffer, offset: number, type: number): number {
  const id = p.readUInt32BE(offset) & MASK31;
  if (id === 0) {
    throw protocolError(`${frameTypeName[type]} with stream id 0`);
  }
  return id;
}

/**
 * Payload parsers by control type (x/net's frameParsers). Lengths were already checked against the
 * header (see {@link checkControlLength}), so every parser may read its fixed fields.
 */
const parsers: Record<number, Parser> = {
  [FrameType.SYN_STREAM]: (flags, p) => ({
    type: FrameType.SYN_STREAM,
    streamId: streamId(p, 0, FrameType.SYN_STREAM),
    associatedStreamId: p.readUInt32BE(4) & MASK31,
    priority: p[8] >> 5,
    slot: p[9],
    flags,
    headerBlock: p.subarray(10),
  }),
  [FrameType.SYN_REPLY]: (flags, p) => ({
    type: FrameType.SYN_REPLY,
    streamId: streamId(p, 0, FrameType.SYN_REPLY),
    flags,
    headerBlock: p.subarray(4),
  }),
  [FrameType.RST_STREAM]: (flags, p) => ({
    type: FrameType.RST_STREAM,
    streamId: streamId(p, 0, FrameType.RST_STREAM),
    flags,
    status: p.readUInt32BE(4),
  }),
  [FrameType.SETTINGS]: (flags, p) => {
    // §2.6.4 "Number of entries: A 32-bit value representing the number of ID/value pairs in this message."
    const count = p.readUInt32BE(0);
    if (4 + 8 * count !== p.length) {
      throw protocolError(`SETTINGS count ${count} does not match its length ${p.length} (expected 4 + 8 × count)`);
    }
    const entries: SettingsEntry[] = new Array<SettingsEntry>(count);
    for (let i = 0, pos = 4; i < count; i++, pos += 8) {
      entries[i] = { id: p.readUInt32BE(pos) & 0xffffff, flags: p[pos], value: p.readUInt32BE(pos + 4) };
    }
    return { type: FrameType.SETTINGS, flags, entries };
  },
  [FrameType.PING]: (flags, p) => ({ type: FrameType.PING, flags, id: p.readUInt32BE(0) }),
  [FrameType.GOAWAY]: (flags, p) => ({
    type: FrameType.GOAWAY,
    flags,
    lastGoodStreamId: p.readUInt32BE(0) & MASK31,
    status: p.readUInt32BE(4),
  }),
  [FrameType.HEADERS]: (flags, p) => ({
    type: FrameType.HEADERS,
    streamId: streamId(p, 0, FrameType.HEADERS),
    flags,
    headerBlock: p.subarray(4),
  }),
  [FrameType.WINDOW_UPDATE]: (flags, p) => ({
    type: FrameType.WINDOW_UPDATE,
    streamId: p.readUInt32BE(0) & MASK31,
    flags,
    delta: p.readUInt32BE(4) & MASK31,
  }),
};

/** Exact payload length of the fixed-size control frames: §2.6.3 RST_STREAM, §2.6.5 PING, §2.6.6 GOAWAY, §2.6.8 WINDOW_UPDATE. */
const fixedLength: Record<number, number> = {
  [FrameType.RST_STREAM]: 8,
  [FrameType.PING]: 4,
  [FrameType.GOAWAY]: 8,
  [FrameType.WINDOW_UPDATE]: 8,
};

/** Minimum payload length of the header-carrying control frames: §2.6.1 SYN_STREAM, §2.6.2 SYN_REPLY, §2.6.7 HEADERS. */
const minLength: Record<number, number> = {
  [FrameType.SYN_STREAM]: 10,
  [FrameType.SYN_REPLY]: 4,
  [FrameType.HEADERS]: 4,
};

function checkLimit(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}, got ${value}`);
  }
  return value;
}

/**
 * Incremental SPDY/3.1 frame decoder. Feed bytes with {@link push}, take frames with {@link next}.
 * DATA payloads and header blocks are `subarray` views of the pushed chunks when they lie in one
 * chunk, copies only when they span chunks: do not reuse a pushed buffer while its frames are in use.
 */
export class FrameDecoder {
  private readonly maxControlFrameSize: number;
  private readonly maxDataFrameSize: number;
  private readonly maxSettingsEntries: number;

  private readonly chunks: Buffer[] = [];
  /** Index of the first live chunk in `chunks`. */
  private head = 0;
  /** Read offset inside `chunks[head]`. */
  private offset = 0;
  private buffered = 0;

  private state: StateValue = State.Header;
  private error: SessionError | null = null;
  private readonly scratch = Buffer.allocUnsafe(FRAME_HEADER_SIZE);

  // Header of the frame being read.
  private control = false;
  private type = 0;
  private version = 0;
  private flags = 0;
  private length = 0;
  private dataStreamId = 0;
  private skipRemaining = 0;

  /**
   * @throws InvalidArgumentError when `maxControlFrameSize` is below 8192 or above 2^24-1, or another limit
   *   is out of its range.
   */
  constructor(options: FrameDecoderOptions = {}) {
    const o = options;
    this.maxControlFrameSize = checkLimit('maxControlFrameSize', o.maxControlFrameSize ?? DEFAULT_MAX_CONTROL_FRAME_SIZE, MIN_MAX_CONTROL_FRAME_SIZE, MAX_FRAME_LENGTH);
    this.maxDataFrameSize = checkLimit('maxDataFrameSize', o.maxDataFrameSize ?? MAX_FRAME_LENGTH, 0, MAX_FRAME_LENGTH);
    this.maxSettingsEntries = checkLimit('maxSettingsEntries', o.maxSettingsEntries ?? DEFAULT_MAX_SETTINGS_ENTRIES, 0, (MAX_FRAME_LENGTH - 7) / 8);
  }

  /** Bytes pushed and not yet consumed by a returned frame (skipped bytes are never buffered). */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /**
   * Appends a chunk of input. While an unknown frame is being skipped its bytes are dropped here,
   * without being buffered. After an error the input is ignored.
   */
  push(chunk: Buffer): void {
    if (this.error !== null || chunk.length === 0) return;
    if (this.state === State.Skip && this.skipRemaining > 0) {
      // buffered is 0 here: next() discarded everything before entering this state's wait.
      const n = Math.min(this.skipRemaining, chunk.length);
      this.skipRemaining -= n;
      if (n === chunk.length) return;
      chunk = chunk.subarray(n);
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /**
   * Returns the next complete frame, or null when more bytes are needed. Each frame is returned once.
   * @throws SessionError (status PROTOCOL_ERROR) on a protocol violation; the same error again on every
   *   later call.
   */
  next(): Frame | null {
    if (this.error !== null) throw this.error;
    try {
      return this.step();
    } catch (err) {
      if (err instanceof SessionError) {
        this.error = err;
        this.chunks.length = 0;
        this.head = this.offset = this.buffered = 0;
      }
      throw err;
    }
  }

  private step(): Frame | null {
    if (this.state === State.Header) {
      if (this.buffered < FRAME_HEADER_SIZE) return null;
      this.readHeader();
    }
    if (this.state === State.Skip) {
      const n = Math.min(this.skipRemaining, this.buffered);
      this.discard(n);
      this.skipRemaining -= n;
      if (this.skipRemaining > 0) return null;
      this.state = State.Header;
      const unknown: UnknownFrame = { type: -1, frameType: this.type, version: this.version, flags: this.flags, length: this.length };
      return unknown;
    }
    // State.Payload
    if (this.buffered < this.length) return null;
    const payload = this.length === 0 ? EMPTY : this.consume(this.length);
    this.state = State.Header;
    if (!this.control) {
      return { type: FrameType.DATA, streamId: this.dataStreamId, flags: this.flags, data: payload };
    }
    return parsers[this.type]!(this.flags, payload);
  }

  /** Consumes and validates the 8-byte header; sets the next state. */
  private readHeader(): void {
    let h: Buffer;
    let o: number;
    const first = this.chunks[this.head];
    if (first.length - this.offset >= FRAME_HEADER_SIZE) {
      h = first;
      o = this.offset;
      this.discard(FRAME_HEADER_SIZE);
    } else {
      h = this.scratch;
      o = 0;
      this.copyOut(h, FRAME_HEADER_SIZE);
    }
    const word0 = h.readUInt32BE(o);
    const flags = h[o + 4];
    const length = h.readUInt32BE(o + 4) & 0xffffff;
    this.flags = flags;
    this.length = length;

    if ((word0 & 0x80000000) === 0) {
      // DATA: C=0 · stream-id(31) · flags(8) · length(24).
      this.control = false;
      this.type = FrameType.DATA;
      this.dataStreamId = word0 & 0x7fffffff;
      // §2.2.2 Data frames / §2.3.2: a DATA frame belongs to a stream; id 0 is none.
      if (this.dataStreamId === 0) throw protocolError('DATA frame with stream id 0');
      if (length > this.maxDataFrameSize) {
        throw protocolError(`DATA frame length ${length} exceeds the limit of ${this.maxDataFrameSize} bytes`);
      }
      this.state = State.Payload;
      return;
    }

    // Control: C=1 · version(15) · type(16) · flags(8) · length(24).
    this.control = true;
    this.version = (word0 >>> 16) & 0x7fff;
    this.type = word0 & 0xffff;
    // §2.2.1 Control frames: the version field is 3 (SPDY/3.1 is negotiated by the Upgrade header, not here).
    if (this.version !== SPDY_VERSION) {
      throw protocolError(`control frame version ${this.version}, expected ${SPDY_VERSION}`);
    }
    if (parsers[this.type] === undefined) {
      // NOOP (removed in SPDY/3), CREDENTIAL (deprecated in 3.1: skip its payload, never send) and
      // unknown types are ignored: their bytes are discarded as they arrive and the session is told.
      this.state = State.Skip;
      this.skipRemaining = length;
      return;
    }
    this.checkControlLength(this.type, length);
    this.state = State.Payload;
  }

  /** Length rules known from the header alone, checked before the payload is buffered. */
  private checkControlLength(type: number, length: number): void {
    const name = frameTypeName[type];
    // §2.2.1: a receiver may cap control frames (at no less than 8192 bytes): checked from the header alone.
    if (length > this.maxControlFrameSize) {
      throw protocolError(`${name} frame length ${length} exceeds the limit of ${this.maxControlFrameSize} bytes`);
    }
    const fixed = fixedLength[type];
    if (fixed !== undefined && length !== fixed) {
      throw protocolError(`${name} frame length ${length}, must be ${fixed}`);
    }
    const min = minLength[type];
    if (min !== undefined && length < min) {
      throw protocolError(`${name} frame length ${length}, must be at least ${min}`);
    }
    if (type === FrameType.SETTINGS) {
      // §2.6.4 SETTINGS: a 32-bit count, then 8 bytes per ID/value pair.
      if (length < 4 || (length - 4) % 8 !== 0) {
        throw protocolError(`SETTINGS frame length ${length}, must be 4 + 8 × entries`);
      }
      if ((length - 4) / 8 > this.maxSettingsEntries) {
        throw protocolError(`SETTINGS frame with ${(length - 4) / 8} entries exceeds the limit of ${this.maxSettingsEntries}`);
      }
    }
  }

  /** Takes `n` buffered bytes: a view when they lie in one chunk, else a copy. `n <= buffered`. */
  private consume(n: number): Buffer {
    const first = this.chunks[this.head];
    if (first.length - this.offset >= n) {
      const view = first.subarray(this.offset, this.offset + n);
      this.discard(n);
      return view;
    }
    const out = Buffer.allocUnsafe(n);
    this.copyOut(out, n);
    return out;
  }

  /** Copies the next `n` buffered bytes into `dst` and consumes them. */
  private copyOut(dst: Buffer, n: number): void {
    let written = 0;
    while (written < n) {
      const c = this.chunks[this.head];
      const take = Math.min(n - written, c.length - this.offset);
      c.copy(dst, written, this.offset, this.offset + take);
      written += take;
      this.discard(take);
    }
  }

  /** Drops the next `n` buffered bytes (`n <= buffered`). */
  private discard(n: number): void {
    this.buffered -= n;
    while (n > 0) {
      const c = this.chunks[this.head];
      const avail = c.length - this.offset;
      if (n < avail) {
        this.offset += n;
        return;
      }
      n -= avail;
      this.chunks[this.head++] = EMPTY;
      this.offset = 0;
    }
    if (this.head === this.chunks.length) {
      this.chunks.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.chunks.length) {
      this.chunks.splice(0, this.head);
      this.head = 0;
    }
  }
}
