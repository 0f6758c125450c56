export { Connection } from './connection.js';
export type { ConnectionEvents, CreateStreamOptions, ConnectionStats } from './connection.js';
export { Stream, StreamState } from './stream.js';
export type { StreamStats, StreamStateValue } from './stream.js';
export type { ConnectionOptions } from './options.js';
