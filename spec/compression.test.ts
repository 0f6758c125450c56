/**
 * lib/compression: the dictionary, the header-block codec, and the compressor/decompressor pair.
 * The decompressor suite runs once per engine (zlib-sync, pako) against reference vectors, our own
 * compressor, Node's zlib, pako with a small window, bombs and corrupt input.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import zlib from 'node:zlib';
import { Deflate as PakoDeflate, Z_SYNC_FLUSH } from 'pako';
import t, { type Test } from 'tap';
import { CompressionError, StreamError } from '../lib/errors.js';
import { RstStatus } from '../lib/frames/constants.js';
import type { Headers } from '../lib/frames/types.js';
import {
  DEFAULT_MAX_INFLATED_SIZE,
  HeaderCompressor,
  HeaderDecompressor,
  SPDY3_DICTIONARY,
  SPDY3_DICTIONARY_ID,
  isZlibSyncAvailable,
  parseHeaderBlock,
  serializeHeaderBlock,
  type HeaderBlockLimits,
  type InflateImplementation,
} from '../lib/compression/index.js';

const VECTORS = new URL('../fixtures/vectors/', import.meta.url);
const vector = (name: string): Buffer => Buffer.from(readFileSync(new URL(`${name}.hex`, VECTORS), 'utf8').trim(), 'hex');
const LIMITS = { maxHeaderCount: 1000 };
const parse = (b: Buffer): Headers => ({ ...parseHeaderBlock(b, LIMITS) });

function adler32(buf: Buffer): number {
  let a = 1;
  let b = 0;
  for (const byte of buf) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** Compresses `blocks` with one Node zlib stream, Z_SYNC_FLUSH after each (how spdy-transport does it). */
async function nodeDeflate(blocks: Buffer[], options: zlib.ZlibOptions): Promise<Buffer[]> {
  const d = zlib.createDeflate({ ...options, dictionary: SPDY3_DICTIONARY });
  let pending: Buffer[] = [];
  d.on('data', (c: Buffer) => pending.push(c));
  const out: Buffer[] = [];
  for (const b of blocks) {
    d.write(b);
    await new Promise<void>((resolve) => d.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
    await new Promise((resolve) => setImmediate(resolve));
    out.push(Buffer.concat(pending));
    pending = [];
  }
  d.close();
  return out;
}

/** Compresses `blocks` with pako's own Deflate wrapper (not our compressor), Chromium-like settings. */
function pakoDeflate(blocks: Buffer[], windowBits: number, memLevel: number, level = 9): Buffer[] {
  const d = new PakoDeflate({ level, windowBits, memLevel, dictionary: SPDY3_DICTIONARY });
  return blocks.map((b) => {
    d.push(b, Z_SYNC_FLUSH);
    const c = Buffer.concat(d.chunks);
    d.chunks = [];
    return c;
  });
}

/** Varied header sets: port-forward streams, HTTP-like blocks, multi-values, and a few large values. */
function headerSets(n: number): Headers[] {
  const out: Headers[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 3 === 0) out.push({ streamtype: i % 2 ? 'data' : 'error', port: String(8000 + (i % 50)), requestid: String(i) });
    else if (i % 97 === 0) out.push({ big: 'x'.repeat(20000 + i) + String(i), other: 'y'.repeat(40000) });
    else
      out.push({
        ':method': 'POST',
        ':path': `/api/v1/namespaces/ns${i % 7}/pods/p-${i}/portforward`,
        ':version': 'HTTP/1.1',
        'user-agent': `kubectl/v1.${i % 33}.0`,
        'x-multi': `a${i}\0b\0c`,
        'x-utf8': `é${i}ü`,
        empty: '',
      });
  }
  return out;
}

t.test('dictionary: 1423 bytes, Adler-32 0xe3c6a7c2, reference SHA-256', async (t) => {
  t.equal(SPDY3_DICTIONARY.length, 1423);
  t.equal(adler32(SPDY3_DICTIONARY), 0xe3c6a7c2);
  t.equal(SPDY3_DICTIONARY_ID, 0xe3c6a7c2);
  t.equal(createHash('sha256').update(SPDY3_DICTIONARY).digest('hex'), '51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02');
  t.equal(SPDY3_DICTIONARY.subarray(0, 11).toString('latin1'), '\0\0\0\x07options');
  t.equal(SPDY3_DICTIONARY.subarray(-7).toString('latin1'), ',enq=0.');
});

