/**
 * Header-block decompression for one direction of one connection (SPDY/3 §2.6.10.1). Every received
 * header block runs through one shared inflate stream, in wire order, even for a frame the session
 * rejects (the compression state is shared).
 *
 * Both engines do the same thing: the first block's 6-byte zlib prefix (CMF, FLG, DICTID) is checked
 * here and stripped, and every block is then fed to a raw (headerless, windowBits -15) inflater whose
 * window already holds the SPDY/3 dictionary. A 32 KiB window accepts streams made with any smaller
 * window (Chromium uses windowBits 11). The trailing Adler-32 never comes: the stream never ends.
 *
 * - `zlib-sync` (native, optional, opt-in: it never frees an inflater's native state, see
 *   {@link HeaderDecompressorOptions.implementation}): it has no dictionary call, so its window is primed with one
 *   non-final stored deflate block holding the dictionary (`00`, LEN, ~LEN little-endian, 1423 bytes)
 *   whose output is discarded.
 * - `pako` (pure JavaScript): `zlibInflateSetDictionary` on a raw `ZStream`.
 *
 * Decompression bombs: output is bounded by `maxInflatedSize`. pako is driven with a fixed-size
 * output buffer and stops at the limit; zlib-sync grows its buffer to hold all output of one push,
 * so input is fed in slices small enough (limit / 1032, deflate's largest expansion ratio) that one
 * slice cannot overshoot the limit by more than about the limit itself.
 */
import { createRequire } from 'node:module';
import { Z_BUF_ERROR, Z_OK, Z_STREAM_END, Z_SYNC_FLUSH, ZStream, zlibInflate, zlibInflateInit2, zlibInflateSetDictionary } from 'pako';
import { CompressionError, InvalidArgumentError } from '../errors.js';
import { SPDY3_DICTIONARY, SPDY3_DICTIONARY_ID } from './dictionary.js';

/** Default {@link HeaderDecompressorOptions.maxInflatedSize}: 256 KiB. */
export const DEFAULT_MAX_INFLATED_SIZE = 256 * 1024;

/** The inflate engines. */
export type InflateImplementation = 'zlib-sync' | 'pako';

/** Options of {@link HeaderDecompressor}. */
export interface HeaderDecompressorOptions {
  /** Largest inflated size of one header block, bytes (≥ 1). Default 256 KiB. */
  maxInflatedSize?: number;
  /**
   * The engine. Default `'pako'`. `'zlib-sync'` is faster on large blocks but leaks: zlib-sync 0.1.10
   * never frees an `Inflate`'s native zlib state (measured: 20,000 inflaters created and dropped hold
   * ~360 MiB of RSS after GC), so every connection using it costs ~18 KB for the life of the process.
   * `'auto'`: zlib-sync when it can be loaded, else pako.
   */
  implementation?: 'auto' | InflateImplementation;
}

/** The part of zlib-sync 0.1.x this module uses (it is optional: its own types may be absent). */
interface ZlibSyncInflate {
  readonly err: number;
  readonly msg: string | null;
  readonly result: Buffer | string | null;
  push(buffer: Buffer, flush?: boolean | number): void;
}
interface ZlibSyncModule {
  Inflate: new (options?: { chunkSize?: number; windowBits?: number }) => ZlibSyncInflate;
}
// zlib-sync's status and flush values are zlib's own (zlib.h), the same numbers pako exports.

let zlibSync: ZlibSyncModule | null | undefined;
let zlibSyncLoadError: unknown;

/** Loads zlib-sync once (it is an optional native dependency); null when it cannot be loaded. */
function loadZlibSync(): ZlibSyncModule | null {
  if (zlibSync === undefined) {
    try {
      zlibSync = createRequire(import.meta.url)('zlib-sync') as ZlibSyncModule;
    } catch (err) {
      zlibSync = null;
      zlibSyncLoadError = err;
    }
  }
  return zlibSync;
}

/** True when the native zlib-sync engine can be used. */
export function isZlibSyncAvailable(): boolean {
  return loadZlibSync() !== null;
}

/** A raw inflater with the dictionary in its window; `inflate` throws CompressionError. */
interface Engine {
  inflate(input: Buffer, limit: number): Buffer;
}

