/**
 * Public shapes of the session layer: connection events, createStream options, stats.
 */
import type { Stream, StreamStats } from './stream.js';

export interface ConnectionEvents {
  stream: [stream: Stream];
  goaway: [info: { lastGoodStreamId: number; status: number }];
  close: [err?: Error];
  error: [err: Error];
  ping: [id: number];
}

/** Options of {@link Connection.createStream}. */
export interface CreateStreamOptions {
  /** Wait for the SYN_REPLY at most this long, ms; then RST_STREAM CANCEL and a TimeoutError. Default: the connection's `streamTimeout` (30000). 0 = no limit. */
  timeout?: number;
  /** Aborts the wait: RST_STREAM CANCEL and an AbortError. */
  signal?: AbortSignal;
  /** 0 (highest) … 7 (lowest). Default 0. */
  priority?: number;
  /** Send FIN with the SYN_STREAM (we will not write). Default false. */
  fin?: boolean;
  /** FLAG_UNIDIRECTIONAL: the peer will not send. Default false. */
  unidirectional?: boolean;
  /** Fail the stream with a TimeoutError (RST_STREAM CANCEL) after this many ms without DATA either way. Default: the connection's `streamIdleTimeout` (0 = off). */
  idleTimeout?: number;
}

/** Counters of a connection, from {@link Connection.stats}. */
export interface ConnectionStats {
  role: 'client' | 'server';
  bytesIn: number;
  bytesOut: number;
  framesIn: number;
  framesOut: number;
  /** Last measured PING round trip, ms (NaN before the first). */
  rtt: number;
  /** True while SPDY/3.1 windows are honoured (see {@link Connection.flowControlActive}). */
  flowControl: boolean;
  /** True while reading the socket is paused for a slow stream reader (compatibility mode). */
  readPaused: boolean;
  openStreams: number;
  /** Frames by type name (`DATA`, `SYN_STREAM`, … `UNKNOWN`), received and sent. */
  framesByType: { in: Record<string, number>; out: Record<string, number> };
  streams: StreamStats[];
  sendWindow: number;
  recvWindow: number;
}
