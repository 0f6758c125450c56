/**
 * Suite `portforward`: direct to the pod service vs `kube-spdy port-forward` vs `kubectl port-forward`,
 * same API server and target: req/s with a new TCP connection per request, 1 and 16 in flight, with
 * latency percentiles; bulk download MB/s. Against kube-spdy's fake API server, or the user's cluster
 * with `--kubeconfig --target --port`.
 */
import type { CaseDef, Sample, Suite } from '../harness.js';
import { bulk, rate } from '../http-load.js';
import { startRig } from '../rig.js';
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
  boundMs: { full: 120000, quick: 25000 },
  rounds: { full: 5, quick: 1 },
  async setup(ctx) {
    const ms = ctx.quick ? 600 : 2500;
    const bulkBytes = (ctx.quick ? 16 : 64) * MiB;
    const rig = await startRig(ctx.options, bulkBytes, ctx.progress);
    const notes = [`through ${rig.server}; ${ms} ms per req/s case${rig.bulk ? `, bulk = one download of ${rig.bulk.bytes ? `${rig.bulk.bytes / MiB} MiB` : rig.bulk.path}` : ''}.`, ...rig.notes];
    const hasKubectl = rig.paths.some((p) => p.id === 'kubectl');
    const cases: CaseDef[] = [];
    const measures = [
      { id: 'seq', group: 'new connection per request, one at a time', target: 2 },
      { id: 'par', group: 'new connection per request, 16 in flight', target: 2 },
      ...(rig.bulk ? [{ id: 'bulk', group: 'bulk download', target: 1.3 }] : []),
    ];
    for (const m of measures) {
      for (const p of rig.paths) {
        const isOurs = p.id === 'kube-spdy';
        const chartName = m.id === 'bulk' ? 'port-forward bulk download' : 'port-forward req/s, new connection per request';
        const x = m.id === 'seq' ? '1 at a time' : m.id === 'par' ? '16 in flight' : 'bulk';
        cases.push({
          id: `${m.id}-${p.id}`,
          label: p.label,
          short: p.id,
          group: m.group,
          ...(isOurs && hasKubectl ? { baselines: [`${m.id}-kubectl`], targets: [{ ratio: m.target }] } : {}),
          chart: [{ chart: chartName, series: p.label, x, metric: m.id === 'bulk' ? 'mbps' : 'rps' }],
          run: async (signal) => {
            if (m.id === 'bulk') return { mbps: await bulk(p.port, rig.bulk!.path, rig.bulk!.bytes) } as Sample;
            const r = await rate(p.port, rig.path, m.id === 'seq' ? 1 : 16, ms, signal);
            return { rps: r.rps, p50: r.p50, p99: r.p99 } as Sample;
          },
        });
      }
    }
    return { cases, notes, teardown: rig.stop };
  },
};
