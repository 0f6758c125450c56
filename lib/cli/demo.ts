/**
 * `kube-spdy demo [--keep] [--requests N]`: the main job on an embedded default. Starts a real HTTP
 * service on loopback as "the pod", the fake API server, and a port-forward to it through kube-spdy's
 * own SPDY/3.1 stack; sends requests through it, checks the answers, prints what happened and the
 * kubectl command that works against the same server.
 */
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { InvalidArgumentError } from '../errors.js';
import { PortForwarder } from '../portforward/client.js';
import { dialPortForward, portForwardUrl } from '../portforward/dial.js';
import { startFakeApiServer } from '../fake-apiserver/index.js';
import { loadKubeconfig } from '../kube/kubeconfig.js';
import type { Io } from './io.js';

export const DEMO_USAGE = `Usage: kube-spdy demo [--requests N] [--keep]

Runs a pod-like HTTP service, a fake API server and a kube-spdy port-forward on loopback,
sends requests through the forward and checks every answer.

Options:
  --requests N   sequential requests to send (default 50; 20 more go concurrently)
  --keep         keep everything running after the checks (Ctrl-C to stop), to try kubectl
  -h, --help     show this help`;

/** Deterministic bytes for downloads: byte i is (i * 31 + 7) & 255. */
export function patternBytes(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 255;
  return b;
}

/** The demo "pod": `/` says hello, `/bytes?n=N` sends N pattern bytes (N ≤ 64 MiB) with their SHA-256. */
export function startPodService(): Promise<http.Server> {
  // The last body made is kept, so repeated downloads measure the forward, not the pattern generator.
  let cached: { n: number; body: Buffer; sha: string } | null = null;
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://pod');
    if (u.pathname === '/bytes') {
      const n = Math.min(Number(u.searchParams.get('n') ?? '0') || 0, 64 * 1024 * 1024);
      if (!cached || cached.n !== n) {
        const body = patternBytes(n);
        cached = { n, body, sha: createHash('sha256').update(body).digest('hex') };
      }
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': n, 'X-Sha256': cached.sha });
      res.end(cached.body);
      return;
    }
    const text = `hello from the pod: ${req.method} ${u.pathname}\n`;
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

/** GET through the forward on a new TCP connection; resolves with status and body. */
export function fetchVia(port: number, pathname: string, timeoutMs = 10000): Promise<{ status: number; body: Buffer; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: pathname, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

export async function demoCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { requests: { type: 'string' }, keep: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    io.out(DEMO_USAGE);
    return 0;
  }
  const sequential = values.requests === undefined ? 50 : Number(values.requests);
  if (!Number.isInteger(sequential) || sequential < 1 || sequential > 100000) throw new InvalidArgumentError(`--requests must be an integer 1..100000, got "${values.requests}"`);

  const dir = await mkdtemp(path.join(os.tmpdir(), 'kube-spdy-demo-'));
  const cleanup: (() => Promise<void>)[] = [() => rm(dir, { recursive: true, force: true })];
  try {
  const pod = await startPodService();
  cleanup.unshift(async () => {
    pod.closeAllConnections();
    await new Promise<void>((r) => pod.close(() => r()));
  });
  const podPort = (pod.address() as net.AddressInfo).port;
  const api = await startFakeApiServer({ pods: [{ namespace: 'default', name: 'demo', ports: [podPort] }] });
  cleanup.unshift(() => api.close());
  const kubeconfig = path.join(dir, 'kubeconfig');
  await api.writeKubeconfig(kubeconfig);
  io.out(`pod service     http://127.0.0.1:${podPort} (plays pod default/demo, port ${podPort})`);
  io.out(`fake API server ${api.url} (kubeconfig ${kubeconfig})`);

  const access = await loadKubeconfig({ kubeconfig });
  const creds = await access.credentials();
  const pf = new PortForwarder({
    ports: [`:${podPort}`],
    addresses: ['127.0.0.1'],
    dial: (signal) => dialPortForward(portForwardUrl(access.server, 'default', 'demo'), { headers: creds.headers, tls: creds.tls, signal }),
  });
  cleanup.unshift(() => pf.close());
  let failures = 0;
  pf.on('forward-error', (err) => {
    failures++;
    io.err(`forward error: ${err.message}`);
  });
  {
    const [bound] = await pf.ready;
    const local = bound!.local;
    io.out(`Forwarding from 127.0.0.1:${local} -> ${podPort} (kube-spdy, SPDY/3.1)`);

    let t0 = performance.now();
    let ok = 0;
    for (let i = 0; i < sequential; i++) {
      const r = await fetchVia(local, `/hello/${i}`);
      if (r.status === 200 && r.body.toString() === `hello from the pod: GET /hello/${i}\n`) ok++;
    }
    let ms = performance.now() - t0;
    io.out(`${ok}/${sequential} sequential requests answered correctly (${(ms / sequential).toFixed(2)} ms each, one TCP connection and stream pair per request)`);
    const seqOk = ok === sequential;

    t0 = performance.now();
    const concurrent = 20;
    const results = await Promise.allSettled(Array.from({ length: concurrent }, (_, i) => fetchVia(local, `/concurrent/${i}`)));
    const cOk = results.filter((r, i) => r.status === 'fulfilled' && r.value.body.toString() === `hello from the pod: GET /concurrent/${i}\n`).length;
    ms = performance.now() - t0;
    io.out(`${cOk}/${concurrent} concurrent requests answered correctly (${ms.toFixed(1)} ms in all)`);

    const size = 8 * 1024 * 1024;
    t0 = performance.now();
    const big = await fetchVia(local, `/bytes?n=${size}`, 60000);
    ms = performance.now() - t0;
    const sha = createHash('sha256').update(big.body).digest('hex');
    const bigOk = big.body.length === size && sha === big.headers['x-sha256'] && big.body.equals(patternBytes(size));
    io.out(`8 MiB download ${bigOk ? 'byte-exact' : 'CORRUPT'} (sha256 ${sha.slice(0, 16)}…, ${((size / 1e6) / (ms / 1000)).toFixed(0)} MB/s)`);

    const conn = pf.connection;
    if (conn) {
      const rtt = await conn.ping({ timeout: 5000 });
      const st = conn.stats();
      io.out(`SPDY connection: ${st.framesOut} frames / ${st.bytesOut} bytes out, ${st.framesIn} frames / ${st.bytesIn} bytes in, PING round trip ${rtt.toFixed(3)} ms`);
    }
    io.out('');
    io.out('The same with kubectl, against the same fake API server (while it runs; use --keep):');
    io.out(`  kubectl --kubeconfig ${kubeconfig} port-forward pod/demo 8080:${podPort}`);
    io.out(`  curl http://127.0.0.1:8080/`);
    const allOk = seqOk && cOk === concurrent && bigOk && failures === 0;
    io.out(allOk ? 'demo: all checks passed' : 'demo: some checks FAILED');
    if (values.keep && allOk) {
      io.out('Running until Ctrl-C…');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
    }
    return allOk ? 0 : 1;
  }
  } finally {
    for (const c of cleanup) await c().catch(() => {});
  }
}
