/**
 * Suite `memory`: heap per idle stream and per connection (each end; fresh processes with --expose-gc),
 * peak RSS of one big compatibility-mode transfer against one a quarter its size (it must not grow with
 * the size), and the port-forward process's RSS idle and under the load suite's load, against kubectl's.
 */
import path from 'node:path';
import type { CaseDef, Suite } from '../harness.js';
import { startRig } from '../rig.js';
import { MiB, ROOT, memoryOf, runJson } from '../util.js';
import { loadRun } from './load.js';

const CHILD = path.join(ROOT, 'dist', 'bench', 'memory-child.js');

function child(args: string[], signal: AbortSignal) {
  return runJson(process.execPath, ['--expose-gc', CHILD, ...args], signal);
}

export const memorySuite: Suite = {
  name: 'memory',
  description: 'heap per idle stream and connection, RSS of big transfers and of the port-forward process',
  metrics: [
    { key: 'bytes', title: 'heap B per end', higherIsBetter: false },
    { key: 'peak', title: 'peak RSS MiB', higherIsBetter: false },
    { key: 'idle', title: 'idle RSS MiB', higherIsBetter: false },
    { key: 'rss', title: 'RSS under load MiB', higherIsBetter: false },
  ],
  boundMs: { full: 50000, quick: 25000 },
  rounds: { full: 3, quick: 1 },
  async setup(ctx) {
    const streams = ctx.quick ? 2000 : 10000;
    const conns = ctx.quick ? 50 : 200;
    const small = (ctx.quick ? 64 : 256) * MiB;
    const big = (ctx.quick ? 256 : 1024) * MiB;
    const loadConns = ctx.quick ? 50 : 200;
    const loadReqs = ctx.quick ? 5 : 10;
    const rig = await startRig(ctx.options, MiB, ctx.progress);
    const notes = [
      `${streams} idle streams on one connection; ${conns} connections; port-forward ${rig.server}, load = ${loadConns} connections × ${loadReqs} requests, new connection per request.`,
      ...rig.notes,
    ];
    const cases: CaseDef[] = [
      {
        id: 'stream',
        label: `kube-spdy, heap per idle stream (${streams} open)`,
        group: 'heap',
        targets: [{ value: 1024 }],
        run: async (s) => ({ bytes: (await child(['streams', String(streams)], s)).bytes }),
      },
      { id: 'socket', label: 'raw TCP socket, heap per end', short: 'raw socket', group: 'heap', run: async (s) => ({ bytes: (await child(['sockets', String(conns)], s)).bytes }) },
      {
        id: 'conn',
        label: `kube-spdy, heap per connection with its socket (${conns} open)`,
        group: 'heap',
        baselines: ['socket'],
        run: async (s) => ({ bytes: (await child(['connections', String(conns)], s)).bytes }),
      },
      { id: 'small', label: `one stream carrying ${small / MiB} MiB`, short: `${small / MiB} MiB`, group: 'peak RSS of a transfer (compatibility mode)', run: async (s) => ({ peak: (await child(['transfer', String(small)], s)).peak }) },
      {
        id: 'big',
        label: `one stream carrying ${big / MiB} MiB`,
        group: 'peak RSS of a transfer (compatibility mode)',
        baselines: ['small'],
        targets: [{ ratio: 1.1 }],
        run: async (s) => ({ peak: (await child(['transfer', String(big)], s)).peak }),
      },
    ];
    const hasKubectl = rig.paths.some((p) => p.id === 'kubectl');
    for (const p of rig.paths) {
      if (!p.pid) continue;
      const ours = p.id === 'kube-spdy' && hasKubectl;
      cases.push({
        id: `idle-${p.id}`,
        label: p.label,
        short: p.id,
        group: 'port-forward process, idle (after warm-up)',
        ...(ours ? { baselines: ['idle-kubectl'], targets: [{ ratio: 1.5 }] } : {}),
        run: async () => ({ idle: memoryOf(p.pid!).rss / MiB }),
      });
    }
    for (const p of rig.paths) {
      if (!p.pid) continue;
      const ours = p.id === 'kube-spdy' && hasKubectl;
      cases.push({
        id: `load-${p.id}`,
        label: p.label,
        short: p.id,
        group: 'port-forward process, peak under load',
        ...(ours ? { baselines: ['load-kubectl'], targets: [{ ratio: 1.5 }] } : {}),
        run: async (signal) => ({ rss: (await loadRun(p, rig.path, loadConns, loadReqs, false, signal)).rss! }),
      });
    }
    return { cases, notes, teardown: rig.stop };
  },
};
