export * from './constants.js';
export { parsePortSpec, parseAddresses, formatHostPort } from './ports.js';
export type { PortMapping, ListenAddress } from './ports.js';
export { PortForwarder } from './client.js';
export type { ForwardedPort, ForwardedConnection, PortForwarderEvents, PortForwarderOptions } from './client.js';
export { servePortForward } from './server.js';
export type { PortForwardServerOptions } from './server.js';
export { dialPortForward, portForwardUrl, parseTransport } from './dial.js';
export type { DialPortForwardOptions, PortForwardTransport } from './dial.js';
