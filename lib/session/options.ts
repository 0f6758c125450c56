/**
 * Connection options with their defaults. Every limit applies to what the peer sends us.
 */
import { DEFAULT_INITIAL_WINDOW } from '../frames/constants.js';
import { InvalidArgumentError } from '../errors.js';

export interface ConnectionOptions {
  /** `'client'` creates odd stream ids and PING ids, `'server'` even ones (§2.3.2). Required. */
  role: 'client' | 'server';
  /**
   * SPDY/3.1 flow control. Default `true`.
   * - `true`: windows are honoured both ways. Our sends wait for the peer's WINDOW_UPDATEs; DATA beyond
   *   the window we granted is a FLOW_CONTROL_ERROR. Use it with peers that implement SPDY/3.1 flow
   *   control (spdy-transport, kube-spdy).
   * - `false` (compatibility mode): for moby/spdystream peers (kubectl, kubelet, containerd, CRI-O), which
   *   never send WINDOW_UPDATE: a sender that waited would stall after 64 KiB. Nothing waits on a window;
   *   the receiver bounds what it buffers by pausing the socket while a stream's reader is behind.
   * - `'auto'`: starts in compatibility mode and switches to full windows both ways as soon as the peer
   *   shows it implements them (it sends SETTINGS INITIAL_WINDOW_SIZE or a WINDOW_UPDATE). We send our
   *   SETTINGS (INITIAL_WINDOW_SIZE, MAX_CONCURRENT_STREAMS) and the session WINDOW_UPDATE as `true`
   *   does (spdystream reads and ignores both). DATA a peer sent beyond a window before it saw ours is
   *   not an error: that stream is bounded by pausing the socket, as in compatibility mode. See
   *   {@link Connection.flowControlActive}.
   * The Kubernetes layers (`lib/portforward`, the fake API server, the CLI) default to `'auto'`.
   */
  flowControl?: boolean | 'auto';
  /** Receive window we grant each stream, bytes (sent in SETTINGS INITIAL_WINDOW_SIZE when not 64 KiB). Default 65536. */
  initialWindowSize?: number;
  /** Receive window of the whole session, bytes (grown by a WINDOW_UPDATE on stream 0). Default 16 MiB. */
  sessionWindowSize?: number;
  /** Largest DATA payload we send in one frame, bytes (flow control may make frames smaller). Default 262144: spdystream peers pay a cost per frame (64 KiB frames: kube-spdy→Go ~156 MB/s; 256 KiB: ~200–270); round-robin turns stay well under a millisecond. */
  maxDataFrameSize?: number;
  /**
   * Largest DATA payload accepted in one frame, bytes; checked from the frame header before any payload
   * byte is buffered, more → GOAWAY PROTOCOL_ERROR. Default 1 MiB (Go spdystream writes one DATA frame per
   * `Write`; Kubernetes copies in 32 KiB buffers).
   */
  maxReceivedDataFrameSize?: number;
  /**
   * Most control frames (RST_STREAM, WINDOW_UPDATE, PING echoes, SETTINGS, …) waiting to be written while
   * the peer does not read; past it the connection is dropped (a peer that makes us answer without reading
   * the answers). x/net/http2's `maxQueuedControlFrames`. Default 10000 (about 160 KB).
   */
  maxQueuedControlFrames?: number;
  /** Largest control frame accepted, bytes (at least 8192, §2.2.1); checked from the frame header, more → GOAWAY PROTOCOL_ERROR. Default 1 MiB. */
  maxControlFrameSize?: number;
  /** Largest inflated header block accepted, bytes; more → GOAWAY PROTOCOL_ERROR (the shared zlib context cannot be resumed). Default 256 KiB. */
  maxHeaderBlockSize?: number;
  /** Most header pairs in one block; more → RST_STREAM FRAME_TOO_LARGE (the block is still inflated). Default 128. */
  maxHeaderCount?: number;
  /** Most SETTINGS entries in one frame; more → GOAWAY PROTOCOL_ERROR before anything is allocated. Default 64. */
  maxSettingsEntries?: number;
  /** Most streams the peer may have open at once; more are refused with RST_STREAM REFUSED_STREAM. Advertised in SETTINGS MAX_CONCURRENT_STREAMS when flow control is on. Default 1000. */
  maxConcurrentStreams?: number;
  /** Readable/writable high-water mark of each stream, bytes. Default 65536. */
  streamHighWaterMark?: number;
  /** Default `timeout` of {@link Connection.createStream}: wait for SYN_REPLY, ms. Default 30000 (client-go's). 0 = none. */
  streamTimeout?: number;
  /** Default `timeout` of {@link Connection.ping}, ms. Default 30000. */
  pingTimeout?: number;
  /**
   * Keep-alive: send a PING every `pingInterval` ms; when its reply does not come within `pingTimeout`
   * ms the connection is declared dead (`'close'` with a {@link LivenessError}, every stream failed), so a
   * dead or silently dropped connection is noticed within pingInterval + pingTimeout. Default 0 (off).
   * (client-go pings every 5 s but never times out.)
   */
  pingInterval?: number;
  /**
   * Close gracefully (GOAWAY OK) after this many ms with no open stream and no frame but PING either way;
   * pings do not count as activity. Checked four times per period. Default 0 (never).
   */
  idleTimeout?: number;
  /** Most PINGs accepted from the peer per second; more is a flood: GOAWAY PROTOCOL_ERROR. Default 200. 0 = no limit. */
  maxPingRate?: number;
  /** Most SETTINGS frames accepted per second; more → GOAWAY PROTOCOL_ERROR. Default 50. 0 = no limit. */
  maxSettingsRate?: number;
  /**
   * Most RST_STREAM frames accepted per second ("rapid reset"); more → GOAWAY PROTOCOL_ERROR. Default 10000
   * (a busy port-forward legitimately resets some streams per forwarded connection). 0 = no limit.
   */
  maxResetRate?: number;
  /**
   * Most stream errors per second the peer may cause (frames that make us answer with RST_STREAM: DATA on a
   * stream that is not open, a window overrun, a bad header block count…); more → GOAWAY PROTOCOL_ERROR.
   * A peer that floods them costs a frame of work each and gains nothing. Default 1000. 0 = no limit.
   */
  maxStreamErrorRate?: number;
  /** Idle timeout of every stream, ms: a stream without DATA either way for this long fails with a TimeoutError and RST_STREAM CANCEL. Default 0 (off). See `Stream.setIdleTimeout`. */
  streamIdleTimeout?: number;
  /** Graceful close: how long {@link Connection.close} waits for open streams, ms. Default 10000. */
  closeTimeout?: number;
  /**
   * Header decompressor. Default `'pako'` (pure JavaScript; faster on port-forward-sized blocks).
   * `'zlib-sync'` (native, optional dependency) is faster on large header blocks but **leaks**: zlib-sync
   * 0.1.10 never frees an inflater's native state (~18 KB of RSS per connection, measured: 20,000
   * dropped inflaters hold ~360 MiB after GC), so use it only for few long-lived connections.
   * `'auto'`: zlib-sync when it can be loaded, else pako.
   */
  inflater?: 'auto' | 'zlib-sync' | 'pako';
  /**
   * HTTP pseudo-headers for HTTP-minded SPDY peers (spdy-transport, Chromium). Default `false`.
   * When `true`, an outgoing SYN_STREAM gets whichever of `:method: GET`, `:path: /`,
   * `:version: HTTP/1.1`, `:host: localhost`, `:scheme: https` it lacks, and an outgoing SYN_REPLY gets
   * whichever of `:status: 200`, `:version: HTTP/1.1` it lacks (spdy-transport as a server rejects a
   * SYN_STREAM without `:method`/`:path`, and as a client resets a stream whose SYN_REPLY has no `:status`).
   * `stream.headers` / `stream.replyHeaders` show what was sent. Kubernetes peers send none: leave it off.
   */
  httpPseudoHeaders?: boolean;
}

