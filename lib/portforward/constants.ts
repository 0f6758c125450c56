/**
 * Names of the `portforward.k8s.io` v1 protocol (k8s.io/apimachinery pkg/util/httpstream, client-go
 * tools/portforward/portforward.go, kubelet pkg/cri/streaming/portforward/httpstream.go).
 */

/** The X-Stream-Protocol-Version of port-forward v1. */
export const PORT_FORWARD_PROTOCOL_V1 = 'portforward.k8s.io';
/** The WebSocket subprotocol of the tunnel (Kubernetes 1.31+). */
export const PORT_FORWARD_WEBSOCKET_PROTOCOL = 'SPDY/3.1+portforward.k8s.io';

/** Stream header names (lower case on the wire). */
export const HEADER_STREAM_TYPE = 'streamtype';
export const HEADER_PORT = 'port';
export const HEADER_REQUEST_ID = 'requestid';

/** `streamtype` values. */
export const STREAM_TYPE_ERROR = 'error';
export const STREAM_TYPE_DATA = 'data';

/** How long the server waits for both streams of a pair, ms (kubelet's streamCreationTimeout). */
export const DEFAULT_STREAM_CREATION_TIMEOUT = 30000;

/** Most bytes of error-stream text kept for one forwarded connection. */
export const MAX_ERROR_TEXT = 64 * 1024;

/**
 * Session options the port-forward layers (client dial, fake API server) use unless told otherwise:
 * - `flowControl: 'auto'`: compatibility mode with moby/spdystream peers (kubelet, kubectl), full SPDY/3.1
 *   windows with peers that implement them (kube-spdy's own client and server), per stream, so one unread
 *   stream never holds back another.
 * - `streamHighWaterMark: 1 MiB`: in compatibility mode the socket is paused whenever a stream's reader
 *   falls this far behind; 64 KiB made bulk downloads pause and resume the socket every 64 KiB (measured
 *   ~0.7× of kubectl's rate, 1 MiB ~1.0×).
 * - `initialWindowSize: 1 MiB`: the window each stream grants once flow control is on (the same bound).
 */
export const PORT_FORWARD_SESSION_DEFAULTS = {
  flowControl: 'auto',
  streamHighWaterMark: 1024 * 1024,
  initialWindowSize: 1024 * 1024,
} as const;
