/**
 * Names of the Kubernetes remotecommand protocols (exec, attach): k8s.io/apimachinery
 * `pkg/util/remotecommand/constants.go`, client-go `tools/remotecommand`, kubelet cri-streaming
 * `remotecommand/httpstream.go` and `websocket.go`.
 */

/** `X-Stream-Protocol-Version` / WebSocket subprotocol values, newest first. */
export const STREAM_PROTOCOL_V5 = 'v5.channel.k8s.io';
export const STREAM_PROTOCOL_V4 = 'v4.channel.k8s.io';
export const STREAM_PROTOCOL_V3 = 'v3.channel.k8s.io';
export const STREAM_PROTOCOL_V2 = 'v2.channel.k8s.io';
/** The legacy v1 protocol (also what an empty negotiated version means over SPDY). */
export const STREAM_PROTOCOL_V1 = 'channel.k8s.io';

/** What a client offers over SPDY, in client-go's order (`spdy.go` `NewSPDYExecutor...`). */
export const SPDY_CLIENT_PROTOCOLS: readonly string[] = [STREAM_PROTOCOL_V5, STREAM_PROTOCOL_V4, STREAM_PROTOCOL_V3, STREAM_PROTOCOL_V2];
/** What a client offers over WebSocket (client-go `websocket.go`: v5 then v4). */
export const WEBSOCKET_CLIENT_PROTOCOLS: readonly string[] = [STREAM_PROTOCOL_V5, STREAM_PROTOCOL_V4];
/** What the server accepts over SPDY (kubelet: v5 … v1). */
export const SPDY_SERVER_PROTOCOLS: readonly string[] = [STREAM_PROTOCOL_V5, STREAM_PROTOCOL_V4, STREAM_PROTOCOL_V3, STREAM_PROTOCOL_V2, STREAM_PROTOCOL_V1];
/** What the server accepts over WebSocket (binary channel protocols; the base64 variants are not served). */
export const WEBSOCKET_SERVER_PROTOCOLS: readonly string[] = [STREAM_PROTOCOL_V5, STREAM_PROTOCOL_V4, STREAM_PROTOCOL_V3, STREAM_PROTOCOL_V2, STREAM_PROTOCOL_V1];

/** The version number (1–5) of a protocol name; `''` (SPDY without a negotiated version) is v1. */
export function protocolVersion(protocol: string): number {
  const m = /^v([2-5])\.channel\.k8s\.io$/.exec(protocol);
  return m ? Number(m[1]) : 1;
}

/** SPDY stream header naming a stream's role, and its values. */
export const HEADER_STREAM_TYPE = 'streamtype';
export const STREAM_TYPE_ERROR = 'error';
export const STREAM_TYPE_STDIN = 'stdin';
export const STREAM_TYPE_STDOUT = 'stdout';
export const STREAM_TYPE_STDERR = 'stderr';
export const STREAM_TYPE_RESIZE = 'resize';

/** WebSocket channel numbers: the first byte of every binary message. */
export const Channel = {
  STDIN: 0,
  STDOUT: 1,
  STDERR: 2,
  ERROR: 3,
  RESIZE: 4,
  /** v5 only: the payload is one byte, the channel being closed (`[255, 0]` closes stdin). */
  CLOSE: 255,
} as const;

/** How long the server waits for all expected SPDY streams, ms (kubelet's `streamCreationTimeout`). */
export const DEFAULT_STREAM_CREATION_TIMEOUT = 30_000;
/** Client WebSocket ping period, ms (client-go `websocket.go` `pingPeriod`). */
export const DEFAULT_WEBSOCKET_PING_INTERVAL = 5_000;
/** Client WebSocket read deadline, ms: no message or pong for this long closes the session (client-go: 12 periods + 1 s). */
export const DEFAULT_WEBSOCKET_PING_TIMEOUT = 61_000;
/** Most bytes kept of the error stream (Status JSON or v1–v3 text); more fails the command. */
export const MAX_ERROR_STREAM = 64 * 1024;
/** Most bytes of one resize message; a larger one is a protocol error (the server stops reading resizes). */
export const MAX_RESIZE_MESSAGE = 4 * 1024;

/**
 * SPDY session options of the remotecommand client and server unless told otherwise:
 * - `flowControl: 'auto'`: compatibility mode with moby/spdystream peers (kubelet, API server, kubectl), which
 *   never send WINDOW_UPDATE; full SPDY/3.1 windows per stream as soon as the peer shows it implements them
 *   (kube-spdy's own client and server send SETTINGS), so an unread stdout never holds back stderr or the
 *   error stream.
 * - `streamHighWaterMark: 1 MiB`: in compatibility mode the socket is paused while a stream's reader is this
 *   far behind.
 * - `initialWindowSize: 1 MiB`: the window each stream grants once flow control is on (the same bound).
 */
export const REMOTECOMMAND_SESSION_DEFAULTS = {
  flowControl: 'auto',
  streamHighWaterMark: 1024 * 1024,
  initialWindowSize: 1024 * 1024,
} as const;