export type ResolvedOptions = Required<ConnectionOptions>;

type NumericOption = {
  [K in keyof ResolvedOptions]: ResolvedOptions[K] extends number ? K : never;
}[keyof ResolvedOptions];

/** Every numeric option: [default, min, max]. The one place defaults and ranges are written. */
const NUMERIC: Record<NumericOption, [number, number, number]> = {
  initialWindowSize: [DEFAULT_INITIAL_WINDOW, 1, 0x7fffffff],
  sessionWindowSize: [16 * 1024 * 1024, 65536, 0x7fffffff],
  maxDataFrameSize: [262144, 1, 0xffffff],
  maxControlFrameSize: [1024 * 1024, 8192, 0xffffff],
  maxReceivedDataFrameSize: [1024 * 1024, 1, 0xffffff],
  maxQueuedControlFrames: [10000, 1, 10_000_000],
  maxHeaderBlockSize: [256 * 1024, 1024, 64 * 1024 * 1024],
  maxHeaderCount: [128, 1, 100000],
  maxSettingsEntries: [64, 1, 10000],
  maxConcurrentStreams: [1000, 1, 0x7fffffff],
  streamHighWaterMark: [65536, 1, 0x7fffffff],
  streamTimeout: [30000, 0, 0x7fffffff],
  pingTimeout: [30000, 0, 0x7fffffff],
  closeTimeout: [10000, 0, 0x7fffffff],
  pingInterval: [0, 0, 0x7fffffff],
  streamIdleTimeout: [0, 0, 0x7fffffff],
  idleTimeout: [0, 0, 0x7fffffff],
  maxPingRate: [200, 0, 0x7fffffff],
  maxSettingsRate: [50, 0, 0x7fffffff],
  maxResetRate: [10000, 0, 0x7fffffff],
  maxStreamErrorRate: [1000, 0, 0x7fffffff],
};

