// Two builds side by side in one run: one-stream throughput and stream churn, interleaved rounds, medians,
// each as a ratio of the baseline build. Usage (both built with `npm run build`):
//   node bench/compare-builds.mjs /path/to/baseline/dist [rounds]
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const baseDist = path.resolve(process.argv[2]);
const ROUNDS = Number(process.argv[3] ?? 3);
const builds = {
  baseline: await import(pathToFileURL(path.join(baseDist, 'session/index.js'))),
  current: await import(new URL('../dist/session/index.js', import.meta.url)),
};

async function pair() {
  const server = net.createServer({ allowHalfOpen: true, noDelay: true });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise((r) => server.once('connection', r));
  const a = net.connect({ port: server.address().port, host: '127.0.0.1', allowHalfOpen: true, noDelay: true });
  await new Promise((r) => a.once('connect', r));
  const b = await accepted;
  server.close();
  return [a, b];
}

async function connections(mod, opts) {
  const [a, b] = await pair();
  const client = new mod.Connection(a, { role: 'client', ...opts });
  const server = new mod.Connection(b, { role: 'server', ...opts });
  return { client, server, close: () => (client.destroy(), server.destroy(), a.destroy(), b.destroy()) };
}

/** MB/s of one stream carrying `mib` MiB client → server. */
async function throughput(mod, opts, mib = 128) {
  const { client, server, close } = await connections(mod, opts);
  const total = mib * 1024 * 1024;
  const chunk = Buffer.alloc(1024 * 1024, 0x61);
  const got = new Promise((resolve) =>
    server.on('stream', (s) => {
      s.reply({});
      let n = 0;
      s.on('data', (c) => (n += c.length));
      s.on('end', () => resolve(n));
    }),
  );
  const s = await client.createStream({});
  const start = performance.now();
  let sent = 0;
  await new Promise((resolve) => {
    const go = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!s.write(chunk)) return s.once('drain', go);
      }
      s.end();
      resolve();
    };
    go();
  });
  const n = await got;
  const ms = performance.now() - start;
  close();
  if (n !== total) throw new Error(`got ${n} of ${total}`);
  return total / 1e6 / (ms / 1000);
}

/** Streams per second: open, 16-byte echo, close; `inFlight` at a time, for ~`ms`. */
async function churn(mod, opts, inFlight, ms = 1500) {
  const { client, server, close } = await connections(mod, opts);
  server.on('stream', (s) => {
    s.reply({});
    s.pipe(s);
  });
  const payload = Buffer.alloc(16, 1);
  const one = async () => {
    const s = await client.createStream({});
    const done = new Promise((resolve) => {
      s.on('data', () => {});
      s.on('end', resolve);
    });
    s.end(payload);
    await done;
  };
  let count = 0;
  const end = performance.now() + ms;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < end) {
        await one();
        count++;
      }
    }),
  );
  const secs = (performance.now() - start) / 1000;
  close();
  return count / secs;
}

const ONLY = process.env.CASES ? new RegExp(process.env.CASES) : null;
const cases = [
  ['one stream 128 MiB, compatibility mode (MB/s)', (m) => throughput(m, { flowControl: false })],
  ['one stream 128 MiB, flow control, 1 MiB windows (MB/s)', (m) => throughput(m, { flowControl: true, initialWindowSize: 1 << 20 })],
  ['churn serial (streams/s)', (m) => churn(m, { flowControl: true }, 1)],
  ['churn 32 in flight (streams/s)', (m) => churn(m, { flowControl: true }, 32)],
  ['churn 32 in flight, compatibility mode (streams/s)', (m) => churn(m, { flowControl: false }, 32)],
];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`baseline ${baseDist} vs current; ${ROUNDS} interleaved rounds, medians\n`);
console.log('| case | baseline | current | current ÷ baseline |');
console.log('|---|---|---|---|');
for (const [name, fn] of cases.filter(([n]) => !ONLY || ONLY.test(n))) {
  const r = { baseline: [], current: [] };
  for (let i = 0; i < ROUNDS; i++) {
    for (const k of i % 2 === 0 ? ['baseline', 'current'] : ['current', 'baseline']) r[k].push(await fn(builds[k]));
  }
  const b = median(r.baseline);
  const c = median(r.current);
  console.log(`| ${name} | ${b.toFixed(0)} | ${c.toFixed(0)} | ${(c / b).toFixed(2)} |`);
}
