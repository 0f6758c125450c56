/**
 * Suite `codec`: SPDY header blocks per second, for each header deflater and inflater kube-spdy has
 * (pako deflate; zlib-sync and pako inflate, each + parseHeaderBlock), on port-forward-sized blocks
 * (`streamtype`, `port`, `requestid`: 61 bytes) and ~1 KiB blocks; against Node's async zlib streams with a
 * flush per block (spdy-transport's header path). One zlib context per case, as on a connection.
 */
import zlib from 'node:zlib';
import { HeaderCompressor } from '../../compression/deflate.js';
import { HeaderDecompressor, isZlibSyncAvailable } from '../../compression/inflate.js';
import { SPDY3_DICTIONARY } from '../../compression/dictionary.js';
import { parseHeaderBlock, serializeHeaderBlock } from '../../compression/header-block.js';
import type { Headers } from '../../frames/types.js';
import type { CaseDef, Sample, Suite } from '../harness.js';

const VARIANTS = 90;

function portForwardHeaders(i: number): Headers {
  return { streamtype: i % 2 ? 'data' : 'error', port: '8080', requestid: String(10 + (i >> 1)) };
}

/** ~1 KiB: an HTTP-ish request with a bearer token, a few varying fields. */
function kibHeaders(i: number): Headers {
  const token = Array.from({ length: 540 }, (_, j) => String.fromCharCode(65 + ((j * 7 + 3) % 26))).join('');
  return {
    ':method': 'POST',
    ':path': `/api/v1/namespaces/default/pods/web-${i}/portforward`,
    ':version': 'HTTP/1.1',
    ':host': 'kubernetes.default.svc:443',
    ':scheme': 'https',
    authorization: `Bearer ${token}`,
    'user-agent': 'kubectl/v1.32.4 (linux/amd64) kubernetes/5a4d2b1',
    accept: 'application/json, */*',
    'x-request-id': `0f8e${String(100000 + i)}-aa11-4c2d-9e3f-${String(i).padStart(12, '0')}`,
    'x-stream-protocol-version': 'portforward.k8s.io',
    'content-type': 'application/octet-stream',
    streamtype: 'data',
    port: String(8000 + (i % 7)),
    requestid: String(i),
  };
}

const SHAPES = {
  portforward: { label: 'port-forward blocks', make: portForwardHeaders },
  kib: { label: '1 KiB blocks', make: kibHeaders },
};

/** Counts `op()` calls in `ms` (checking the clock every 64 calls). */
function timed(ms: number, op: (i: number) => void): Sample {
  const t0 = performance.now();
  const end = t0 + ms;
  let i = 0;
  while (true) {
    for (let k = 0; k < 64; k++) op(i++);
    if (performance.now() >= end) break;
  }
  return { rate: i / ((performance.now() - t0) / 1000) };
}

/** Node's async zlib stream, one write + Z_SYNC_FLUSH per block (spdy-transport's header path). */
async function nodeZlib(kind: 'deflate' | 'inflate', input: Buffer[], ms: number): Promise<Sample> {
  const z = kind === 'deflate' ? zlib.createDeflate({ dictionary: SPDY3_DICTIONARY, level: 3 }) : zlib.createInflate({ dictionary: SPDY3_DICTIONARY });
  z.on('data', () => {});
  const t0 = performance.now();
  const end = t0 + ms;
  let i = 0;
  try {
    while (performance.now() < end) {
      z.write(input[i % input.length]!);
      await new Promise<void>((r) => z.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
      i++;
      if (kind === 'inflate' && i % input.length === 0) break; // the compressed stream is consumed once
    }
  } finally {
    z.destroy();
  }
  return { rate: i / ((performance.now() - t0) / 1000) };
}

export const codecSuite: Suite = {
  name: 'codec',
  description: 'SPDY header blocks/s per deflater and inflater, one zlib context per case',
  metrics: [{ key: 'rate', title: 'blocks/s' }],
  boundMs: { full: 25000, quick: 8000 },
  rounds: { full: 5, quick: 1 },
  warmup: true,
  async setup(ctx) {
    const ms = ctx.quick ? 150 : 400;
    const notes = [`${ms} ms per case; Node zlib = async streams with a Z_SYNC_FLUSH per block.`];
    const inflaters: ('zlib-sync' | 'pako')[] = isZlibSyncAvailable() ? ['zlib-sync', 'pako'] : ['pako'];
    if (!isZlibSyncAvailable()) notes.push('zlib-sync (optional dependency) cannot be loaded: its cases are skipped.');
    const cases: CaseDef[] = [];
    for (const [shape, { label, make }] of Object.entries(SHAPES)) {
      const headers = Array.from({ length: VARIANTS }, (_, i) => make(i));
      const raw = headers.map((h) => serializeHeaderBlock(h));
      // A compressed stream long enough for any case: inflaters read it from the start, in order.
      const total = ctx.quick ? 20000 : 100000;
      const comp = new HeaderCompressor();
      const blocks = Array.from({ length: total }, (_, i) => comp.compress(headers[i % VARIANTS]!));
      notes.push(`${label}: ${raw[1]!.length} bytes serialized, ~${Math.round(blocks.slice(1000, 2000).reduce((a, b) => a + b.length, 0) / 1000)} compressed.`);
      const group = `${label} (${raw[1]!.length} B)`;
      cases.push({
        id: `zlib-deflate-${shape}`,
        label: 'deflate, Node zlib stream (async)',
        short: 'Node zlib',
        group,
        run: () => nodeZlib('deflate', raw, ms),
      });
      cases.push({
        id: `deflate-${shape}`,
        label: 'deflate, kube-spdy HeaderCompressor (pako)',
        group,
        baselines: [`zlib-deflate-${shape}`],
        chart: [{ chart: 'header blocks/s', series: 'deflate (pako)', x: label }],
        run: async () => {
          const c = new HeaderCompressor();
          return timed(ms, (i) => c.compress(headers[i % VARIANTS]!));
        },
      });
      cases.push({
        id: `zlib-inflate-${shape}`,
        label: 'inflate, Node zlib stream (async)',
        short: 'Node zlib',
        group,
        run: () => nodeZlib('inflate', blocks, ms),
      });
      for (const impl of inflaters) {
        cases.push({
          id: `inflate-${impl}-${shape}`,
          label: `inflate, ${impl}`,
          group,
          baselines: [`zlib-inflate-${shape}`],
          chart: [{ chart: 'header blocks/s', series: `inflate (${impl})`, x: label }],
          run: async () => {
            let d = new HeaderDecompressor({ implementation: impl });
            return timed(ms, (n) => {
              const i = n % total; // past the end of the stream: start again with a fresh context
              if (i === 0 && n > 0) d = new HeaderDecompressor({ implementation: impl });
              d.decompress(blocks[i]!);
            });
          },
        });
        cases.push({
          id: `parse-${impl}-${shape}`,
          label: `inflate + parseHeaderBlock, ${impl}`,
          group,
          baselines: [`zlib-inflate-${shape}`],
          run: async () => {
            let d = new HeaderDecompressor({ implementation: impl });
            return timed(ms, (n) => {
              const i = n % total;
              if (i === 0 && n > 0) d = new HeaderDecompressor({ implementation: impl });
              const h = parseHeaderBlock(d.decompress(blocks[i]!), { maxHeaderCount: 128 });
              if (h.requestid !== headers[i % VARIANTS]!.requestid) throw new Error(`block ${i} decoded wrong`);
            });
          },
        });
      }
    }
    return { cases, notes };
  },
};
