/**
 * Memory measurements of the bench suite `memory`, each in a fresh process started with --expose-gc so
 * that nothing else is on the heap. Prints one JSON line.
 *
 *   node --expose-gc dist/bench/memory-child.js streams N       heap per idle stream, bytes per end
 *   node --expose-gc dist/bench/memory-child.js connections N   heap per connection (with its socket), bytes per end
 *   node --expose-gc dist/bench/memory-child.js sockets N       heap per raw TCP socket (the baseline of the above)
 *   node --expose-gc dist/bench/memory-child.js transfer BYTES  peak RSS of one compatibility-mode stream carrying BYTES
 */
import { Connection } from '../session/connection.js';
import { MiB, drain, memoryOf, pump, socketPair } from './util.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

async function heap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc!();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

const [mode, arg] = process.argv.slice(2);
const n = Number(arg);
const keep: unknown[] = [];
let out: Record<string, number>;

if (mode === 'streams') {
  const [a, b] = await socketPair();
  const client = new Connection(a, { role: 'client', flowControl: false, maxConcurrentStreams: n + 10 });
  const server = new Connection(b, { role: 'server', flowControl: false, maxConcurrentStreams: n + 10 });
  server.on('stream', (s) => {
    s.reply({});
    keep.push(s);
  });
  // Warm up: one stream opened and closed, so lazily made structures are not counted.
  const w = await client.createStream({ streamtype: 'data' });
  w.destroy();
  const before = await heap();
  for (let i = 0; i < n; i += 500) {
    keep.push(...(await Promise.all(Array.from({ length: Math.min(500, n - i) }, () => client.createStream({ streamtype: 'data' })))));
  }
  const after = await heap();
  if (client.stats().openStreams < n) throw new Error(`only ${client.stats().openStreams} of ${n} streams open`);
  out = { bytes: (after - before) / n / 2 };
  client.destroy();
  server.destroy();
} else if (mode === 'connections' || mode === 'sockets') {
  const before = await heap();
  for (let i = 0; i < n; i++) {
    const [a, b] = await socketPair();
    if (mode === 'connections') {
      const client = new Connection(a, { role: 'client', flowControl: false });
      const server = new Connection(b, { role: 'server', flowControl: false });
      keep.push(client, server);
    } else keep.push(a, b);
  }
  await new Promise((r) => setTimeout(r, 50));
  const after = await heap();
  out = { bytes: (after - before) / n / 2 };
} else if (mode === 'transfer') {
  const [a, b] = await socketPair();
  const client = new Connection(a, { role: 'client', flowControl: false });
  const server = new Connection(b, { role: 'server', flowControl: false });
  const got = new Promise<number>((resolve) =>
    server.on('stream', (s) => {
      s.reply({});
      drain(s).then(resolve);
    }),
  );
  const start = memoryOf(process.pid).rss;
  const s = await client.createStream({ streamtype: 'data' });
  await pump(s, n, Buffer.alloc(MiB, 0x61));
  const received = await got;
  if (received !== n) throw new Error(`received ${received} of ${n}`);
  const { peak } = memoryOf(process.pid);
  out = { peak: peak / MiB, growth: (peak - start) / MiB };
  client.destroy();
  server.destroy();
} else {
  throw new Error(`unknown mode ${mode}`);
}
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(0);
