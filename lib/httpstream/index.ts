/**
 * httpstream: the HTTP/1.1 upgrade to SPDY/3.1 that Kubernetes port-forward, exec and attach use
 * (k8s.io/apimachinery `pkg/util/httpstream`). The client resolves with a raw socket and the negotiated
 * `X-Stream-Protocol-Version`; the server handler negotiates and hands the socket to a session.
 */
export { upgrade, MAX_ERROR_BODY, DEFAULT_UPGRADE_TIMEOUT } from './client.js';
export type { UpgradeOptions, UpgradeResult } from './client.js';
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