const EMPTY = Buffer.alloc(0);
/** Deflate's largest expansion: 258 bytes per 2-bit match, i.e. 1032 bytes per input byte. */
const MAX_EXPANSION = 1032;
/** Output chunk of both engines, bytes. */
const CHUNK_SIZE = 16384;
/** pako's output buffer, shared by every decompressor: inflating is synchronous and output is copied out. */
const PAKO_SCRATCH = new Uint8Array(CHUNK_SIZE);

/** Gathers output chunks and enforces the limit. */
class Output {
  private chunks: Buffer[] = [];
  private total = 0;
  constructor(private readonly limit: number) {}
  add(chunk: Buffer): void {
    this.total += chunk.length;
    if (this.total > this.limit) {
      throw new CompressionError(`header block inflates past the limit of ${this.limit} bytes`);
    }
    this.chunks.push(chunk);
  }
  result(): Buffer {
    const c = this.chunks;
    return c.length === 0 ? EMPTY : c.length === 1 ? c[0]! : Buffer.concat(c, this.total);
  }
}

class ZlibSyncEngine implements Engine {
  private readonly inf: ZlibSyncInflate;
  constructor(zs: ZlibSyncModule) {
    this.inf = new zs.Inflate({ windowBits: -15, chunkSize: CHUNK_SIZE });
    // One non-final stored block (BFINAL=0, BTYPE=00) holding the dictionary primes the window.
    const n = SPDY3_DICTIONARY.length;
    const prime = Buffer.allocUnsafe(5 + n);
    prime[0] = 0x00;
    prime.writeUInt16LE(n, 1);
    prime.writeUInt16LE(~n & 0xffff, 3);
    SPDY3_DICTIONARY.copy(prime, 5);
    this.inf.push(prime, Z_SYNC_FLUSH);
    const out = this.inf.result;
    if (this.inf.err !== Z_OK || out === null || out.length !== n) {
      throw new CompressionError(`zlib-sync: priming the dictionary failed (${this.inf.msg ?? this.inf.err})`);
    }
  }

  inflate(input: Buffer, limit: number): Buffer {
    const out = new Output(limit);
    const slice = Math.max(64, Math.floor(limit / MAX_EXPANSION));
    for (let off = 0; off < input.length; off += slice) {
      this.feed(input.length <= slice ? input : input.subarray(off, off + slice), out);
    }
    return out.result();
  }

  private feed(part: Buffer, out: Output): void {
    const inf = this.inf;
    inf.push(part, Z_SYNC_FLUSH);
    for (;;) {
      const err = inf.err; // a native getter: read it once
      if (err !== Z_OK) {
        // Z_BUF_ERROR ("no progress possible") is expected from the empty drain push below only.
        if (err === Z_BUF_ERROR && part.length === 0) return;
        throw new CompressionError(`corrupt header block: ${err === Z_STREAM_END ? 'the zlib stream ended' : (inf.msg ?? `zlib error ${err}`)}`);
      }
      const r = inf.result as Buffer;
      if (r.length > 0) out.add(r);
      // zlib-sync stops when its input is used up even if its buffer (a multiple of CHUNK_SIZE) was
      // just filled while inflate still held output: an empty push drains what is pending.
      if (r.length === 0 || r.length % CHUNK_SIZE !== 0) return;
      part = EMPTY;
      inf.push(part, Z_SYNC_FLUSH);
    }
  }
}

class PakoEngine implements Engine {
  private readonly strm = new ZStream();
  constructor() {
    let status = zlibInflateInit2(this.strm, -15);
    if (status === Z_OK) status = zlibInflateSetDictionary(this.strm, SPDY3_DICTIONARY);
    if (status !== Z_OK) throw new CompressionError(`pako: cannot initialise inflate (status ${status})`);
  }

  inflate(input: Buffer, limit: number): Buffer {
    const s = this.strm;
    const out = new Output(limit);
    s.input = input;
    s.next_in = 0;
    s.avail_in = input.length;
    for (;;) {
      s.output = PAKO_SCRATCH;
      s.next_out = 0;
      s.avail_out = CHUNK_SIZE;
      const status = zlibInflate(s, Z_SYNC_FLUSH);
      if (status !== Z_OK && status !== Z_BUF_ERROR) {
        const why = status === Z_STREAM_END ? 'the zlib stream ended' : s.msg || `zlib error ${status}`;
        throw new CompressionError(`corrupt header block: ${why}`);
      }
      if (s.next_out > 0) out.add(Buffer.from(PAKO_SCRATCH.subarray(0, s.next_out)));
      // Output space left means inflate stopped for want of input: everything decodable is out.
      if (s.avail_out > 0) return out.result();
    }
  }
}

