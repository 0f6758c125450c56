/**
 * The benchmark harness behind `kube-spdy bench`: suites of cases, run in interleaved rounds (every case
 * once per round, so a busy moment of a shared machine hits every case alike; odd rounds in reverse
 * order), within a time bound per suite; per case the median of each metric, its spread, and its ratio to a baseline case measured in the
 * same rounds (the median of the per-round ratios).
 */

/** What a case measures; the first metric of a suite is its primary one. */
export interface Metric {
  /** Key in a sample, e.g. `mbps`. */
  key: string;
  /** Column title with its unit, e.g. `MB/s`. */
  title: string;
  /** Whether a larger value is better (drives the ✓/✗ of targets). Default true. */
  higherIsBetter?: boolean;
  /** Digits after the point in tables. Default 0. */
  digits?: number;
}

/** A goal for one metric of a case: a ratio to its baseline, or an absolute value. */
export interface Target {
  /** Metric key; default the suite's primary metric. */
  metric?: string;
  /** Ratio to a baseline (median of per-round ratios): at least this (or at most, for lower-is-better metrics). */
  ratio?: number;
  /** Which baseline `ratio` is against; default the case's first. */
  baseline?: string;
  /** Absolute value: at least this (or at most, for lower-is-better metrics). */
  value?: number;
}

export interface ChartRef {
  chart: string;
  series: string;
  x: number | string;
  metric?: string;
}

/** One sample: metric key → value (NaN when not measured). */
export type Sample = Record<string, number>;

export interface CaseDef {
  id: string;
  /** Row label. */
  label: string;
  /** Name used in ratio columns of the cases that compare with this one (default the label). */
  short?: string;
  /** Rows with the same group are shown together (e.g. `1 stream`). */
  group?: string;
  /** Ids of the cases whose samples this one is compared with, per round. */
  baselines?: string[];
  targets?: Target[];
  /** Takes one sample. Must finish within the suite's `sampleTimeoutMs` (the harness aborts it then). */
  run(signal: AbortSignal): Promise<Sample>;
  /** Where the case appears in the SVG charts: chart title, series, x value and metric (default primary). */
  chart?: ChartRef[];
}

/** What a suite's setup returns. */
export interface SuiteRun {
  cases: CaseDef[];
  /** Lines printed under the suite's table (what was skipped and why, setup facts). */
  notes?: string[];
  teardown?(): Promise<void>;
}

export interface SuiteContext {
  quick: boolean;
  /** Free-form options from the command line (`--kubeconfig`, `--target`, …). */
  options: BenchOptions;
  progress(text: string): void;
  signal: AbortSignal;
}

export interface BenchOptions {
  quick: boolean;
  rounds?: number;
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  target?: string;
  port?: number;
  path?: string;
  bulkPath?: string;
  /** Port-forward transport of both forwarders: `spdy` (default: the SPDY/3.1 upgrade), `websocket` or `auto` (each tool's default). */
  transport?: 'spdy' | 'websocket' | 'auto';
  /** Skip kubectl baselines even when kubectl is installed. */
  noKubectl?: boolean;
  /** Skip Go spdystream baselines even when go is installed. */
  noGo?: boolean;
}

export interface Suite {
  name: string;
  description: string;
  metrics: Metric[];
  /** Most time the suite may take, ms: set-up, warm-up and rounds (the first round always runs; teardown after). */
  boundMs: { full: number; quick: number };
  /** Most time one sample may take, ms; default the bound ÷ rounds, at least 5 s. */
  sampleTimeoutMs?: number;
  /** Run every case once, untimed, before the rounds (JIT warm-up for in-process cases). */
  warmup?: boolean;
  /** Rounds wanted; fewer run when the bound is reached (at least one always runs). */
  rounds: { full: number; quick: number };
  setup(ctx: SuiteContext): Promise<SuiteRun>;
}

export interface CaseResult {
  id: string;
  label: string;
  short?: string;
  group?: string;
  baselines?: string[];
  chart?: CaseDef['chart'];
  samples: Sample[];
  errors: string[];
  median: Sample;
  min: Sample;
  max: Sample;
  /** Per baseline id: the median of the per-round ratios to it, per metric. */
  ratios: Record<string, Sample>;
  targets: (Target & { metric: string; met: boolean | null; actual: number })[];
}

export interface SuiteResult {
  name: string;
  description: string;
  metrics: Metric[];
  rounds: number;
  ms: number;
  boundMs: number;
  /** True when rounds were cut short by the time bound. */
  bounded: boolean;
  notes: string[];
  cases: CaseResult[];
}

export function median(xs: number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

/** The p-th percentile (0–100) of `xs` (nearest rank). */
export function percentile(xs: number[] | Float64Array, p: number): number {
  if (xs.length === 0) return NaN;
  const v = Float64Array.from(xs).sort();
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))]!;
}

function fold(samples: Sample[], f: (xs: number[]) => number): Sample {
  const keys = new Set(samples.flatMap((s) => Object.keys(s)));
  const out: Sample = {};
  for (const k of keys) out[k] = f(samples.map((s) => s[k] ?? NaN));
  return out;
}