t.test('compressor output: zlib header with FDICT + DICTID on the first block only, sync-flushed', async (t) => {
  const c = new HeaderCompressor();
  const first = c.compress({ a: 'b' });
  const second = c.compress({ a: 'b' });
  t.equal(first[0]! & 0x0f, 8, 'CM deflate');
  t.equal(((first[0]! << 8) | first[1]!) % 31, 0, 'FCHECK');
  t.ok(first[1]! & 0x20, 'FDICT');
  t.equal(first.readUInt32BE(2), 0xe3c6a7c2, 'DICTID');
  t.not(second.readUInt32BE(2), 0xe3c6a7c2, 'no second header');
  for (const b of [first, second]) t.equal(b.subarray(-4).toString('hex'), '0000ffff', 'ends with the sync-flush marker');
  t.throws(() => c.compress({ Bad: 'x' }), { code: 'ERR_INVALID_ARG' });
  t.same(parse(new HeaderDecompressor().decompress(Buffer.concat([first]))), { a: 'b' }, 'still usable after an invalid header');
  for (const bad of [{ level: 10 }, { level: -1 }, { windowBits: 8 }, { memLevel: 0 }]) t.throws(() => new HeaderCompressor(bad), { code: 'ERR_INVALID_ARG' });
});

/** 16 MiB of zeros at level 9: about 16 KB, i.e. a control frame that inflates ~1000-fold. */
const BOMB = new HeaderCompressor({ level: 9, windowBits: 15, memLevel: 9 }) // an attacker's best ratio
  .compressBlock(Buffer.alloc(16 * 1024 * 1024));

const engines: InflateImplementation[] = ['zlib-sync', 'pako'];
for (const impl of engines) {
  const skip = impl === 'zlib-sync' && !isZlibSyncAvailable() ? 'zlib-sync cannot be loaded (optional native dependency)' : false;
  t.test(`decompressor: ${impl}`, { skip }, async (t) => suite(t, impl));
}

t.test("pako is the default; 'auto' picks zlib-sync when it loads", async (t) => {
  t.equal(new HeaderDecompressor().implementation, 'pako', 'pako by default (zlib-sync leaks its native state)');
  t.equal(new HeaderDecompressor({ implementation: 'auto' }).implementation, isZlibSyncAvailable() ? 'zlib-sync' : 'pako');
  t.equal(new HeaderDecompressor({ implementation: 'pako' }).implementation, 'pako');
  t.throws(() => new HeaderDecompressor({ maxInflatedSize: 0 }), { code: 'ERR_INVALID_ARG' });
  t.equal(DEFAULT_MAX_INFLATED_SIZE, 262144);
});

