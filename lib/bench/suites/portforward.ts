/**
 * Suite `portforward`: direct to the pod service vs `kube-spdy port-forward` vs `kubectl port-forward`,
 * same API server and target: req/s with a new TCP connection per request, 1 and 16 in flight, with
 * latency percentiles; bulk download MB/s. Against kube-spdy's fake API server and the Go kubelet-style
 * server (both when go is here), or the user's cluster with `--kubeconfig --target --port`.
 */
import type { CaseDef, Sample, Suite } from '../harness.js';
import { bulk, rate } from '../http-load.js';
import { startRigs } from '../rig.js';
import { MiB } from '../util.js';

export const portforwardSuite: Suite = {
  name: 'portforward',
  description: 'direct vs kube-spdy vs kubectl port-forward, new TCP connection per request',
  metrics: [
    { key: 'rps', title: 'req/s' },
    { key: 'mbps', title: 'MB/s' },
    { key: 'p50', title: 'p50 ms', higherIsBetter: false, digits: 2 },
    { key: 'p99', title: 'p99 ms', higherIsBetter: false, digits: 2 },
  ],
  boundMs: { full: 100000, quick: 30000 },
  rounds: { full: 4, quick: 1 },
  async setup(ctx) {
    const ms = ctx.quick ? 600 : 2500;
    const bulkBytes = (ctx.quick ? 16 : 64) * MiB;
    const set = await startRigs(ctx.options, bulkBytes, ctx.progress);
    const notes = [`${ms} ms per req/s case, bulk = one download${set.rigs[0]?.rig.bulk?.bytes ? ` of ${bulkBytes / MiB} MiB` : ''}.`, ...set.notes];
    const cases: CaseDef[] = [];
    const short: Record<string, string> = { fake: 'fake API server', go: 'Go kubelet', user: 'your cluster' };
    for (const { key, rig } of set.rigs) {
      notes.push(`${short[key]}: ${rig.server}.`, ...rig.notes);
      const hasKubectl = rig.paths.some((p) => p.id === 'kubectl');
      const measures = [
        { id: 'seq', group: 'new connection per request, one at a time', x: '1 at a time', target: 2 },
        { id: 'par', group: 'new connection per request, 16 in flight', x: '16 in flight', target: 2 },
        ...(rig.bulk ? [{ id: 'bulk', group: 'bulk download', x: 'bulk', target: 1.3 }] : []),
      ];
      for (const m of measures) {
        for (const p of rig.paths) {
          const id = `${key}-${m.id}-${p.id}`;
          cases.push({
            id,
            label: p.label,
            short: p.id,
            group: `${short[key]}, ${m.group}`,
            ...(p.id === 'kube-spdy' && hasKubectl ? { baselines: [`${key}-${m.id}-kubectl`], targets: [{ ratio: m.target }] } : {}),
            chart: [
              m.id === 'bulk'
                ? { chart: 'port-forward bulk download', series: p.label, x: short[key]!, metric: 'mbps' }
                : { chart: `port-forward req/s, new connection per request (${short[key]})`, series: p.label, x: m.x, metric: 'rps' },
            ],
            run: async (signal) => {
              if (m.id === 'bulk') return { mbps: await bulk(p.port, rig.bulk!.path, rig.bulk!.bytes) } as Sample;
              const r = await rate(p.port, rig.path, m.id === 'seq' ? 1 : 16, ms, signal);
              return { rps: r.rps, p50: r.p50, p99: r.p99 } as Sample;
            },
          });
        }
      }
    }
    return { cases, notes, teardown: set.stop };
  },
};
