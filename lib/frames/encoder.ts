/**
 * SPDY/3.1 frame encoder: pure functions, no I/O, no zlib. Header blocks are passed in already
 * compressed (see `lib/compression`); the session compresses them in wire order.
 *
 * Every control-frame encoder makes exactly one allocation (`Buffer.allocUnsafe` of the exact frame
 * size) and fills every byte of it. DATA is returned as `[header, payload]` so the payload is never
 * copied: write both with `socket.cork()` / `uncork()` (one `writev`).
 *
 * Reserved bits ("X" in the spec, in front of every 31-bit id and of the WINDOW_UPDATE delta) are
 * written as 0. Arguments that cannot be represented on the wire throw `InvalidArgumentError` (`ERR_INVALID_ARG`); semantic rules
 * (stream id 0 on SYN_STREAM, delta 0, status 0, …) are the session's business, so a test can still
 * build an invalid-but-encodable frame.
 */
import { InvalidArgumentError } from '../errors.js';
import {
  FRAME_HEADER_SIZE,
  FrameType,
  MAX_FRAME_LENGTH,
  MAX_STREAM_ID,
  SPDY_VERSION,
  frameTypeName,
} from './constants.js';
import type {
  DataFrame,
  Frame,
  GoawayFrame,
  HeadersFrame,
  PingFrame,
  RstStreamFrame,
  SettingsEntry,
  SettingsFrame,
  SynReplyFrame,
  SynStreamFrame,
  WindowUpdateFrame,
} from './types.js';

const MAX_UINT32 = 0xffffffff;
const MAX_UINT24 = 0xffffff;

