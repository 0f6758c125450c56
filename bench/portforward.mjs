// Port-forward side by side, one run: direct to the service, through kube-spdy's port-forward, and
// through kubectl's, both via kube-spdy's fake API server on loopback. Figures and ratios to kubectl.
// The pod service, the fake API server and each forwarder run in processes of their own; this process
// only measures.
// Run after a build: npm run build && node bench/portforward.mjs [seconds-per-case] [rounds]
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';

const ROOT = path.join(path.dirname(new URL(import.meta.url).pathname), '..');
const BIN = path.join(ROOT, 'bin', 'kube-spdy.js');

const SECONDS = Number(process.argv[2] ?? 3);
const BULK = 64 * 1024 * 1024;

function get(port, p) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
      let n = 0;
      res.on('data', (c) => (n += c.length));
      res.on('end', () => resolve(n));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

async function rate(port, inflight) {
  const end = performance.now() + SECONDS * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (performance.now() < end) {
        await get(port, '/');
        done++;
      }
    }),
  );
  return done / SECONDS;
}

async function bulk(port) {
  const t0 = performance.now();
  const n = await get(port, `/bytes?n=${BULK}`);
  if (n !== BULK) throw new Error(`got ${n} bytes`);
  return BULK / 1e6 / ((performance.now() - t0) / 1000);
}

function forwardingPort(child) {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', () => reject(new Error('port-forward exited')));
    child.once('error', reject);
  });
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'kube-spdy-bench-'));
const kc = path.join(dir, 'kubeconfig');
const children = [];
function child(cmd, args, env = {}) {
  const c = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(c);
  c.stderr.on('data', (d) => process.stderr.write(`[${path.basename(args[0] ?? cmd)}] ${d}`));
  return c;
}
function line(c, re) {
  return new Promise((resolve, reject) => {
    let out = '';
    c.stdout.on('data', (d) => {
      out += d;
      const m = re.exec(out);
      if (m) resolve(m);
    });
    c.once('exit', () => reject(new Error(`exited before printing ${re}`)));
  });
}
const pod = child(process.execPath, [
  '--input-type=module',
  '-e',
  `import { startPodService } from ${JSON.stringify(path.join(ROOT, 'dist', 'cli', 'demo.js'))};
   const s = await startPodService(); console.log('pod ' + s.address().port);`,
]);
const podPort = Number((await line(pod, /pod (\d+)/))[1]);
const api = child(process.execPath, [BIN, 'fake-apiserver', '--pod', 'default/bench', '--kubeconfig-out', kc]);
await line(api, /Wrote kubeconfig/);
const ROUNDS = Number(process.argv[3] ?? 3);
const targets = [];
let kubectl;
let ours;
try {
  targets.push({ name: 'direct to the service', port: podPort });
  // Each forwarder runs in its own process, as a user runs it.
  ours = child(process.execPath, [BIN, 'port-forward', '--kubeconfig', kc, 'pod/bench', `:${podPort}`]);
  targets.push({ name: 'kube-spdy port-forward', port: await forwardingPort(ours) });
  kubectl = child('kubectl', ['--kubeconfig', kc, 'port-forward', 'pod/bench', `:${podPort}`], { KUBECACHEDIR: path.join(dir, 'cache') });
  targets.push({ name: 'kubectl port-forward', port: await forwardingPort(kubectl) });
  for (const t of targets) for (let i = 0; i < 300; i++) await get(t.port, '/'); // warm up (JIT, connection)
  const samples = new Map(targets.map((t) => [t.name, { seq: [], par: [], bulk: [] }]));
  // Rounds interleave the paths so that a busy moment of this 2-core machine hits them all alike.
  for (let r = 0; r < ROUNDS; r++) {
    for (const t of targets) {
      const s = samples.get(t.name);
      s.seq.push(await rate(t.port, 1));
      s.par.push(await rate(t.port, 16));
      s.bulk.push(await bulk(t.port));
      console.error(`round ${r + 1}: ${t.name}`);
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  var rows = targets.map((t) => {
    const s = samples.get(t.name);
    return { name: t.name, seq: median(s.seq), par: median(s.par), bulk: median(s.bulk) };
  });
} finally {
  for (const c of children) c.kill();
  await rm(dir, { recursive: true, force: true });
}
const k = rows.find((r) => r.name.startsWith('kubectl'));
console.log(`port-forward side by side, median of ${ROUNDS} interleaved rounds of ${SECONDS} s per case, loopback, node ${process.version}, ${os.cpus().length} cores`);
console.log(`${'path'.padEnd(24)} ${'req/s, 1 at a time'.padStart(20)} ${'req/s, 16 in flight'.padStart(20)} ${'64 MiB download MB/s'.padStart(22)}`);
for (const r of rows) {
  const ratio = (a, b) => (k ? ` (${(a / b).toFixed(2)}×)` : '');
  console.log(
    `${r.name.padEnd(24)} ${(r.seq.toFixed(0) + ratio(r.seq, k.seq)).padStart(20)} ${(r.par.toFixed(0) + ratio(r.par, k.par)).padStart(20)} ${(r.bulk.toFixed(0) + ratio(r.bulk, k.bulk)).padStart(22)}`,
  );
}
console.log('(× = ratio to kubectl port-forward in the same run)');
