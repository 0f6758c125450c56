/**
 * SPDY/3 header blocks: the dictionary, the uncompressed block codec, and the per-connection
 * compressor / decompressor (one zlib stream per direction, Z_SYNC_FLUSH after each block).
 */
export * from './dictionary.js';
export * from './header-block.js';
export * from './deflate.js';
export * from './inflate.js';
