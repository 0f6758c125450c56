/**
 * SPDY/3.1 wire constants (SPDY Protocol Draft 3.1 §2.2–§2.6; see shared reference spdy31-wire.md).
 */

/** The version written in every control frame; 3.1 is only negotiated by `Upgrade: SPDY/3.1`. */
export const SPDY_VERSION = 3;

/** Size of every frame header, bytes. */
export const FRAME_HEADER_SIZE = 8;

/** Largest frame length the 24-bit length field can carry, bytes. */
export const MAX_FRAME_LENGTH = 0xffffff;

/** Largest stream id, window, or delta (31 bits). */
export const MAX_STREAM_ID = 0x7fffffff;
export const MAX_WINDOW = 0x7fffffff;

/** Default initial window of a stream and of the session, bytes (§2.6.8). */
export const DEFAULT_INITIAL_WINDOW = 65536;

/** Frame types. DATA has no control type; it is 0 here so every frame has a numeric `type`. */
export const FrameType = {
  DATA: 0,
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  NOOP: 5,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
  CREDENTIAL: 10,
} as const;
export type FrameTypeValue = (typeof FrameType)[keyof typeof FrameType];

export const frameTypeName: Record<number, string> = {
  0: 'DATA',
  1: 'SYN_STREAM',
  2: 'SYN_REPLY',
  3: 'RST_STREAM',
  4: 'SETTINGS',
  5: 'NOOP',
  6: 'PING',
  7: 'GOAWAY',
  8: 'HEADERS',
  9: 'WINDOW_UPDATE',
  10: 'CREDENTIAL',
};

/** FLAG_FIN on DATA, SYN_STREAM, SYN_REPLY, HEADERS. */
export const FLAG_FIN = 0x01;
/** FLAG_UNIDIRECTIONAL on SYN_STREAM. */
export const FLAG_UNIDIRECTIONAL = 0x02;
/** FLAG_SETTINGS_CLEAR_SETTINGS on SETTINGS. */
export const FLAG_SETTINGS_CLEAR_SETTINGS = 0x01;
/** Per-entry settings flags. */
export const FLAG_SETTINGS_PERSIST_VALUE = 0x01;
export const FLAG_SETTINGS_PERSISTED = 0x02;

/** SETTINGS ids (§2.6.4). */
export const SettingsId = {
  UPLOAD_BANDWIDTH: 1,
  DOWNLOAD_BANDWIDTH: 2,
  ROUND_TRIP_TIME: 3,
  MAX_CONCURRENT_STREAMS: 4,
  CURRENT_CWND: 5,
  DOWNLOAD_RETRANS_RATE: 6,
  INITIAL_WINDOW_SIZE: 7,
  CLIENT_CERTIFICATE_VECTOR_SIZE: 8,
} as const;

/** RST_STREAM status codes (§2.6.3). 0 is invalid. */
export const RstStatus = {
  PROTOCOL_ERROR: 1,
  INVALID_STREAM: 2,
  REFUSED_STREAM: 3,
  UNSUPPORTED_VERSION: 4,
  CANCEL: 5,
  INTERNAL_ERROR: 6,
  FLOW_CONTROL_ERROR: 7,
  STREAM_IN_USE: 8,
  STREAM_ALREADY_CLOSED: 9,
  FRAME_TOO_LARGE: 11,
} as const;

export const rstStatusName: Record<number, string> = {
  1: 'PROTOCOL_ERROR',
  2: 'INVALID_STREAM',
  3: 'REFUSED_STREAM',
  4: 'UNSUPPORTED_VERSION',
  5: 'CANCEL',
  6: 'INTERNAL_ERROR',
  7: 'FLOW_CONTROL_ERROR',
  8: 'STREAM_IN_USE',
  9: 'STREAM_ALREADY_CLOSED',
  10: 'INVALID_CREDENTIALS',
  11: 'FRAME_TOO_LARGE',
};

/** GOAWAY status codes (§2.6.6). Old implementations send 11 for INTERNAL_ERROR: accept on read. */
export const GoawayStatus = {
  OK: 0,
  PROTOCOL_ERROR: 1,
  INTERNAL_ERROR: 2,
} as const;

export const goawayStatusName: Record<number, string> = {
  0: 'OK',
  1: 'PROTOCOL_ERROR',
  2: 'INTERNAL_ERROR',
  11: 'INTERNAL_ERROR',
};