function check(name: string, value: number, max: number, min = 0): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}, got ${value}`);
  }
}

/** Checks a 31-bit field ("X" bit + 31 bits): 0..2^31-1. */
function check31(name: string, value: number): void {
  check(name, value, MAX_STREAM_ID);
}

/**
 * Allocates a control frame of `FRAME_HEADER_SIZE + length` bytes and writes its header:
 * C=1 · version(15)=3 · type(16) · flags(8) · length(24).
 */
function controlFrame(type: number, flags: number, length: number): Buffer {
  check('flags', flags, 0xff);
  if (length > MAX_FRAME_LENGTH) {
    throw new InvalidArgumentError(`${frameTypeName[type]} frame length ${length} exceeds ${MAX_FRAME_LENGTH} bytes`);
  }
  const buf = Buffer.allocUnsafe(FRAME_HEADER_SIZE + length);
  buf.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  buf.writeUInt16BE(type, 2);
  buf.writeUInt32BE(((flags << 24) | length) >>> 0, 4);
  return buf;
}

/**
 * The 8-byte header of a DATA frame: C=0 · stream-id(31) · flags(8) · length(24).
 * @param streamId 0..2^31-1 (0 is encodable but invalid on the wire: the decoder rejects it).
 * @param flags 0..255 (FLAG_FIN = 0x01).
 * @param length payload length in bytes, 0..2^24-1.
 * @throws InvalidArgumentError for values outside those ranges.
 */
export function encodeDataHeader(streamId: number, flags: number, length: number): Buffer {
  check31('stream id', streamId);
  check('flags', flags, 0xff);
  check('DATA length', length, MAX_FRAME_LENGTH);
  const buf = Buffer.allocUnsafe(FRAME_HEADER_SIZE);
  buf.writeUInt32BE(streamId, 0);
  buf.writeUInt32BE(((flags << 24) | length) >>> 0, 4);
  return buf;
}

/**
 * A DATA frame as `[header, data]`; `data` is the caller's buffer itself (not copied).
 * @throws InvalidArgumentError when `data.length > 2^24-1` or the id/flags are out of range.
 */
export function encodeData(streamId: number, flags: number, data: Buffer): [Buffer, Buffer] {
  return [encodeDataHeader(streamId, flags, data.length), data];
}

/**
 * SYN_STREAM (type 1): X·stream-id(31) · X·associated-stream-id(31) · priority(3)·unused(5) ·
 * slot(8) · compressed header block. Length = 10 + block.
 * @throws InvalidArgumentError for ids outside 31 bits, priority outside 0..7, slot outside 0..255, flags
 *   outside 0..255, or a frame longer than 2^24-1.
 */
export function encodeSynStream(f: Omit<SynStreamFrame, 'type'>): Buffer {
  check31('stream id', f.streamId);
  check31('associated stream id', f.associatedStreamId);
  check('priority', f.priority, 7);
  check('slot', f.slot, 0xff);
  const buf = controlFrame(FrameType.SYN_STREAM, f.flags, 10 + f.headerBlock.length);
  buf.writeUInt32BE(f.streamId, 8);
  buf.writeUInt32BE(f.associatedStreamId, 12);
  buf[16] = f.priority << 5;
  buf[17] = f.slot;
  f.headerBlock.copy(buf, 18);
  return buf;
}

/** SYN_REPLY / HEADERS share one layout: X·stream-id(31) · compressed header block. */
function streamHeaderFrame(type: number, streamId: number, flags: number, headerBlock: Buffer): Buffer {
  check31('stream id', streamId);
  const buf = controlFrame(type, flags, 4 + headerBlock.length);
  buf.writeUInt32BE(streamId, 8);
  headerBlock.copy(buf, 12);
  return buf;
}

/**
 * SYN_REPLY (type 2): X·stream-id(31) · compressed header block. Length = 4 + block.
 * @throws InvalidArgumentError for an id outside 31 bits, flags outside 0..255, or a frame over 2^24-1.
 */
export function encodeSynReply(streamId: number, flags: number, headerBlock: Buffer): Buffer {
  return streamHeaderFrame(FrameType.SYN_REPLY, streamId, flags, headerBlock);
}

/**
 * HEADERS (type 8): X·stream-id(31) · compressed header block. Length = 4 + block.
 * @throws InvalidArgumentError as {@link encodeSynReply}.
 */
export function encodeHeaders(streamId: number, flags: number, headerBlock: Buffer): Buffer {
  return streamHeaderFrame(FrameType.HEADERS, streamId, flags, headerBlock);
}

/**
 * RST_STREAM (type 3): X·stream-id(31) · status(32). Length 8, flags 0.
 * @param status an RST_STREAM status (`RstStatus`), 0..2^32-1 on the wire.
 * @throws InvalidArgumentError for an id outside 31 bits or a status outside 32 bits.
 */
export function encodeRstStream(streamId: number, status: number): Buffer {
  check31('stream id', streamId);
  check('status', status, MAX_UINT32);
  const buf = controlFrame(FrameType.RST_STREAM, 0, 8);
  buf.writeUInt32BE(streamId, 8);
  buf.writeUInt32BE(status, 12);
  return buf;
}

/**
 * SETTINGS (type 4): count(32) · n × [flags(8) · id(24) · value(32)]. Length 4 + 8n.
 * Entries are written in the given order (duplicates included: the receiver keeps the first).
 * @param flags frame flags (FLAG_SETTINGS_CLEAR_SETTINGS = 0x01).
 * @throws InvalidArgumentError for entry flags outside 8 bits, ids outside 24 bits, values outside 32 bits, or
 *   more entries than fit in a frame.
 */
export function encodeSettings(flags: number, entries: SettingsEntry[]): Buffer {
  const buf = controlFrame(FrameType.SETTINGS, flags, 4 + 8 * entries.length);
  buf.writeUInt32BE(entries.length, 8);
  let pos = 12;
  for (const e of entries) {
    check('settings entry flags', e.flags, 0xff);
    check('settings id', e.id, MAX_UINT24);
    check('settings value', e.value, MAX_UINT32);
    buf.writeUInt32BE(((e.flags << 24) | e.id) >>> 0, pos);
    buf.writeUInt32BE(e.value, pos + 4);
    pos += 8;
  }
  return buf;
}

/**
 * PING (type 6): id(32). Length 4, flags 0. Clients use odd ids, servers even ones.
 * @throws InvalidArgumentError for an id outside 0..2^32-1.
 */
export function encodePing(id: number): Buffer {
  check('ping id', id, MAX_UINT32);
  const buf = controlFrame(FrameType.PING, 0, 4);
  buf.writeUInt32BE(id, 8);
  return buf;
}

/**
 * GOAWAY (type 7): X·last-good-stream-id(31) · status(32). Length 8, flags 0.
 * @param status a GOAWAY status (`GoawayStatus`), 0..2^32-1 on the wire.
 * @throws InvalidArgumentError for an id outside 31 bits or a status outside 32 bits.
 */
export function encodeGoaway(lastGoodStreamId: number, status: number): Buffer {
  check31('last-good-stream-id', lastGoodStreamId);
  check('status', status, MAX_UINT32);
  const buf = controlFrame(FrameType.GOAWAY, 0, 8);
  buf.writeUInt32BE(lastGoodStreamId, 8);
  buf.writeUInt32BE(status, 12);
  return buf;
}

/**
 * WINDOW_UPDATE (type 9): X·stream-id(31) · X·delta-window-size(31). Length 8, flags 0.
 * @param streamId 0 for the session window.
 * @param delta bytes, 0..2^31-1 (the spec allows 1..2^31-1; 0 is left to the receiver to reject).
 * @throws InvalidArgumentError for an id or delta outside 31 bits.
 */
export function encodeWindowUpdate(streamId: number, delta: number): Buffer {
  check31('stream id', streamId);
  check31('delta', delta);
  const buf = controlFrame(FrameType.WINDOW_UPDATE, 0, 8);
  buf.writeUInt32BE(streamId, 8);
  buf.writeUInt32BE(delta, 12);
  return buf;
}

type Encoder = (frame: Frame) => Buffer[];

/** Encoders by frame type (x/net style table). Unknown frames have no entry. */
const encoders: Record<number, Encoder> = {
  [FrameType.DATA]: (f) => {
    const d = f as DataFrame;
    return encodeData(d.streamId, d.flags, d.data);
  },
  [FrameType.SYN_STREAM]: (f) => [encodeSynStream(f as SynStreamFrame)],
  [FrameType.SYN_REPLY]: (f) => {
    const r = f as SynReplyFrame;
    return [encodeSynReply(r.streamId, r.flags, r.headerBlock)];
  },
  [FrameType.RST_STREAM]: (f) => {
    const r = f as RstStreamFrame;
    return [encodeRstStream(r.streamId, r.status)];
  },
  [FrameType.SETTINGS]: (f) => {
    const s = f as SettingsFrame;
    return [encodeSettings(s.flags, s.entries)];
  },
  [FrameType.PING]: (f) => [encodePing((f as PingFrame).id)],
  [FrameType.GOAWAY]: (f) => {
    const g = f as GoawayFrame;
    return [encodeGoaway(g.lastGoodStreamId, g.status)];
  },
  [FrameType.HEADERS]: (f) => {
    const h = f as HeadersFrame;
    return [encodeHeaders(h.streamId, h.flags, h.headerBlock)];
  },
  [FrameType.WINDOW_UPDATE]: (f) => {
    const w = f as WindowUpdateFrame;
    return [encodeWindowUpdate(w.streamId, w.delta)];
  },
};

/**
 * Encodes any frame: `[header, payload]` for DATA, `[frame]` for control frames. The `flags` of
 * RST_STREAM, PING, GOAWAY and WINDOW_UPDATE are ignored (the spec defines none: 0 is written).
 * @throws InvalidArgumentError as the per-type encoders, and for an `UnknownFrame` (type -1), which carries
 *   no payload and cannot be re-encoded.
 */
export function encodeFrame(frame: Frame): Buffer[] {
  const encode = encoders[frame.type];
  if (encode === undefined) {
    throw new InvalidArgumentError(`cannot encode a frame of type ${frame.type}`);
  }
  return encode(frame);
}
