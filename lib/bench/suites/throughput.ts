/**
 * Suite `throughput`: aggregate MB/s of 1, 10, 100 and 1,000 concurrent streams on one connection over
 * loopback, kube-spdy in both modes against a raw TCP socket pair, spdy-transport (`maxChunk: false`, its
 * best) and Go spdystream (when go and Debian's package are here); fairness is the slowest stream's rate ÷
 * the fastest's. Also one stream against the DATA frame size (compatibility mode).
 */
import { Connection } from '../../session/connection.js';
import { PORT_FORWARD_SESSION_DEFAULTS } from '../../portforward/constants.js';
import type { ConnectionOptions } from '../../session/options.js';
import type { CaseDef, Sample, Suite } from '../harness.js';
import { MiB, buildGo, drain, loadSpdyTransport, pump, runJson, socketPair } from '../util.js';

const COUNTS = [1, 10, 100, 1000];
const FRAME_SIZES = [16 * 1024, 64 * 1024, 256 * 1024, MiB];
const WRITE = MiB;

/** Rate of `n` streams' bytes received from t0 to the last stream's end, and fairness = first end ÷ last end. */
function summary(total: number, t0: number, ends: number[]): Sample {
  const last = Math.max(...ends) - t0;
  const first = Math.min(...ends) - t0;
  return { mbps: total / 1e6 / (last / 1000), fairness: first / last };
}

async function rawTcp(total: number): Promise<Sample> {
  const [a, b] = await socketPair();
  try {
    const chunk = Buffer.alloc(WRITE, 0x61);
    const t0 = performance.now();
    const got = drain(b);
    await pump(a, total, chunk);
    const n = await got;
    if (n !== total) throw new Error(`raw TCP: received ${n} of ${total}`);
    return { mbps: n / 1e6 / ((performance.now() - t0) / 1000), fairness: 1 };
  } finally {
    a.destroy();
    b.destroy();
  }
}

async function kubeSpdy(streams: number, total: number, opts: Omit<ConnectionOptions, 'role'>, signal: AbortSignal): Promise<Sample> {
  const [a, b] = await socketPair();
  const client = new Connection(a, { role: 'client', maxConcurrentStreams: 2000, ...opts });
  const server = new Connection(b, { role: 'server', maxConcurrentStreams: 2000, ...opts });
  client.on('error', () => {});
  server.on('error', () => {});
  const abort = () => {
    client.destroy();
    server.destroy();
  };
  signal.addEventListener('abort', abort, { once: true });
  try {
    const per = Math.floor(total / streams);
    const ends: number[] = [];
    let got = 0;
    const all = new Promise<void>((resolve, reject) => {
      server.on('stream', (s) => {
        s.reply({});
        drain(s).then((n) => {
          got += n;
          ends.push(performance.now());
          if (ends.length === streams) resolve();
        }, reject);
      });
      server.once('close', (err) => reject(err ?? new Error('server connection closed')));
    });
    const chunk = Buffer.alloc(Math.min(WRITE, per), 0x61);
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: streams }, async () => {
        const s = await client.createStream({ streamtype: 'data' });
        await pump(s, per, chunk);
      }),
    );
    await all;
    if (got !== per * streams) throw new Error(`received ${got} of ${per * streams}`);
    return summary(got, t0, ends);
  } finally {
    signal.removeEventListener('abort', abort);
    client.destroy();
    server.destroy();
  }
}

async function spdyTransport(transport: any, streams: number, total: number, signal: AbortSignal): Promise<Sample> {
  const [a, b] = await socketPair();
  const opts = { protocol: 'spdy', windowSize: MiB, maxChunk: false, maxStreams: 2000 };
  const server = transport.connection.create(b, { ...opts, isServer: true, autoSpdy31: true });
  const client = transport.connection.create(a, { ...opts, isServer: false });
  server.on('error', () => {});
  client.on('error', () => {});
  client.start(3.1);
  const abort = () => {
    a.destroy();
    b.destroy();
  };
  signal.addEventListener('abort', abort, { once: true });
  try {
    const per = Math.floor(total / streams);
    const ends: number[] = [];
    let got = 0;
    const all = new Promise<void>((resolve, reject) => {
      server.on('stream', (s: any) => {
        s.respond(200, {});
        drain(s).then((n) => {
          got += n;
          ends.push(performance.now());
          if (ends.length === streams) resolve();
        }, reject);
      });
    });
    const chunk = Buffer.alloc(Math.min(WRITE, per), 0x61);
    const t0 = performance.now();
    await Promise.all(
      Array.from(
        { length: streams },
        () =>
          new Promise<void>((resolve, reject) => {
            client.request({ method: 'POST', path: '/', headers: {} }, (err: Error | null, s: any) => {
              if (err) return reject(err);
              s.on('error', reject);
              s.resume();
              pump(s, per, chunk).then(resolve, reject);
            });
          }),
      ),
    );
    await all;
    if (got !== per * streams) throw new Error(`received ${got} of ${per * streams}`);
    return summary(got, t0, ends);
  } finally {
    signal.removeEventListener('abort', abort);
    a.destroy();
    b.destroy();
  }
}

