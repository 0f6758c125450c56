/**
 * Suite `churn`: streams per second through open (SYN_STREAM → SYN_REPLY), a 16-byte echo and close,
 * one at a time and with 32 and 256 in flight on one loopback connection; kube-spdy (compatibility mode,
 * as port-forward uses it, and flow control) against spdy-transport and Go spdystream.
 */
import { Connection } from '../../session/connection.js';
import type { Stream } from '../../session/stream.js';
import type { CaseDef, Sample, Suite } from '../harness.js';
import { buildGo, loadSpdyTransport, runJson, socketPair } from '../util.js';

const MSG = Buffer.from('0123456789abcdef');
const INFLIGHT = [1, 32, 256];

/** Reads a stream to its end; resolves with the byte count. */
function readAll(s: NodeJS.ReadableStream): Promise<number> {
  return new Promise((resolve, reject) => {
    let n = 0;
    s.on('data', (c: Buffer) => (n += c.length));
    s.once('end', () => resolve(n));
    s.once('error', reject);
  });
}

/** Runs `op` in `inflight` loops until `ms` pass; streams per second. */
async function loops(inflight: number, ms: number, signal: AbortSignal, op: () => Promise<void>): Promise<Sample> {
  const t0 = performance.now();
  const end = t0 + ms;
  let done = 0;
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (performance.now() < end && !signal.aborted) {
        await op();
        done++;
      }
    }),
  );
  return { rate: done / ((performance.now() - t0) / 1000) };
}

function echo(s: Stream | any): void {
  s.on('data', (d: Buffer) => s.write(d));
  s.once('end', () => s.end());
  s.on('error', () => {});
}

async function kubeSpdy(flowControl: boolean, inflight: number, ms: number, signal: AbortSignal): Promise<Sample> {
  const [a, b] = await socketPair();
  const client = new Connection(a, { role: 'client', flowControl, maxConcurrentStreams: 2000 });
  const server = new Connection(b, { role: 'server', flowControl, maxConcurrentStreams: 2000 });
  client.on('error', () => {});
  server.on('error', () => {});
  server.on('stream', (s) => {
    s.reply({});
    echo(s);
  });
  try {
    return await loops(inflight, ms, signal, async () => {
      const s = await client.createStream({ streamtype: 'data' });
      s.end(MSG);
      const n = await readAll(s);
      if (n !== MSG.length) throw new Error(`echo returned ${n} of ${MSG.length} bytes`);
    });
  } finally {
    client.destroy();
    server.destroy();
  }
}

async function spdyTransport(transport: any, inflight: number, ms: number, signal: AbortSignal): Promise<Sample> {
  const [a, b] = await socketPair();
  const opts = { protocol: 'spdy', maxStreams: 2000 };
  const server = transport.connection.create(b, { ...opts, isServer: true, autoSpdy31: true });
  const client = transport.connection.create(a, { ...opts, isServer: false });
  server.on('error', () => {});
  client.on('error', () => {});
  client.start(3.1);
  server.on('stream', (s: any) => {
    s.respond(200, {});
    echo(s);
  });
  try {
    return await loops(inflight, ms, signal, async () => {
      const s: any = await new Promise((resolve, reject) =>
        client.request({ method: 'POST', path: '/', headers: {} }, (err: Error | null, st: any) => (err ? reject(err) : resolve(st))),
      );
      s.end(MSG);
      const n = await readAll(s);
      if (n !== MSG.length) throw new Error(`echo returned ${n} of ${MSG.length} bytes`);
    });
  } finally {
    a.destroy();
    b.destroy();
  }
}

export const churnSuite: Suite = {
  name: 'churn',
  description: 'streams/s through open, 16 B echo and close on one loopback connection',
  metrics: [{ key: 'rate', title: 'streams/s' }],
  boundMs: { full: 35000, quick: 10000 },
  rounds: { full: 5, quick: 1 },
  warmup: true,
  async setup(ctx) {
    const ms = ctx.quick ? 300 : 1000;
    const notes = [`${ms} ms per case.`];
    const transport = loadSpdyTransport();
    if (!transport) notes.push('spdy-transport is not installed (a devDependency): its cases are skipped.');
    const go = ctx.options.noGo ? { reason: '--no-go' } : buildGo('bench/go', 'spdybench');
    if ('reason' in go) notes.push(`Go spdystream skipped: ${go.reason}.`);
    const cases: CaseDef[] = [];
    for (const n of INFLIGHT) {
      const group = n === 1 ? 'one at a time' : `${n} in flight`;
      const baselines = [...(transport ? [`st-${n}`] : []), ...('bin' in go ? [`go-${n}`] : [])];
      const x = { chart: 'stream churn vs streams in flight', x: n };
      cases.push({
        id: `compat-${n}`,
        label: 'kube-spdy, compatibility mode',
        group,
        baselines,
        targets: transport && n === 32 ? [{ ratio: 15, baseline: `st-${n}` }] : [],
        chart: [{ ...x, series: 'kube-spdy, compatibility' }],
        run: (s) => kubeSpdy(false, n, ms, s),
      });
      cases.push({
        id: `fc-${n}`,
        label: 'kube-spdy, flow control',
        group,
        baselines,
        targets: transport && n === 32 ? [{ ratio: 15, baseline: `st-${n}` }] : [],
        chart: [{ ...x, series: 'kube-spdy, flow control' }],
        run: (s) => kubeSpdy(true, n, ms, s),
      });
      if (transport) {
        cases.push({
          id: `st-${n}`,
          label: 'spdy-transport',
          group,
          chart: [{ ...x, series: 'spdy-transport' }],
          run: (s) => spdyTransport(transport, n, ms, s),
        });
      }
      if ('bin' in go) {
        cases.push({
          id: `go-${n}`,
          label: 'Go spdystream ↔ Go spdystream',
          short: 'Go spdystream',
          group,
          chart: [{ ...x, series: 'Go spdystream' }],
          run: async (s) => ({ rate: (await runJson(go.bin, ['-mode', 'churn', '-inflight', String(n), '-ms', String(ms)], s)).rate }),
        });
      }
    }
    return { cases, notes };
  },
};