/**
 * Checks and strips the first block's zlib prefix (RFC 1950 §2.2): CMF (CM = 8 deflate, CINFO ≤ 7),
 * FLG (FCHECK: CMF·256 + FLG is a multiple of 31; FDICT set), then DICTID, which must be the SPDY/3
 * dictionary's Adler-32 0xe3c6a7c2.
 */
function stripZlibHeader(block: Buffer): Buffer {
  if (block.length < 6) {
    throw new CompressionError(`first header block of ${block.length} bytes is too short for the zlib header and DICTID`);
  }
  const cmf = block[0]!;
  const flg = block[1]!;
  if ((cmf & 0x0f) !== 8 || cmf >> 4 > 7) {
    throw new CompressionError(`bad zlib header: CMF 0x${cmf.toString(16)} is not deflate with a window ≤ 32 KiB`);
  }
  if (((cmf << 8) | flg) % 31 !== 0) throw new CompressionError('bad zlib header: FCHECK mismatch');
  if ((flg & 0x20) === 0) throw new CompressionError('bad zlib header: FDICT not set, the SPDY/3 dictionary is required');
  const dictId = block.readUInt32BE(2);
  if (dictId !== SPDY3_DICTIONARY_ID) {
    throw new CompressionError(`zlib DICTID 0x${dictId.toString(16).padStart(8, '0')} is not the SPDY/3 dictionary (0xe3c6a7c2)`);
  }
  return block.subarray(6);
}

/**
 * Inflates the header blocks received on one connection, in wire order, with one shared stream.
 * After any error the decompressor is dead: the shared zlib state is lost, so the session must fail
 * (GOAWAY PROTOCOL_ERROR); every later call throws the same error.
 */
export class HeaderDecompressor {
  /** The engine in use. */
  readonly implementation: InflateImplementation;
  private readonly maxInflatedSize: number;
  private readonly engine: Engine;
  private headerSeen = false;
  private dead: CompressionError | null = null;

  /**
   * @throws InvalidArgumentError for a `maxInflatedSize` that is not a positive integer.
   * @throws CompressionError when `implementation: 'zlib-sync'` is asked for and cannot be loaded.
   */
  constructor(options: HeaderDecompressorOptions = {}) {
    const max = options.maxInflatedSize ?? DEFAULT_MAX_INFLATED_SIZE;
    if (!Number.isInteger(max) || max < 1) {
      throw new InvalidArgumentError(`maxInflatedSize must be a positive integer, got ${max}`);
    }
    this.maxInflatedSize = max;
    const wanted = options.implementation ?? 'pako';
    const zs = wanted === 'pako' ? null : loadZlibSync();
    if (wanted === 'zlib-sync' && zs === null) {
      throw new CompressionError('zlib-sync was asked for but cannot be loaded', { cause: zlibSyncLoadError });
    }
    this.implementation = zs !== null ? 'zlib-sync' : 'pako';
    this.engine = zs !== null ? new ZlibSyncEngine(zs) : new PakoEngine();
  }

  /**
   * Inflates one compressed header block (the `headerBlock` of a SYN_STREAM, SYN_REPLY or HEADERS).
   * An empty block returns an empty buffer and leaves the stream untouched.
   * @returns the uncompressed block, for `parseHeaderBlock`.
   * @throws CompressionError for a bad zlib header or DICTID on the first block, corrupt deflate data,
   *   a stream that ends (a final deflate block), or output beyond `maxInflatedSize`.
   */
  decompress(block: Buffer): Buffer {
    if (this.dead !== null) throw this.dead;
    if (block.length === 0) return EMPTY;
    try {
      let input = block;
      if (!this.headerSeen) {
        input = stripZlibHeader(block);
        this.headerSeen = true;
      }
      return this.engine.inflate(input, this.maxInflatedSize);
    } catch (err) {
      this.dead = err instanceof CompressionError ? err : new CompressionError(`inflate failed: ${String(err)}`, { cause: err });
      throw this.dead;
    }
  }
}