export const throughputSuite: Suite = {
  name: 'throughput',
  description: 'aggregate MB/s of N concurrent streams on one loopback connection (fairness = slowest ÷ fastest stream)',
  metrics: [
    { key: 'mbps', title: 'MB/s' },
    { key: 'fairness', title: 'fairness', digits: 2 },
  ],
  boundMs: { full: 75000, quick: 20000 },
  rounds: { full: 5, quick: 1 },
  warmup: true,
  async setup(ctx) {
    const total = (ctx.quick ? 32 : 128) * MiB;
    const notes: string[] = [`${total / MiB} MiB per case, ${WRITE / MiB} MiB writes; flow control: 1 MiB stream windows, 16 MiB session window; spdy-transport: maxChunk false, 1 MiB windows.`];
    const transport = loadSpdyTransport();
    if (!transport) notes.push('spdy-transport is not installed (a devDependency): its cases are skipped.');
    const go = ctx.options.noGo ? { reason: '--no-go' } : buildGo('bench/go', 'spdybench');
    if ('reason' in go) notes.push(`Go spdystream skipped: ${go.reason}.`);
    const cases: CaseDef[] = [
      { id: 'raw', label: 'raw TCP socket pair', short: 'raw TCP', group: '1 stream', run: () => rawTcp(total) },
    ];
    const fc = { flowControl: true, initialWindowSize: MiB, sessionWindowSize: 16 * MiB };
    // What port-forward runs with Kubernetes peers: no windows, the socket paused while a stream's reader is
    // 1 MiB behind (PORT_FORWARD_SESSION_DEFAULTS; the library default of 64 KiB pauses on every 256 KiB frame).
    const compat = { flowControl: false, streamHighWaterMark: PORT_FORWARD_SESSION_DEFAULTS.streamHighWaterMark } as const;
    notes.push(`compatibility mode as port-forward runs it with Kubernetes peers: flowControl false, streamHighWaterMark ${PORT_FORWARD_SESSION_DEFAULTS.streamHighWaterMark / MiB} MiB.`);
    for (const n of COUNTS) {
      const group = `${n} stream${n === 1 ? '' : 's'}`;
      const base = n === 1 ? ['raw'] : [];
      if (transport) base.push(`st-${n}`);
      const x = { chart: 'throughput vs concurrent streams (one connection)', x: n };
      cases.push({
        id: `fc-${n}`,
        label: 'kube-spdy, flow control',
        group,
        baselines: base,
        targets: n === 1 ? [{ ratio: 0.95, baseline: 'raw' }, ...(transport ? [{ ratio: 1.25, baseline: `st-${n}` }] : [])] : transport ? [{ ratio: 1.25, baseline: `st-${n}` }] : [],
        chart: [{ ...x, series: 'kube-spdy, flow control' }],
        run: (s) => kubeSpdy(n, total, fc, s),
      });
      cases.push({
        id: `compat-${n}`,
        label: 'kube-spdy, compatibility mode',
        group,
        baselines: base,
        targets: n === 1 ? [{ ratio: 0.9, baseline: 'raw' }, ...(transport ? [{ ratio: 1.25, baseline: `st-${n}` }] : [])] : transport ? [{ ratio: 1.25, baseline: `st-${n}` }] : [],
        chart: [{ ...x, series: 'kube-spdy, compatibility' }],
        run: (s) => kubeSpdy(n, total, compat, s),
      });
      if (transport) {
        cases.push({
          id: `st-${n}`,
          label: 'spdy-transport (maxChunk false)',
          short: 'spdy-transport',
          group,
          chart: [{ ...x, series: 'spdy-transport' }],
          run: (s) => spdyTransport(transport, n, total, s),
        });
      }
      if ('bin' in go) {
        const goTotal = Math.min(total, 64 * MiB);
        cases.push({
          id: `go-${n}`,
          label: 'Go spdystream ↔ Go spdystream',
          short: 'Go spdystream',
          group,
          chart: [{ ...x, series: 'Go spdystream' }],
          run: async (s) => {
            const r = await runJson(go.bin, ['-mode', 'throughput', '-streams', String(n), '-bytes', String(goTotal), '-write', String(Math.min(WRITE, Math.floor(goTotal / n)))], s);
            return { mbps: r.mbps, fairness: r.fairness };
          },
        });
        for (const id of [`fc-${n}`, `compat-${n}`]) cases.find((c) => c.id === id)!.baselines!.push(`go-${n}`);
      }
    }
    for (const size of FRAME_SIZES) {
      cases.push({
        id: `frame-${size}`,
        label: `kube-spdy, compatibility mode, ${size / 1024} KiB DATA frames`,
        group: '1 stream, DATA frame size',
        baselines: ['raw'],
        chart: [{ chart: 'one stream vs DATA frame size, KiB (compatibility mode)', series: 'kube-spdy, compatibility', x: size / 1024 }],
        run: (s) => kubeSpdy(1, total, { ...compat, maxDataFrameSize: size }, s),
      });
    }
    return { cases, notes };
  },
};