/** Runs `p` but rejects when `ms` pass first or `signal` fires (the caller's abort is passed on). */
export async function bounded<T>(ms: number, signal: AbortSignal, f: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const onAbort = () => ac.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new Error(`no result within ${ms} ms`);
      ac.abort(err);
      reject(err);
    }, ms);
  });
  try {
    return await Promise.race([f(ac.signal), timeout]);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}

export interface RunSuiteOptions {
  quick: boolean;
  rounds?: number;
  options: BenchOptions;
  progress(text: string): void;
  signal: AbortSignal;
}

/** Sets a suite up, runs its interleaved rounds within its bound, tears it down; never throws for a failing case. */
export async function runSuite(suite: Suite, o: RunSuiteOptions): Promise<SuiteResult> {
  const boundMs = o.quick ? suite.boundMs.quick : suite.boundMs.full;
  const wanted = o.rounds ?? (o.quick ? suite.rounds.quick : suite.rounds.full);
  const t0 = performance.now();
  o.progress(`${suite.name}: setting up`);
  const run = await suite.setup({ quick: o.quick, options: o.options, progress: o.progress, signal: o.signal });
  const results = new Map<string, { samples: Sample[]; errors: string[] }>(run.cases.map((c) => [c.id, { samples: [], errors: [] }]));
  if (suite.warmup) {
    for (const [i, c] of run.cases.entries()) {
      if (o.signal.aborted) break;
      o.progress(`${suite.name}: warm-up, case ${i + 1}/${run.cases.length}: ${c.label}`);
      await bounded(Math.max(5000, boundMs / 4), o.signal, (s) => c.run(s)).catch(() => {});
    }
  }
  // The bound covers set-up, warm-up and rounds: a round starts only when it is expected to end in time.
  const start = performance.now();
  let rounds = 0;
  let bounded_ = false;
  // Per-sample timeout: the suite's, else a whole round's share of the bound, at least 5 s.
  const sampleTimeout = suite.sampleTimeoutMs ?? Math.max(5000, boundMs / Math.max(1, wanted));
  try {
    for (let r = 0; r < wanted; r++) {
      if (r > 0) {
        const perRound = (performance.now() - start) / r;
        if (performance.now() - t0 + perRound > boundMs) {
          bounded_ = true;
          break;
        }
      }
      // Odd rounds run the cases in reverse order, so that no case always follows the same one.
      for (let j = 0; j < run.cases.length; j++) {
        if (o.signal.aborted) throw o.signal.reason;
        const i = r % 2 ? run.cases.length - 1 - j : j;
        const c = run.cases[i]!;
        o.progress(`${suite.name}: round ${r + 1}/${wanted}, case ${i + 1}/${run.cases.length}: ${c.label}`);
        const slot = results.get(c.id)!;
        try {
          slot.samples.push(await bounded(sampleTimeout, o.signal, (s) => c.run(s)));
        } catch (err) {
          if (o.signal.aborted) throw err;
          slot.samples.push({});
          slot.errors.push((err as Error)?.message ?? String(err));
        }
      }
      rounds++;
    }
  } finally {
    o.progress(`${suite.name}: tearing down`);
    await run.teardown?.().catch(() => {});
  }
  const primary = suite.metrics[0]!.key;
  const lowerBetter = new Set(suite.metrics.filter((m) => m.higherIsBetter === false).map((m) => m.key));
  const cases: CaseResult[] = run.cases.map((c) => {
    const { samples, errors } = results.get(c.id)!;
    const ratios: Record<string, Sample> = {};
    for (const b of c.baselines ?? []) {
      const base = results.get(b)?.samples;
      if (!base) continue;
      ratios[b] = fold(
        samples.map((s, i) => Object.fromEntries(Object.keys(s).map((k) => [k, s[k]! / (base[i]?.[k] ?? NaN)]))),
        median,
      );
    }
    const med = fold(samples, median);
    const targets = (c.targets ?? []).map((t) => {
      const metric = t.metric ?? suite.metrics.find((m) => Number.isFinite(med[m.key]))?.key ?? primary;
      const b = t.baseline ?? c.baselines?.[0];
      const actual = t.ratio !== undefined ? (b ? (ratios[b]?.[metric] ?? NaN) : NaN) : (med[metric] ?? NaN);
      const goal = (t.ratio ?? t.value)!;
      const met = Number.isFinite(actual) ? (lowerBetter.has(metric) ? actual <= goal : actual >= goal) : null;
      return { ...t, metric, met, actual };
    });
    return {
      id: c.id,
      label: c.label,
      ...(c.short !== undefined ? { short: c.short } : {}),
      ...(c.group !== undefined ? { group: c.group } : {}),
      ...(c.baselines !== undefined ? { baselines: c.baselines } : {}),
      ...(c.chart !== undefined ? { chart: c.chart } : {}),
      samples,
      errors,
      median: med,
      min: fold(samples, (xs) => Math.min(...xs.filter(Number.isFinite))),
      max: fold(samples, (xs) => Math.max(...xs.filter(Number.isFinite))),
      ratios,
      targets,
    };
  });
  return {
    name: suite.name,
    description: suite.description,
    metrics: suite.metrics,
    rounds,
    ms: Math.round(performance.now() - t0),
    boundMs,
    bounded: bounded_,
    notes: run.notes ?? [],
    cases,
  };
}
