/**
 * httpstream: the HTTP/1.1 upgrade to SPDY/3.1 that Kubernetes port-forward, exec and attach use
 * (k8s.io/apimachinery `pkg/util/httpstream`). The client resolves with a raw socket and the negotiated
 * `X-Stream-Protocol-Version`; the server handler negotiates and hands the socket to a session. The
 * WebSocket tunnel (`SPDY/3.1+portforward.k8s.io`) carries the same SPDY byte stream in binary messages.
 */
export { upgrade, MAX_ERROR_BODY, DEFAULT_UPGRADE_TIMEOUT } from './client.js';
export type { UpgradeOptions, UpgradeResult, CreateConnection } from './client.js';
export { dialWebSocketTunnel, TUNNEL_PROTOCOL_PORT_FORWARD, DEFAULT_TUNNEL_MAX_PAYLOAD } from './websocket-client.js';
export type { TunnelOptions, TunnelResult } from './websocket-client.js';
export { createTunnelHandler, isWebSocketUpgrade } from './websocket-server.js';
export type { TunnelHandlerOptions } from './websocket-server.js';
export { webSocketStream, TunnelError, DEFAULT_TUNNEL_WRITE_HIGH_WATER_MARK } from './websocket-stream.js';
export type { WebSocketStreamOptions } from './websocket-stream.js';
export {
  createUpgradeHandler,
  checkUpgradeRequest,
  negotiateProtocol,
  writeHttpError,
  rejectNonUpgradeRequest,
} from './server.js';
export type { UpgradeHandlerOptions, HandshakeResult } from './server.js';
export { statusJson, parseStatus, reasonForCode } from './status.js';
export type { Status } from './status.js';
export {
  HEADER_CONNECTION,
  HEADER_UPGRADE,
  HEADER_PROTOCOL_VERSION,
  HEADER_ACCEPTED_PROTOCOL_VERSIONS,
  UPGRADE_SPDY_31,
  splitHeaderValues,
} from './headers.js';
