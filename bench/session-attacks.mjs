// Two attacks on the fake API server (a separate process, its RSS read from /proc) while a well-behaved
// client keeps making port-forward requests through it:
//   1. a peer that never reads and sends 1-byte DATA frames on stream ids nobody opened (each one makes the
//      server queue a RST_STREAM): bounded by maxQueuedControlFrames, the connection is dropped;
//   2. a flood of single port-forward streams that never get their partner (half reset at once, half left
//      open): bounded by maxPendingPairs and by forgetting a pair when its stream closes.
// Reports idle RSS, the highest RSS during each attack and after it, and the good client's successes.
// Run after a build: npm run build && node bench/session-attacks.mjs [seconds per attack]
// (KUBE_SPDY_BIN=/path/to/other/bin/kube-spdy.js runs another build's server, e.g. a baseline checkout.)
import net from 'node:net';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { dialPortForward, portForwardUrl, upgrade } from '../dist/index.js';
import { encodeData } from '../dist/frames/index.js';

const MiB = 1024 * 1024;

// Child mode: `node bench/session-attacks.mjs attack NAME URL PODPORT SECONDS` runs one attacker in its own
// process (so generating frames does not slow the measuring process) and prints one line of results.
if (process.argv[2] === 'attack') {
  const [, , , name, attackUrl, port, secs] = process.argv;
  const until = Date.now() + Number(secs) * 1000;
  const done = () => Date.now() > until;
  const fn = name === 'never' ? neverReader : name === 'flood' ? unpairedFlood : async (d) => {
    while (!d()) await new Promise((r) => setTimeout(r, 100));
    return 'nothing';
  };
  console.log(await fn(done, attackUrl, Number(port), Number(secs)));
  process.exit(0);
}

const SECONDS = Number(process.argv[2] ?? 15);

const echo = net.createServer((s) => s.pipe(s));
await new Promise((r) => echo.listen(0, '127.0.0.1', r));
const podPort = echo.address().port;

let child;
let url;
/** A fresh fake API server process for each phase, so each figure stands alone. */
async function startServer() {
  child = spawn(process.execPath, [process.env.KUBE_SPDY_BIN ?? 'bin/kube-spdy.js', 'fake-apiserver', '--pod', 'default/web'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const apiUrl = await new Promise((resolve) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const m = /Listening on (\S+)/.exec(buf);
      if (m) resolve(m[1]);
    });
  });
  url = portForwardUrl(apiUrl, 'default', 'web');
}
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) * 1024;
const mib = (b) => (b / MiB).toFixed(1);

/** One port-forward request on a fresh connection: echo 'ping'. */
async function goodRequest(id) {
  const conn = await dialPortForward(url, { transport: 'spdy', timeout: 5000 });
  try {
    const headers = { port: String(podPort), requestid: String(id) };
    const err = await conn.createStream({ ...headers, streamtype: 'error' }, { timeout: 5000 });
    const data = await conn.createStream({ ...headers, streamtype: 'data' }, { timeout: 5000 });
    err.resume();
    const got = await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no echo in 5 s')), 5000);
      data.once('data', (d) => {
        clearTimeout(t);
        resolve(String(d));
      });
      data.write('ping');
    });
    data.end();
    if (got !== 'ping') throw new Error(`bad echo ${got}`);
  } finally {
    conn.destroy();
  }
}

/** Runs the good client every 100 ms and samples RSS every 100 ms while `attack` runs for SECONDS. */
async function phase(name, attack) {
  let ok = 0;
  let failed = 0;
  let peak = rss();
  let stop = false;
  const good = (async () => {
    for (let i = 0; !stop; i++) {
      await goodRequest(i).then(() => ok++, () => failed++);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const sampler = setInterval(() => (peak = Math.max(peak, rss())), 100);
  const attacker = spawn(process.execPath, [new URL(import.meta.url).pathname, 'attack', attack, url.toString(), String(podPort), String(SECONDS)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let info = '';
  attacker.stdout.on('data', (d) => (info += d));
  await new Promise((r) => attacker.on('exit', r));
  info = info.trim();
  stop = true;
  await good;
  clearInterval(sampler);
  await new Promise((r) => setTimeout(r, 2000));
  return { name, peak, after: rss(), ok, failed, info };
}

/** Attack 1: never read, send DATA on unknown ids; reconnect whenever the server drops us. */
async function neverReader(done, url) {
  let frames = 0;
  let drops = 0;
  let id = 1;
  while (!done()) {
    const { socket } = await upgrade(url, { protocols: ['portforward.k8s.io'] });
    socket.pause();
    let closed = false;
    socket.on('close', () => (closed = true));
    socket.on('error', () => {});
    while (!closed && !done()) {
      const parts = [];
      for (let i = 0; i < 2000; i++, id = id + 2 > 0x7fffffff ? 1 : id + 2) parts.push(...encodeData(id, 0, Buffer.alloc(1)));
      frames += 2000;
      if (!socket.write(Buffer.concat(parts))) await new Promise((r) => setTimeout(r, 5));
      else await new Promise((r) => setImmediate(r));
    }
    if (closed) drops++;
    socket.destroy();
  }
  return `${frames} DATA frames sent, dropped by the server ${drops} times`;
}

/** Attack 2: ~9,000 single data streams per second, never paired; half reset once answered. */
async function unpairedFlood(done, url, podPort, seconds) {
  const conn = await dialPortForward(url, { transport: 'spdy', session: { maxResetRate: 0 } });
  conn.on('error', () => {});
  let opened = 0;
  let refused = 0;
  let id = 0;
  while (!done() && !conn.isClosed) {
    for (let i = 0; i < 90; i++, id++) {
      opened++;
      const reset = id % 2 === 0;
      conn.createStream({ streamtype: 'data', port: String(podPort), requestid: `flood-${id}` }, { timeout: 0 }).then(
        (s) => {
          s.on('error', () => {});
          if (reset) s.reset();
        },
        () => refused++,
      );
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  conn.destroy();
  return `${opened} streams opened (${(opened / seconds).toFixed(0)}/s), ${refused} refused`;
}

console.log(`fake-apiserver in its own process, restarted per row; idle RSS measured after 20 warm-up requests; ${SECONDS} s per attack;`);
console.log('a good client makes one port-forward request (new connection, echo) every 100 ms meanwhile\n');
console.log('| attack | what the attacker did | idle RSS | peak RSS − idle | RSS − idle 2 s after | good requests ok / failed |');
console.log('|---|---|---|---|---|---|');
for (const [name, fn] of [
  ['none (baseline)', 'none'],
  ['never-reading peer, DATA on unknown stream ids', 'never'],
  ['unpaired port-forward streams (half reset at once, half left open)', 'flood'],
]) {
  await startServer();
  for (let i = 0; i < 20; i++) await goodRequest(i);
  await new Promise((r) => setTimeout(r, 1000));
  const idle = rss();
  const r = await phase(name, fn);
  console.log(`| ${r.name} | ${r.info} | ${mib(idle)} MiB | ${mib(r.peak - idle)} MiB | ${mib(r.after - idle)} MiB | ${r.ok} / ${r.failed} |`);
  child.kill();
}
echo.close();
