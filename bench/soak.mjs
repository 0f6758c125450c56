// Soak through port-forward: the pod service, `kube-spdy fake-apiserver` and `kube-spdy port-forward`
// run in processes of their own; this process sends requests through the forward at a steady rate for
// MINUTES and samples RSS and heap of every kube-spdy process each second (bench/probe.mjs).
// Flat means: for each process, the mean RSS (and heap) of the last minute is within 10 % of the mean
// of the second minute (the first minute is warm-up: JIT, pools, first GCs).
//
//   npm run build && node bench/soak.mjs [--minutes 10] [--rate 100] [--inflight 8] [--bulk-every 5] [--json FILE]
//
// Load: `rate` requests per second (each a new TCP connection to the forward, so a new stream pair on
// the SPDY connection, as kubectl users do), at most `inflight` at once, plus a 4 MiB download every
// `bulk-every` seconds. Exit status 1 when a process is not flat or a request failed.
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { startPod, startApiServer, startForwarder, killAll, get, mean, MiB } from './procs.mjs';

const { values: a } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '100' },
    inflight: { type: 'string', default: '8' },
    'bulk-every': { type: 'string', default: '5' },
    json: { type: 'string' },
  },
});
const SECONDS = Math.round(Number(a.minutes) * 60);
const RATE = Number(a.rate);
const INFLIGHT = Number(a.inflight);
const BULK_EVERY = Number(a['bulk-every']);
const BULK = 4 * 1024 * 1024;

const dir = await mkdtemp(path.join(os.tmpdir(), 'kube-spdy-soak-'));
const kc = path.join(dir, 'kubeconfig');
const counts = { requests: 0, failed: 0, bulk: 0, bulkFailed: 0, bytes: 0 };
const errors = new Map();
const series = [];
let report;
try {
  const pod = await startPod();
  const api = await startApiServer('soak', pod.port, kc);
  const pf = await startForwarder(kc, 'soak', pod.port);
  const procs = { 'kube-spdy port-forward (client)': pf.proc, 'fake-apiserver (server)': api, 'pod service': pod.proc };
  const t0 = Date.now();
  const end = t0 + SECONDS * 1000;
  let inflight = 0;
  const fail = (e) => errors.set(e.message, (errors.get(e.message) ?? 0) + 1);
  // Steady request rate, bounded in flight.
  const ticker = setInterval(() => {
    const n = RATE / 10;
    for (let i = 0; i < n && inflight < INFLIGHT; i++) {
      inflight++;
      get(pf.port, '/')
        .then((b) => ((counts.requests++), (counts.bytes += b)))
        .catch((e) => (counts.failed++, fail(e)))
        .finally(() => inflight--);
    }
  }, 100);
  const bulker = setInterval(() => {
    get(pf.port, `/bytes?n=${BULK}`)
      .then((b) => (b === BULK ? counts.bulk++ : (counts.bulkFailed++, fail(new Error(`bulk got ${b} bytes`)))))
      .catch((e) => (counts.bulkFailed++, fail(e)));
  }, BULK_EVERY * 1000);
  const sampler = setInterval(() => {
    const row = { s: Math.round((Date.now() - t0) / 1000), requests: counts.requests, failed: counts.failed };
    for (const [name, p] of Object.entries(procs)) row[name] = p.memory ? { rss: MiB(p.memory.rss), heap: MiB(p.memory.heapUsed) } : null;
    series.push(row);
    if (row.s % 30 === 0) {
      const short = Object.entries(procs).map(([n, p]) => `${n.split(' ')[0]} ${p.memory ? MiB(p.memory.rss) : '?'}/${p.memory ? MiB(p.memory.heapUsed) : '?'}`);
      process.stderr.write(`soak ${row.s}s: ${counts.requests} requests (${counts.failed} failed), ${counts.bulk} downloads; rss/heap MiB: ${short.join(', ')}\n`);
    }
  }, 1000);
  await new Promise((r) => setTimeout(r, end - Date.now()));
  clearInterval(ticker);
  clearInterval(bulker);
  clearInterval(sampler);
  while (inflight > 0) await new Promise((r) => setTimeout(r, 50));

  // Flatness per process: last minute's mean vs the second minute's.
  const minute = (from, to, name, key) => mean(series.filter((x) => x.s > from && x.s <= to && x[name]).map((x) => x[name][key]));
  const flat = {};
  for (const name of Object.keys(procs)) {
    const f = {};
    for (const key of ['rss', 'heap']) {
      const second = minute(60, 120, name, key);
      const last = minute(SECONDS - 60, SECONDS, name, key);
      const peak = Math.max(...series.filter((x) => x[name]).map((x) => x[name][key]));
      f[key] = { secondMinuteMiB: +second.toFixed(1), lastMinuteMiB: +last.toFixed(1), peakMiB: peak, ratio: +(last / second).toFixed(3), flat: last <= second * 1.1 };
    }
    flat[name] = f;
  }
  report = {
    node: process.version,
    cores: os.cpus().length,
    seconds: SECONDS,
    rate: RATE,
    inflight: INFLIGHT,
    ...counts,
    requestsPerSecond: +(counts.requests / SECONDS).toFixed(1),
    errors: Object.fromEntries(errors),
    flat,
    // One row per 30 s for the README; the full series (1 s) goes to --json.
    every30s: series.filter((x) => x.s % 30 === 0),
  };
} finally {
  killAll();
  await rm(dir, { recursive: true, force: true });
}
if (a.json) await writeFile(a.json, JSON.stringify({ ...report, series }, null, 1));
console.log(JSON.stringify(report, null, 1));
const ok = counts.failed === 0 && counts.bulkFailed === 0 && Object.values(report.flat).every((f) => f.rss.flat && f.heap.flat);
process.exit(ok ? 0 : 1);
