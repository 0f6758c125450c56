/**
 * The SPDY/3.1 frame layer: constants, frame types, the pure encoder and the incremental decoder.
 * No I/O, no timers, no zlib (header blocks stay compressed; see `lib/compression`).
 */
export * from './constants.js';
export * from './types.js';
export * from './encoder.js';
export * from './decoder.js';
