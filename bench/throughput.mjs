// Throughput of one stream over loopback, as ratios against raw TCP measured in the same run.
// Run after a build: npm run build && node bench/throughput.mjs [MiB]
import net from 'node:net';
import { Connection } from '../dist/session/index.js';

const MIB = Number(process.argv[2] ?? 256);
const total = MIB * 1024 * 1024;
const chunk = Buffer.alloc(1024 * 1024, 0x61);

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

function pump(writable) {
  return new Promise((resolve) => {
    let sent = 0;
    const go = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!writable.write(chunk)) return writable.once('drain', go);
      }
      writable.end();
      resolve();
    };
    go();
  });
}

function drain(readable) {
  return new Promise((resolve) => {
    let n = 0;
    readable.on('data', (c) => (n += c.length));
    readable.on('end', () => resolve(n));
  });
}

async function rawTcp() {
  const [a, b] = await pair();
  const t0 = performance.now();
  const got = drain(b);
  await pump(a);
  const n = await got;
  const ms = performance.now() - t0;
  a.destroy();
  b.destroy();
  return (n / 1e6) / (ms / 1000);
}

async function spdy(flowControl, opts = {}) {
  const [a, b] = await pair();
  const client = new Connection(a, { role: 'client', flowControl, ...opts });
  const server = new Connection(b, { role: 'server', flowControl, ...opts });
  const received = new Promise((resolve) =>
    server.on('stream', (s) => {
      s.reply({});
      drain(s).then(resolve);
    }),
  );
  const s = await client.createStream({ streamtype: 'data' });
  const t0 = performance.now();
  await pump(s);
  const n = await received;
  const ms = performance.now() - t0;
  client.destroy();
  server.destroy();
  if (n !== total) throw new Error(`received ${n} of ${total}`);
  return (n / 1e6) / (ms / 1000);
}

const rows = [];
const raw = await rawTcp();
rows.push(['raw TCP socket pair', raw]);
rows.push(['kube-spdy, compatibility mode (no flow control)', await spdy(false)]);
rows.push(['kube-spdy, flow control, 64 KiB windows', await spdy(true)]);
rows.push(['kube-spdy, flow control, 1 MiB stream window', await spdy(true, { initialWindowSize: 1 << 20 })]);
rows.push(['kube-spdy, flow control, 16 MiB stream window', await spdy(true, { initialWindowSize: 16 << 20, sessionWindowSize: 64 << 20 })]);
console.log(`one stream, ${MIB} MiB, loopback, node ${process.version}`);
for (const [name, mbps] of rows) console.log(`${name.padEnd(52)} ${mbps.toFixed(0).padStart(6)} MB/s  ${(mbps / raw).toFixed(3)} × raw TCP`);
