/**
 * Header-block compression for one direction of one connection (SPDY/3 §2.6.10.1): every name/value
 * header block is compressed with zlib (RFC 1950) and the SPDY/3 dictionary, and one zlib stream is
 * shared by every header block the endpoint sends: each block ends with a
 * Z_SYNC_FLUSH, and only the first one carries the zlib header (CMF/FLG with FDICT set + DICTID).
 *
 * Built on pako 3's public low-level API (`zlibDeflateInit2` / `zlibDeflate` on a `ZStream`), which
 * lets one scratch output buffer be reused: the `Deflate` wrapper allocates a fresh 16 KiB chunk per
 * flush and measured at about half the speed (see bench/compression.bench.mjs).
 */
import {
  Z_BUF_ERROR,
  Z_DEFAULT_STRATEGY,
  Z_OK,
  Z_SYNC_FLUSH,
  ZStream,
  zlibDeflate,
  zlibDeflateInit2,
  zlibDeflateSetDictionary,
} from 'pako';
import { CompressionError, InvalidArgumentError } from '../errors.js';
import type { Headers } from '../frames/types.js';
import { SPDY3_DICTIONARY } from './dictionary.js';
import { serializeHeaderBlock } from './header-block.js';

/**
 * Default zlib level. Measured on 61-byte port-forward blocks and on 2,000 mixed HTTP-like blocks
 * (pako 3.0.3, Node 20, 2 cores): levels 1–3 ran at 185k–225k blocks/s, level 6 at 180k–200k,
 * level 9 at ~125k; compressed/raw ratios 0.161 (1), 0.147 (3), 0.140 (6), 0.136 (9).
 * Level 3 keeps most of level 6's ratio at level 1's speed.
 */
export const DEFAULT_COMPRESSION_LEVEL = 3;

/** Options of {@link HeaderCompressor}. */
export interface HeaderCompressorOptions {
  /** zlib level 0 (stored) … 9. Default {@link DEFAULT_COMPRESSION_LEVEL} (3). */
  level?: number;
  /**
   * log2 of the window, 9..15. Default {@link DEFAULT_WINDOW_BITS} (11: 2 KiB, which holds the whole
   * 1,423-byte SPDY/3 dictionary; a peer inflates with a window of any size up to 32 KiB, RFC 1950 CINFO).
   */
  windowBits?: number;
  /** zlib memLevel 1..9 (zlib's hash of 2^(memLevel+7) entries). Default {@link DEFAULT_MEM_LEVEL} (1). */
  memLevel?: number;
}

/**
 * Default window: 2 KiB, Chromium's SPDY header compressor settings (windowBits 11, memLevel 1).
 * Measured (pako 3.0.3, Node 20, one run, against windowBits 15 / memLevel 8): 13.9 KiB per compressor
 * instead of 260.9 KiB (a connection holds one for its life), 4.3× the compressors created per second,
 * 1.06× the blocks/s on 61-byte port-forward blocks (same 10.1 compressed bytes each) and 1.54× on
 * 886-byte blocks (33.7 compressed bytes each instead of 31.3).
 */
export const DEFAULT_WINDOW_BITS = 11;
/** Default memLevel, see {@link DEFAULT_WINDOW_BITS}. */
export const DEFAULT_MEM_LEVEL = 1;

/** Size of the reused output buffer, bytes; larger outputs are gathered in several chunks. */
const SCRATCH_SIZE = 8192;
/** One output buffer for every compressor: compression is synchronous and its output is copied out. */
const SCRATCH = new Uint8Array(SCRATCH_SIZE);

function option(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}, got ${v}`);
  }
  return v;
}

/**
 * Compresses header blocks for one direction of one connection. Blocks must be compressed in the
 * order their frames go on the wire: the peer inflates them with one shared zlib stream.
 */
export class HeaderCompressor {
  private readonly strm = new ZStream();
  private dead: CompressionError | null = null;

  /** @throws InvalidArgumentError for an option outside its range. */
  constructor(options: HeaderCompressorOptions = {}) {
    const level = option('level', options.level, DEFAULT_COMPRESSION_LEVEL, 0, 9);
    const windowBits = option('windowBits', options.windowBits, DEFAULT_WINDOW_BITS, 9, 15);
    const memLevel = option('memLevel', options.memLevel, DEFAULT_MEM_LEVEL, 1, 9);
    // legacyHash: zlib's own hash table of 2^(memLevel+7) entries (pako's newer hash takes at least 2^15).
    let status = zlibDeflateInit2(this.strm, level, 8, windowBits, memLevel, Z_DEFAULT_STRATEGY, true);
    if (status === Z_OK) status = zlibDeflateSetDictionary(this.strm, SPDY3_DICTIONARY);
    if (status !== Z_OK) throw new CompressionError(`cannot initialise deflate: zlib status ${status}`);
  }

  /**
   * Serializes and compresses one header block (see `serializeHeaderBlock`).
   * @returns the compressed block, ending with the sync-flush marker `00 00 ff ff`; the first block
   *   of the connection starts with the zlib header and DICTID e3 c6 a7 c2.
   * @throws InvalidArgumentError for invalid headers (nothing was fed to zlib: the compressor stays usable).
   * @throws CompressionError if zlib fails; the compressor is then dead and throws on every call.
   */
  compress(headers: Headers): Buffer {
    if (this.dead !== null) throw this.dead;
    return this.compressBlock(serializeHeaderBlock(headers));
  }

  /**
   * Compresses an already serialized header block (no validation).
   * @throws CompressionError as {@link compress}.
   */
  compressBlock(block: Uint8Array): Buffer {
    if (this.dead !== null) throw this.dead;
    const s = this.strm;
    s.input = block;
    s.next_in = 0;
    s.avail_in = block.length;
    let chunks: Buffer[] | null = null;
    for (;;) {
      s.output = SCRATCH;
      s.next_out = 0;
      s.avail_out = SCRATCH_SIZE;
      const status = zlibDeflate(s, Z_SYNC_FLUSH);
      if (status !== Z_OK && status !== Z_BUF_ERROR) {
        this.dead = new CompressionError(`deflate failed: zlib status ${status}${s.msg ? ` (${s.msg})` : ''}`);
        throw this.dead;
      }
      const out = Buffer.from(SCRATCH.subarray(0, s.next_out));
      // "If deflate returns with avail_out == 0, this function must be called again with the same
      // value of the flush parameter and more output space" (zlib.h).
      if (s.avail_out !== 0) {
        if (chunks === null) return out;
        chunks.push(out);
        break;
      }
      (chunks ??= []).push(out);
    }
    return Buffer.concat(chunks);
  }
}
