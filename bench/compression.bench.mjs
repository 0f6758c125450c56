// Header-block compression throughput on port-forward header blocks.
//
//   npx tsc -p tsconfig.json && node bench/compression.bench.mjs [blocks]
//
// Blocks are `streamtype: data, port: 8080, requestid: N` with N in 10..99: 61 bytes uncompressed,
// the SYN_STREAM header block of one kubectl port-forward stream. Compression includes serializing
// the headers; decompression is inflate only, then inflate + parseHeaderBlock. One zlib context per
// run, as on a connection; each figure is the best of 3 runs (after one warm-up run).
import { Deflate, Z_SYNC_FLUSH } from 'pako';
import {
  DEFAULT_COMPRESSION_LEVEL,
  SPDY3_DICTIONARY,
  HeaderCompressor,
  HeaderDecompressor,
  isZlibSyncAvailable,
  parseHeaderBlock,
  serializeHeaderBlock,
} from '../dist/compression/index.js';

const N = Number(process.argv[2] ?? 200000);
const RUNS = 3;
const headers = Array.from({ length: 90 }, (_, i) => ({ streamtype: 'data', port: '8080', requestid: String(10 + i) }));
const rawSize = serializeHeaderBlock(headers[0]).length;

/** Best blocks/s over RUNS timed runs of `run(n)`, after one untimed warm-up run. */
function best(run) {
  run(Math.min(N, 20000));
  let rate = 0;
  for (let i = 0; i < RUNS; i++) {
    const start = process.hrtime.bigint();
    run(N);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    rate = Math.max(rate, N / seconds);
  }
  return rate;
}

function report(name, rate, extra = '') {
  console.log(`${name.padEnd(44)} ${Math.round(rate).toLocaleString('en-US').padStart(11)} blocks/s${extra}`);
}

console.log(`node ${process.version}, ${N} blocks of ${rawSize} bytes, best of ${RUNS}`);

for (const level of [1, DEFAULT_COMPRESSION_LEVEL, 6, 9]) {
  let bytes = 0;
  const rate = best((n) => {
    const c = new HeaderCompressor({ level });
    bytes = 0;
    for (let i = 0; i < n; i++) bytes += c.compress(headers[i % 90]).length;
  });
  const tag = level === DEFAULT_COMPRESSION_LEVEL ? ' (default)' : '';
  report(`compress, pako 3, level ${level}${tag}`, rate, `   avg ${(bytes / N).toFixed(1)} bytes out`);
}

{
  // For comparison: pako's Deflate wrapper, which allocates a 16 KiB output chunk per flush.
  const rate = best((n) => {
    const d = new Deflate({ level: DEFAULT_COMPRESSION_LEVEL, dictionary: SPDY3_DICTIONARY });
    for (let i = 0; i < n; i++) {
      d.push(serializeHeaderBlock(headers[i % 90]), Z_SYNC_FLUSH);
      d.chunks.length = 0;
    }
  });
  report(`compress, pako Deflate wrapper, level ${DEFAULT_COMPRESSION_LEVEL}`, rate, '   (not used; for comparison)');
}

// One compressed stream, decompressed in order by a fresh decompressor per run.
const compressor = new HeaderCompressor();
const blocks = Array.from({ length: N }, (_, i) => compressor.compress(headers[i % 90]));

const engines = isZlibSyncAvailable() ? ['zlib-sync', 'pako'] : ['pako'];
if (!isZlibSyncAvailable()) console.log('zlib-sync cannot be loaded: skipped');
for (const implementation of engines) {
  let ok = 0;
  const rate = best((n) => {
    const d = new HeaderDecompressor({ implementation });
    for (let i = 0; i < n; i++) d.decompress(blocks[i]);
  });
  const parsed = best((n) => {
    const d = new HeaderDecompressor({ implementation });
    ok = 0;
    for (let i = 0; i < n; i++) {
      const h = parseHeaderBlock(d.decompress(blocks[i]), { maxHeaderCount: 128 });
      if (h.requestid === headers[i % 90].requestid) ok++;
    }
  });
  report(`decompress, ${implementation}`, rate);
  report(`decompress + parseHeaderBlock, ${implementation}`, parsed, `   ${ok}/${N} correct`);
}
