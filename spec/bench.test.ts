// The bench harness: interleaving, bounds, medians and ratios on a fake suite (no timing asserted), and
// `kube-spdy bench --quick codec` end to end (output shape only, never speed).
import t from 'tap';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cli } from './e2e-helpers.js';
import { median, percentile, runSuite, type Suite } from '../lib/bench/harness.js';
import { markdownTable, terminalTable } from '../lib/bench/report.js';
import { svgCharts } from '../lib/bench/svg.js';

t.test('median and percentile', async (t) => {
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 3, 2]), 2.5);
  t.equal(median([NaN, 5]), 5, 'NaN samples are ignored');
  t.ok(Number.isNaN(median([])));
  t.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50), 5);
  t.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99), 10);
});

t.test('runSuite: interleaved rounds, per-round ratios, targets, a failing case recorded', async (t) => {
  const order: string[] = [];
  let nBase = 0;
  let nOurs = 0;
  const suite: Suite = {
    name: 'fake',
    description: 'a fake suite',
    metrics: [{ key: 'v', title: 'v/s' }, { key: 'lat', title: 'ms', higherIsBetter: false }],
    boundMs: { full: 60000, quick: 60000 },
    rounds: { full: 3, quick: 3 },
    async setup() {
      return {
        notes: ['a note'],
        cases: [
          { id: 'base', label: 'baseline', run: async () => (order.push('base'), { v: 10 * ++nBase, lat: 4 }) },
          {
            id: 'ours',
            label: 'ours',
            baselines: ['base'],
            targets: [{ ratio: 2 }, { metric: 'lat', ratio: 0.5 }, { value: 1000 }],
            chart: [{ chart: 'c', series: 'ours', x: 1 }],
            run: async () => (order.push('ours'), { v: 30 * ++nOurs, lat: 1 }),
          },
          { id: 'bad', label: 'broken', run: async () => { order.push('bad'); throw new Error('boom'); } },
        ],
      };
    },
  };
  const r = await runSuite(suite, { quick: false, options: { quick: false }, progress: () => {}, signal: new AbortController().signal });
  t.same(order, ['base', 'ours', 'bad', 'bad', 'ours', 'base', 'base', 'ours', 'bad'], 'every case once per round, odd rounds reversed');
  t.equal(r.rounds, 3);
  t.equal(r.bounded, false);
  const ours = r.cases.find((c) => c.id === 'ours')!;
  t.same(ours.samples.map((s) => s.v), [30, 60, 90]);
  t.equal(ours.median.v, 60);
  // Per-round ratios: 30/10, 60/20, 90/30 → 3 each.
  t.equal(ours.ratios.base!.v, 3);
  t.equal(ours.ratios.base!.lat, 0.25);
  t.same(
    ours.targets.map((x) => [x.metric, x.met]),
    [
      ['v', true],
      ['lat', true],
      ['v', false],
    ],
  );
  const bad = r.cases.find((c) => c.id === 'bad')!;
  t.same(bad.errors, ['boom', 'boom', 'boom']);
  const table = terminalTable(r);
  t.match(table, /3\.00× baseline/);
  t.match(table, /3 failed: boom/);
  t.match(table, /note: a note/);
  t.match(markdownTable(r), /\| ours \| 60 \| 1 \|/);
  t.match(svgCharts([r]), /^<svg [^]*<polyline/);
});

t.test('runSuite: the time bound cuts rounds short but always runs one', async (t) => {
  const suite: Suite = {
    name: 'slow',
    description: 'slow',
    metrics: [{ key: 'v', title: 'v' }],
    boundMs: { full: 100, quick: 100 },
    rounds: { full: 50, quick: 50 },
    async setup() {
      return { cases: [{ id: 'a', label: 'a', run: () => new Promise((r) => setTimeout(() => r({ v: 1 }), 60)) }] };
    },
  };
  const r = await runSuite(suite, { quick: true, options: { quick: true }, progress: () => {}, signal: new AbortController().signal });
  t.ok(r.rounds >= 1 && r.rounds < 50, `${r.rounds} rounds`);
  t.equal(r.bounded, true);
});

t.test('kube-spdy bench --quick codec: tables, ratios, JSON, Markdown and SVG', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kube-spdy-bench-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const p = cli(['bench', '--quick', '--out', dir, 'codec']);
  t.equal(await p.exited, 0, `exits 0 (stderr: ${p.err.join(' | ')})`);
  const out = p.out.join('\n');
  t.match(out, /^kube-spdy bench: .*node v\d+/m, 'machine line');
  t.match(out, /^codec: .*median of 1 interleaved round/m, 'suite header');
  t.match(out, /deflate, kube-spdy HeaderCompressor \(pako\)\s+[\d,]+\s.*× Node zlib/, 'a ratio against the baseline of the same run');
  const json = JSON.parse(await readFile(path.join(dir, 'results.json'), 'utf8'));
  t.equal(json.machine.quick, true);
  t.equal(json.suites.length, 1);
  const s = json.suites[0];
  t.equal(s.name, 'codec');
  t.ok(s.cases.length >= 6, 'deflate and inflate cases for both block shapes');
  for (const c of s.cases) {
    t.equal(c.samples.length, 1, `${c.id}: one sample`);
    t.same(c.errors, [], `${c.id}: no error`);
    t.ok(c.median.rate > 0, `${c.id}: a positive rate`);
  }
  t.ok(s.ms > 0 && s.boundMs > 0 && typeof s.bounded === 'boolean', 'time taken and bound reported (the bound itself is tested on a fake suite above)');
  const md = await readFile(path.join(dir, 'results.md'), 'utf8');
  t.match(md, /^\| case \| blocks\/s \|/m);
  t.match(await readFile(path.join(dir, 'results.svg'), 'utf8'), /^<svg [^]*<rect/);
});

t.test('kube-spdy bench: mistakes are one line and a non-zero exit', async (t) => {
  for (const [args, re] of [
    [['bench', 'nosuch'], /^error: unknown suite "nosuch"/],
    [['bench', '--rounds', '0'], /^error: --rounds must be an integer/],
    [['bench', '--kubeconfig', '/dev/null', 'portforward'], /^error: --kubeconfig needs --target/],
  ] as [string[], RegExp][]) {
    const p = cli(args);
    t.not(await p.exited, 0, args.join(' '));
    t.equal(p.err.length, 1, `${args.join(' ')}: one line (${p.err.join(' | ')})`);
    t.match(p.err[0] ?? '', re);
  }
});