async function suite(t: Test, impl: InflateImplementation): Promise<void> {
  const make = (maxInflatedSize?: number) => new HeaderDecompressor({ implementation: impl, maxInflatedSize });
  const isError = (t: Test, fn: () => unknown, re: RegExp, msg: string) => {
    let err: unknown;
    try {
      fn();
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof CompressionError, `${msg}: CompressionError`);
    t.match((err as Error)?.message, re, msg);
    return err;
  };

  t.test('reference vectors', async (t) => {
    const d = make();
    t.equal(d.implementation, impl);
    t.same(parse(d.decompress(vector('syn-reply-stored').subarray(12))), { there: 'there', ':status': '200 OK', ':version': 'HTTP/1.1' });
    t.same(parse(d.decompress(vector('headers-after-syn-reply').subarray(12))), { more: 'headers' }, 'same context, no zlib header');
    t.same(parse(make().decompress(vector('chromium-wb11-block'))), { bar: 'foo', foo: 'bar' }, 'Chromium, windowBits 11');
    t.same(parse(make().decompress(vector('syn-stream').subarray(18))), { ':method': 'GET', ':path': '/' }, 'spdy-transport');
    t.equal(make().decompress(Buffer.alloc(0)).length, 0, 'empty block');
  });

  t.test('our compressor, 1000 successive blocks in one context, several levels', async (t) => {
    const sets = headerSets(1000);
    for (const opts of [{}, { level: 0 }, { level: 1 }, { level: 9 }, { level: 6, windowBits: 11, memLevel: 1 }]) {
      const c = new HeaderCompressor(opts);
      const d = make();
      let bad = 0;
      for (const h of sets) if (JSON.stringify(parse(d.decompress(c.compress(h)))) !== JSON.stringify(h)) bad++;
      t.equal(bad, 0, `${JSON.stringify(opts)}: 1000 blocks`);
    }
  });

  t.test('blocks made by other zlibs: Node zlib (windowBits 15, 11, stored) and pako (windowBits 11)', async (t) => {
    const sets = headerSets(200);
    const raws = sets.map(serializeHeaderBlock);
    const streams: [string, Buffer[]][] = [
      ['node level 6 wb 15', await nodeDeflate(raws, { level: 6, windowBits: 15 })],
      ['node level 9 wb 11 mem 1', await nodeDeflate(raws, { level: 9, windowBits: 11, memLevel: 1 })],
      ['node level 0 (stored)', await nodeDeflate(raws, { level: 0 })],
      ['node level 0 (stored) wb 11', await nodeDeflate(raws, { level: 0, windowBits: 11 })],
      ['pako wb 11 mem 1', pakoDeflate(raws, 11, 1)],
      ['pako wb 9', pakoDeflate(raws, 9, 8, 1)],
    ];
    for (const [name, blocks] of streams) {
      t.equal(blocks.length, raws.length);
      const d = make();
      let bad = 0;
      blocks.forEach((b, i) => {
        if (!d.decompress(b).equals(raws[i]!)) bad++;
      });
      t.equal(bad, 0, `${name}: ${blocks.length} blocks (first header ${blocks[0]!.subarray(0, 2).toString('hex')})`);
    }
  });

  t.test('large and highly compressible blocks come out whole', async (t) => {
    // Sizes around multiples of 16 KiB: zlib-sync's output buffer boundary (see the drain in inflate.ts).
    for (const size of [16380, 16384, 16388, 16485, 32768, 65536 + 3, 200000]) {
      const raw = Buffer.alloc(size, 0x61);
      for (const cut of [0, 4]) {
        const whole = zlib.deflateSync(raw, { dictionary: SPDY3_DICTIONARY, finishFlush: zlib.constants.Z_SYNC_FLUSH, level: 9 });
        // cut 4: without the trailing 00 00 ff ff the last input byte is deflate data, not a marker.
        const block = whole.subarray(0, whole.length - cut);
        t.equal(make().decompress(block).length, size, `${size} bytes, cut ${cut}`);
      }
    }
  });

  t.test('bombs: output is bounded by maxInflatedSize', async (t) => {
    const bomb = BOMB;
    t.ok(bomb.length < 20000, `16 MiB of zeros in ${bomb.length} bytes`);
    const d = make();
    const err = isError(t, () => d.decompress(bomb), /past the limit of 262144 bytes/, 'default limit');
    t.equal(isError(t, () => d.decompress(bomb), /past the limit/, 'dead'), err, 'the same error on every later call');
    for (const size of [1000, 5000, 100000]) {
      const block = new HeaderCompressor().compressBlock(Buffer.alloc(size, 0x62));
      t.equal(make(size).decompress(block).length, size, `exactly the limit (${size}) passes`);
      isError(t, () => make(size - 1).decompress(block), new RegExp(`limit of ${size - 1} bytes`), `one byte over ${size - 1}`);
    }
    const small = make(1024);
    const c2 = new HeaderCompressor();
    t.equal(small.decompress(c2.compressBlock(Buffer.alloc(1000))).length, 1000);
    isError(t, () => small.decompress(c2.compressBlock(Buffer.alloc(1025))), /limit of 1024/, 'later block over the limit');
  });

  t.test('bad zlib header or dictionary id', async (t) => {
    const good = vector('syn-stream').subarray(18);
    const patch = (i: number, bytes: number[]) => {
      const b = Buffer.from(good);
      b.set(bytes, i);
      return b;
    };
    isError(t, () => make().decompress(patch(2, [0xdf, 0xa2, 0x51, 0xb2])), /DICTID 0xdfa251b2 is not the SPDY\/3 dictionary/, 'SPDY/2 DICTID');
    isError(t, () => make().decompress(patch(0, [0x78, 0x9c])), /FDICT not set/, 'no FDICT');
    isError(t, () => make().decompress(patch(0, [0x78, 0xfa])), /FCHECK/, 'FCHECK');
    isError(t, () => make().decompress(patch(0, [0x77, 0xf9])), /CMF 0x77/, 'CM 7');
    isError(t, () => make().decompress(patch(0, [0x88, 0xf9])), /CMF 0x88/, 'CINFO 8');
    isError(t, () => make().decompress(good.subarray(0, 5)), /too short/, 'short first block');
    const d = make();
    const err = isError(t, () => d.decompress(patch(2, [0, 0, 0, 1])), /DICTID 0x00000001/, 'zero-ish DICTID');
    t.equal(isError(t, () => d.decompress(good), /DICTID/, 'dead'), err);
  });

  t.test('corrupt deflate data', async (t) => {
    const head = Buffer.from('78f9e3c6a7c2', 'hex');
    isError(t, () => make().decompress(Buffer.concat([head, Buffer.from([0x07, 0, 0])])), /corrupt header block/, 'BTYPE 11 (reserved)');
    isError(t, () => make().decompress(Buffer.concat([head, Buffer.from('0000000000', 'hex')])), /corrupt header block/, 'stored LEN/NLEN mismatch');
    const c = new HeaderCompressor();
    const d = make();
    d.decompress(c.compress({ a: 'b' }));
    const second = c.compress({ c: 'd' });
    const corrupt = Buffer.from(second);
    corrupt[0] = 0xff;
    isError(t, () => d.decompress(corrupt), /corrupt header block/, 'corrupt later block');
    isError(t, () => d.decompress(second), /corrupt header block/, 'dead afterwards');
    // A stream that ends (Z_FINISH, final block) cannot carry the connection's later blocks.
    const finished = zlib.deflateSync(serializeHeaderBlock({ a: 'b' }), { dictionary: SPDY3_DICTIONARY });
    isError(t, () => make().decompress(finished), /the zlib stream ended/, 'final deflate block');
    // Random garbage after a valid header must fail or inflate within the limit, never hang or crash.
    let r = 12345;
    for (let i = 0; i < 300; i++) {
      const junk = Buffer.alloc(1 + (i % 200));
      for (let j = 0; j < junk.length; j++) junk[j] = (r = (r * 1103515245 + 12345) >>> 0) >>> 24;
      try {
        t.ok(make(4096).decompress(Buffer.concat([head, junk])).length <= 4096);
      } catch (e) {
        if (!(e instanceof CompressionError)) throw e;
      }
    }
  });
}

