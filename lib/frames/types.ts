/**
 * One type per SPDY/3.1 frame. Header blocks stay compressed here: the frame layer never touches zlib
 * (compression is `lib/compression`, applied by the session in wire order).
 */
import type { FrameType } from './constants.js';

export interface DataFrame {
  type: typeof FrameType.DATA;
  streamId: number;
  flags: number;
  /** Payload; a view (subarray) of the input where possible, never copied when it lies in one chunk. */
  data: Buffer;
}

export interface SynStreamFrame {
  type: typeof FrameType.SYN_STREAM;
  streamId: number;
  associatedStreamId: number;
  /** 0 (highest) … 7 (lowest). */
  priority: number;
  /** Unused in 3.1; read and kept, written as given (0). */
  slot: number;
  flags: number;
  /** Compressed header block. */
  headerBlock: Buffer;
}

export interface SynReplyFrame {
  type: typeof FrameType.SYN_REPLY;
  streamId: number;
  flags: number;
  headerBlock: Buffer;
}

export interface RstStreamFrame {
  type: typeof FrameType.RST_STREAM;
  streamId: number;
  flags: number;
  status: number;
}

export interface SettingsEntry {
  id: number;
  flags: number;
  value: number;
}

export interface SettingsFrame {
  type: typeof FrameType.SETTINGS;
  flags: number;
  entries: SettingsEntry[];
}

export interface PingFrame {
  type: typeof FrameType.PING;
  flags: number;
  /** Unsigned 32-bit ping id. */
  id: number;
}

export interface GoawayFrame {
  type: typeof FrameType.GOAWAY;
  flags: number;
  lastGoodStreamId: number;
  status: number;
}

export interface HeadersFrame {
  type: typeof FrameType.HEADERS;
  streamId: number;
  flags: number;
  headerBlock: Buffer;
}

export interface WindowUpdateFrame {
  type: typeof FrameType.WINDOW_UPDATE;
  /** 0 = the session window. */
  streamId: number;
  flags: number;
  delta: number;
}

/**
 * A control frame whose type this implementation does not know (or CREDENTIAL, NOOP): the decoder
 * skips its payload and reports it so the session can log and ignore it.
 */
export interface UnknownFrame {
  type: -1;
  /** The type field as read. */
  frameType: number;
  version: number;
  flags: number;
  length: number;
}

export type Frame =
  | DataFrame
  | SynStreamFrame
  | SynReplyFrame
  | RstStreamFrame
  | SettingsFrame
  | PingFrame
  | GoawayFrame
  | HeadersFrame
  | WindowUpdateFrame
  | UnknownFrame;

/** Header name → value. Several values of one name are joined by one NUL (§2.6.10). */
export type Headers = Record<string, string>;
