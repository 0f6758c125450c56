// Property tests (fast-check): header blocks with arbitrary names and values round-trip through every
// deflater/inflater pair — kube-spdy's HeaderCompressor at every level, window and memLevel, pako with a
// Chromium-like 2 KiB window, Node's zlib (spdy-transport's path) — into pako and zlib-sync, over one
// shared zlib stream per direction, carried in frames split at arbitrary points.
import t from 'tap';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { Deflate, Z_SYNC_FLUSH } from 'pako';
import {
  HeaderCompressor,
  HeaderDecompressor,
  parseHeaderBlock,
  serializeHeaderBlock,
  isZlibSyncAvailable,
  SPDY3_DICTIONARY,
} from '../lib/compression/index.js';
import { FrameDecoder, encodeHeaders, FrameType } from '../lib/frames/index.js';
import type { Headers } from '../lib/frames/index.js';
import { fcOptions, splits } from './property-helpers.js';
import { InvalidArgumentError } from '../lib/errors.js';

/** Valid names: printable US-ASCII without upper case, non-empty. Values: UTF-8, NUL only between non-empty segments. */
const nameArb = fc.stringMatching(/^[!-@[-~]{1,24}$/);
const segment = fc.string({ unit: fc.constantFrom(...Array.from('abcxyz019 -_./:=é€😀')), minLength: 1, maxLength: 20 });
const valueArb = fc.oneof(fc.constant(''), fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => s.join('\0')), fc.string({ maxLength: 200 }).map((s) => s.replace(/\0/g, '')));
export const headersArb: fc.Arbitrary<Headers> = fc.dictionary(nameArb, valueArb, { maxKeys: 12 }).map((h) => {
  const out: Headers = {};
  for (const [k, v] of Object.entries(h)) out[k] = v;
  return out;
});

type Deflater = { name: string; make: () => (block: Buffer) => Promise<Buffer> };

const deflaters: Deflater[] = [
  ...[0, 1, 3, 6, 9].map((level) => ({ name: `HeaderCompressor level ${level}`, make: () => sync(new HeaderCompressor({ level })) })),
  { name: 'HeaderCompressor windowBits 9 memLevel 1', make: () => sync(new HeaderCompressor({ windowBits: 9, memLevel: 1 })) },
  { name: 'HeaderCompressor windowBits 11', make: () => sync(new HeaderCompressor({ windowBits: 11 })) },
  {
    name: 'pako Deflate windowBits 11 (Chromium-like)',
    make: () => {
      const d = new Deflate({ level: 6, windowBits: 11, dictionary: SPDY3_DICTIONARY });
      return async (raw) => {
        const chunks: Uint8Array[] = [];
        d.onData = (c: Uint8Array) => chunks.push(c);
        d.push(raw, Z_SYNC_FLUSH);
        return Buffer.concat(chunks);
      };
    },
  },
  {
    name: "Node zlib deflate stream (spdy-transport's path)",
    make: () => {
      const d = zlib.createDeflate({ dictionary: SPDY3_DICTIONARY, level: 9 });
      const chunks: Buffer[] = [];
      d.on('data', (c: Buffer) => chunks.push(c));
      return (raw) =>
        new Promise((resolve) => {
          d.write(raw);
          d.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve(Buffer.concat(chunks.splice(0))));
        });
    },
  },
];

function sync(c: HeaderCompressor): (raw: Buffer) => Promise<Buffer> {
  // HeaderCompressor serializes itself; the raw block is parsed back to headers first.
  return async (raw) => c.compress(parseHeaderBlock(raw, { maxHeaderCount: 1000 }));
}

const inflaters: ('pako' | 'zlib-sync')[] = isZlibSyncAvailable() ? ['pako', 'zlib-sync'] : ['pako'];
if (process.env.CI && inflaters.length < 2) t.comment('zlib-sync is not installed here: only pako inflates');

for (const d of deflaters) {
  for (const impl of inflaters) {
    t.test(`${d.name} → ${impl}: arbitrary header blocks, one zlib stream, frames split anywhere`, async (t) => {
      await fc.assert(
        fc.asyncProperty(fc.array(headersArb, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), async (blocks, cuts) => {
          const deflate = d.make();
          const wire: Buffer[] = [];
          for (let i = 0; i < blocks.length; i++) wire.push(encodeHeaders(1 + 2 * i, 0, await deflate(serializeHeaderBlock(blocks[i]!))));
          const dec = new FrameDecoder();
          const inflate = new HeaderDecompressor({ implementation: impl });
          const got: Headers[] = [];
          for (const c of splits(Buffer.concat(wire), cuts)) {
            dec.push(c);
            for (let f = dec.next(); f !== null; f = dec.next()) {
              if (f.type !== FrameType.HEADERS) return false;
              got.push(parseHeaderBlock(inflate.decompress(f.headerBlock), { maxHeaderCount: 1000 }));
            }
          }
          return JSON.stringify(got) === JSON.stringify(blocks);
        }),
        fcOptions(25),
      );
    });
  }
}

t.test('serializeHeaderBlock ∘ parseHeaderBlock is the identity on valid blocks', async (t) => {
  fc.assert(
    fc.property(headersArb, (h) => JSON.stringify(parseHeaderBlock(serializeHeaderBlock(h), { maxHeaderCount: 1000 })) === JSON.stringify(h)),
    fcOptions(300),
  );
  t.pass();
});

t.test('arbitrary (possibly invalid) blocks: the parser returns headers or throws a typed error, never more than maxHeaderCount pairs', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat({ max: 20 }), (bytes, n) => {
      const b = Buffer.from(bytes);
      if (b.length >= 4 && n < 10) b.writeUInt32BE(n, 0);
      try {
        const h = parseHeaderBlock(b, { maxHeaderCount: 8 });
        return Object.keys(h).length <= 8;
      } catch (err) {
        return typeof (err as { code?: unknown }).code === 'string';
      }
    }),
    fcOptions(500),
  );
  t.pass();
});

t.test('arbitrary strings (lone surrogates included): serialize round-trips exactly or throws, never changes a value', async (t) => {
  fc.assert(
    fc.property(fc.dictionary(nameArb, fc.string({ unit: 'binary', maxLength: 30 }), { maxKeys: 4 }), (h) => {
      let raw: Buffer;
      try {
        raw = serializeHeaderBlock(h);
      } catch (err) {
        return err instanceof InvalidArgumentError;
      }
      return JSON.stringify(parseHeaderBlock(raw, { maxHeaderCount: 1000 })) === JSON.stringify({ ...h });
    }),
    fcOptions(500),
  );
  t.pass();
});

t.test('fixtures found by these properties stay fixed (fixtures/property/)', async (t) => {
  const dir = new URL('../fixtures/property/', import.meta.url);
  const { readdir, readFile } = await import('node:fs/promises');
  for (const f of (await readdir(dir)).filter((n) => n.startsWith('header-'))) {
    const fixture = JSON.parse(await readFile(new URL(f, dir), 'utf8')) as { cases: Headers[] };
    for (const h of fixture.cases) t.throws(() => serializeHeaderBlock(h), InvalidArgumentError, `${f}: ${JSON.stringify(h)} is refused, not altered`);
  }
});