t.test('serializeHeaderBlock', async (t) => {
  // The uncompressed payload of the HEADERS vector: count 1, "more", "headers".
  t.equal(serializeHeaderBlock({ more: 'headers' }).toString('hex'), '00000001' + '00000004' + '6d6f7265' + '00000007' + '68656164657273');
  t.equal(serializeHeaderBlock({}).toString('hex'), '00000000');
  const h = { ':status': '200', multi: 'a\0b', empty: '', utf8: 'é€' };
  t.same(parse(serializeHeaderBlock(h)), h);
  const bad: [string, Headers][] = [
    ['empty name', { '': 'x' }],
    ['upper case', { Host: 'x' }],
    ['non-ASCII name', { 'café': 'x' }],
    ['space in name', { 'a b': 'x' }],
    ['NUL in name', { 'a\0': 'x' }],
    ['leading NUL', { a: '\0x' }],
    ['trailing NUL', { a: 'x\0' }],
    ['empty segment', { a: 'x\0\0y' }],
    ['non-string value', { a: 5 as unknown as string }],
  ];
  for (const [name, headers] of bad) t.throws(() => serializeHeaderBlock(headers), { code: 'ERR_INVALID_ARG' }, name);
});

t.test('parseHeaderBlock: limits and validation', async (t) => {
  /** Builds a raw block: count, then [name, value] pairs as latin1/utf8-free byte strings. */
  const block = (count: number, pairs: [string, string][], tail = ''): Buffer => {
    const parts = [Buffer.alloc(4)];
    parts[0]!.writeUInt32BE(count);
    for (const [n, v] of pairs) {
      for (const s of [n, v]) {
        const len = Buffer.alloc(4);
        len.writeUInt32BE(Buffer.byteLength(s, 'latin1'));
        parts.push(len, Buffer.from(s, 'latin1'));
      }
    }
    parts.push(Buffer.from(tail, 'latin1'));
    return Buffer.concat(parts);
  };
  const fails = (b: Buffer, re: RegExp, name: string, status: number = RstStatus.PROTOCOL_ERROR, limits: HeaderBlockLimits = LIMITS) => {
    let err: unknown;
    try {
      parseHeaderBlock(b, limits, 7);
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof StreamError, `${name}: StreamError`);
    const se = err as StreamError;
    t.equal(se.streamId, 7, `${name}: stream id`);
    t.equal(se.status, status, `${name}: status`);
    t.match(se.message, re, name);
  };
  t.same(parse(block(2, [['a', 'b\0c'], ['d', '']])), { a: 'b\0c', d: '' });
  const proto = parseHeaderBlock(block(1, [['__proto__', 'x']]), LIMITS);
  t.equal(Object.getPrototypeOf(proto), null, 'null prototype');
  t.equal(proto['__proto__'], 'x', '__proto__ is plain data');

  fails(Buffer.from('000000', 'hex'), /no count/, 'shorter than the count');
  fails(block(1001, []), /1001 pairs exceeds the limit of 1000/, 'count over maxHeaderCount', RstStatus.FRAME_TOO_LARGE);
  fails(block(0xffffffff, []), /exceeds the limit/, 'count 2^32-1', RstStatus.FRAME_TOO_LARGE);
  fails(block(0xffffffff, []), /count 4294967295 does not fit/, 'count 2^32-1, no count limit', RstStatus.PROTOCOL_ERROR, { maxHeaderCount: Infinity });
  fails(block(2, [['a', 'b']]), /does not fit/, 'count larger than the bytes allow');
  fails(block(2, [['a', 'x'.repeat(20)]], '\0\0'), /truncated in pair 1/, 'second pair cut short');
  fails(block(2, [['a', 'b']], '\0\0\0\0\0\0\0\0\0'), /name length 0|empty header name/, 'second pair empty');
  fails(Buffer.concat([block(1, []), Buffer.from('ffffffff00000000ff', 'hex')]), /name length 4294967295 exceeds/, 'name length 2^32-1');
  fails(Buffer.concat([block(1, []), Buffer.from('0000000161ffffffff', 'hex')]), /value length 4294967295 exceeds/, 'value length 2^32-1');
  fails(Buffer.concat([block(1, []), Buffer.from('00000001610000000462', 'hex')]), /value length 4 exceeds the 1 bytes left/, 'value truncated');
  fails(block(1, [['a', 'b']], 'x'), /1 trailing bytes/, 'trailing garbage');
  fails(block(1, [['', 'b']], 'xxxx'), /empty header name/, 'empty name');
  fails(block(1, [['Host', 'b']]), /upper-case/, 'upper-case name');
  fails(block(1, [['caf\u00e9', 'b']]), /outside printable US-ASCII/, 'non-ASCII name');
  fails(block(1, [['a b', 'b']]), /outside printable US-ASCII/, 'space in name');
  fails(block(2, [['a', 'b'], ['a', 'c']]), /duplicate header name "a"/, 'duplicate');
  fails(block(1, [['a', '\0b']]), /starts or ends with NUL/, 'leading NUL');
  fails(block(1, [['a', 'b\0']]), /starts or ends with NUL/, 'trailing NUL');
  fails(block(1, [['a', '\0']]), /starts or ends with NUL/, 'only NUL');
  fails(block(1, [['a', 'b\0\0c']]), /empty NUL-separated segment/, 'empty segment');
  const list = block(2, [['aa', 'bbbb'], ['cc', 'dddd']]); // 2 × (2 + 4 + 32) = 76 bytes
  t.same(parse(list), { aa: 'bbbb', cc: 'dddd' });
  t.doesNotThrow(() => parseHeaderBlock(list, { maxHeaderCount: 2, maxHeaderListSize: 76 }));
  fails(list, /header list exceeds the limit of 75 bytes/, 'maxHeaderListSize', RstStatus.FRAME_TOO_LARGE, { maxHeaderCount: 2, maxHeaderListSize: 75 });
});
