/**
 * Suite `load`: 200 concurrent local connections × 50 requests through port-forward, keep-alive and a
 * new connection per request: req/s, p50/p99 latency, the forwarder's CPU per request and its peak RSS,
 * kube-spdy against kubectl (and direct to the pod service), same API server and pod.
 */
import type { CaseDef, Sample, Suite } from '../harness.js';
import { load } from '../http-load.js';
import { startRigs, type RigPath } from '../rig.js';
import { MiB, cpuOf, watchRss } from '../util.js';

export const LOAD_METRICS = [
  { key: 'rps', title: 'req/s' },
  { key: 'p50', title: 'p50 ms', higherIsBetter: false, digits: 1 },
  { key: 'p99', title: 'p99 ms', higherIsBetter: false, digits: 1 },
  { key: 'cpu', title: 'forwarder CPU ms/req', higherIsBetter: false, digits: 3 },
  { key: 'rss', title: 'forwarder peak RSS MiB', higherIsBetter: false },
];

/** One load run through `p`, with the forwarder's CPU time per request and its peak RSS meanwhile. */
export async function loadRun(p: RigPath, reqPath: string, conns: number, requests: number, keepAlive: boolean, signal: AbortSignal): Promise<Sample> {
  const cpu0 = p.pid ? cpuOf(p.pid) : NaN;
  const rss = p.pid ? watchRss(p.pid) : () => NaN;
  let r;
  try {
    r = await load(p.port, reqPath, conns, requests, keepAlive, signal);
  } finally {
    var peak = rss();
  }
  const cpu = p.pid ? (cpuOf(p.pid) - cpu0) / r.requests : NaN;
  return { rps: r.rps, p50: r.p50, p99: r.p99, cpu, rss: peak / MiB };
}

export const loadSuite: Suite = {
  name: 'load',
  description: 'concurrent local connections × requests through port-forward',
  metrics: LOAD_METRICS,
  boundMs: { full: 120000, quick: 30000 },
  rounds: { full: 3, quick: 1 },
  sampleTimeoutMs: 90000,
  async setup(ctx) {
    const conns = ctx.quick ? 50 : 200;
    const requests = ctx.quick ? 10 : 50;
    const set = await startRigs(ctx.options, MiB, ctx.progress);
    const notes = [`${conns} connections × ${requests} requests per case; CPU from /proc (10 ms ticks).`, ...set.notes];
    const short: Record<string, string> = { fake: 'fake API server', go: 'Go kubelet', user: 'your cluster' };
    const cases: CaseDef[] = [];
    for (const { key, rig } of set.rigs) {
      notes.push(`${short[key]}: ${rig.server}.`, ...rig.notes);
      const hasKubectl = rig.paths.some((p) => p.id === 'kubectl');
      for (const keepAlive of [true, false]) {
        const mode = keepAlive ? 'keep-alive' : 'new-conn';
        for (const p of rig.paths) {
          cases.push({
            id: `${key}-${mode}-${p.id}`,
            label: p.label,
            short: p.id,
            group: `${short[key]}, ${conns} × ${requests}, ${keepAlive ? 'keep-alive' : 'new connection per request'}`,
            ...(p.id === 'kube-spdy' && hasKubectl
              ? {
                  baselines: [`${key}-${mode}-kubectl`],
                  targets: [{ ratio: 1.2 }, { metric: 'p99', ratio: 1 }, { metric: 'cpu', ratio: 0.6 }, { metric: 'rss', ratio: 1.5 }],
                }
              : {}),
            chart: [{ chart: `port-forward under load, ${conns} connections × ${requests} requests (${short[key]})`, series: p.label, x: keepAlive ? 'keep-alive' : 'new connection each', metric: 'rps' }],
            run: (signal) => loadRun(p, rig.path, conns, requests, keepAlive, signal),
          });
        }
      }
    }
    return { cases, notes, teardown: set.stop };
  },
};