const OTHER = ['role', 'flowControl', 'inflater', 'httpPseudoHeaders'] as const;
const KNOWN = new Set<string>([...Object.keys(NUMERIC), ...OTHER]);

/**
 * Fills in defaults and checks every option.
 * @throws InvalidArgumentError (`ERR_INVALID_ARG`) for an unknown option name, a bad role, a number out
 *   of range or a value of the wrong type.
 */
export function resolveOptions(o: ConnectionOptions): ResolvedOptions {
  if (o === null || typeof o !== 'object') throw new InvalidArgumentError('connection options must be an object');
  for (const k of Object.keys(o)) {
    if (!KNOWN.has(k)) throw new InvalidArgumentError(`unknown connection option ${JSON.stringify(k)}`);
  }
  if (o.role !== 'client' && o.role !== 'server') throw new InvalidArgumentError(`role must be 'client' or 'server', got ${String(o.role)}`);
  const numbers = {} as Record<NumericOption, number>;
  for (const [k, [dflt, min, max]] of Object.entries(NUMERIC) as [NumericOption, [number, number, number]][]) {
    const v = o[k] ?? dflt;
    if (!Number.isInteger(v) || v < min || v > max) throw new InvalidArgumentError(`${k} must be an integer in ${min}..${max}, got ${v}`);
    numbers[k] = v;
  }
  if (o.flowControl !== undefined && typeof o.flowControl !== 'boolean' && o.flowControl !== 'auto') {
    throw new InvalidArgumentError(`flowControl must be true, false or 'auto', got ${String(o.flowControl)}`);
  }
  if (o.httpPseudoHeaders !== undefined && typeof o.httpPseudoHeaders !== 'boolean') {
    throw new InvalidArgumentError(`httpPseudoHeaders must be a boolean, got ${String(o.httpPseudoHeaders)}`);
  }
  const inflater = o.inflater ?? 'pako';
  if (inflater !== 'auto' && inflater !== 'pako' && inflater !== 'zlib-sync') {
    throw new InvalidArgumentError(`inflater must be 'pako', 'zlib-sync' or 'auto', got ${String(inflater)}`);
  }
  return {
    ...numbers,
    role: o.role,
    flowControl: o.flowControl ?? true,
    inflater,
    httpPseudoHeaders: o.httpPseudoHeaders ?? false,
  };
}
