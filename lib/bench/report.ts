/**
 * Output of `kube-spdy bench`: a terminal table per suite, a Markdown table, and the JSON of every sample.
 */
import type { CaseResult, Metric, SuiteResult } from './harness.js';

export interface RunInfo {
  date: string;
  node: string;
  platform: string;
  cpus: string;
  cores: number;
  memoryGiB: number;
  quick: boolean;
  kubectl?: string;
  go?: string;
}

export function fmt(v: number | undefined, digits = 0): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function spread(c: CaseResult, key: string): string {
  const m = c.median[key];
  const lo = c.min[key];
  const hi = c.max[key];
  if (m === undefined || lo === undefined || hi === undefined || !Number.isFinite(m) || m === 0 || c.samples.length < 2) return '';
  return `±${Math.round(((hi - lo) / 2 / Math.abs(m)) * 100)}%`;
}

/** The first of the suite's metrics that this case measured (its ratios and targets are about it). */
export function mainMetric(s: SuiteResult, c: CaseResult): string {
  return s.metrics.find((m) => Number.isFinite(c.median[m.key]))?.key ?? s.metrics[0]!.key;
}

function ratioText(s: SuiteResult, c: CaseResult): string {
  const key = mainMetric(s, c);
  return Object.entries(c.ratios)
    .map(([id, r]) => {
      const v = r[key];
      if (v === undefined || !Number.isFinite(v)) return '';
      const base = s.cases.find((b) => b.id === id);
      return `${v.toFixed(2)}× ${base?.short ?? base?.label ?? id}`;
    })
    .filter(Boolean)
    .join(', ');
}

function targetText(s: SuiteResult, c: CaseResult): string {
  return c.targets
    .map((t) => {
      const m = s.metrics.find((x) => x.key === t.metric);
      const lower = m?.higherIsBetter === false;
      const b = t.baseline ?? c.baselines?.[0];
      const base = s.cases.find((x) => x.id === b);
      const goal = t.ratio !== undefined ? `${t.ratio}× ${base?.short ?? base?.label ?? b}` : `${fmt(t.value, m?.digits ?? 0)}`;
      const mark = t.met === null ? '?' : t.met ? '✓' : '✗';
      const what = t.metric === mainMetric(s, c) ? '' : `${m?.title ?? t.metric} `;
      return `${what}${lower ? '≤' : '≥'} ${goal} ${mark}`;
    })
    .join('; ');
}

interface Row {
  cells: string[];
}

function rows(s: SuiteResult): { head: string[]; body: Row[]; groups: (string | undefined)[] } {
  const head = ['case'];
  for (const m of s.metrics) head.push(m.title);
  head.push('spread', '× baseline (same run)', 'target');
  const body: Row[] = [];
  const groups: (string | undefined)[] = [];
  for (const c of s.cases) {
    const cells = [c.label];
    for (const m of s.metrics) cells.push(fmt(c.median[m.key], m.digits ?? 0));
    cells.push(spread(c, mainMetric(s, c)), ratioText(s, c), targetText(s, c));
    if (c.errors.length) cells[cells.length - 1] += `${cells[cells.length - 1] ? '; ' : ''}${c.errors.length} failed: ${c.errors[0]}`;
    body.push({ cells });
    groups.push(c.group);
  }
  // Drop metric columns with no value at all (a suite's secondary metric may apply to few cases).
  const keep = head.map((_, j) => j === 0 || body.some((r) => r.cells[j] !== '' && r.cells[j] !== '–'));
  return {
    head: head.filter((_, j) => keep[j]),
    body: body.map((r) => ({ cells: r.cells.filter((_, j) => keep[j]) })),
    groups,
  };
}

function header(s: SuiteResult): string {
  const cut = s.bounded ? ' (cut short by the time bound)' : '';
  return `${s.name}: ${s.description} — spread and ratios are of each case's first figure; median of ${s.rounds} interleaved round${s.rounds === 1 ? '' : 's'}${cut}, ${(s.ms / 1000).toFixed(1)} s (bound ${(s.boundMs / 1000).toFixed(0)} s)`;
}

/** The suite as a fixed-width terminal table. */
export function terminalTable(s: SuiteResult): string {
  const { head, body, groups } = rows(s);
  const width = head.map((h, j) => Math.max(h.length, ...body.map((r) => r.cells[j]!.length)));
  const line = (cells: string[]) => cells.map((c, j) => (j === 0 ? c.padEnd(width[j]!) : c.padStart(width[j]!))).join('  ').trimEnd();
  const out = [header(s), line(head)];
  let group: string | undefined;
  body.forEach((r, i) => {
    if (groups[i] !== undefined && groups[i] !== group) {
      group = groups[i];
      out.push(`[${group}]`);
    }
    out.push(line(r.cells));
  });
  for (const n of s.notes) out.push(`note: ${n}`);
  return out.join('\n');
}

/** The suite as a Markdown table. */
export function markdownTable(s: SuiteResult): string {
  const { head, body, groups } = rows(s);
  const out = [`### ${s.name}`, '', header(s), '', `| ${head.join(' | ')} |`, `|${head.map((_, j) => (j === 0 ? '---' : '---:')).join('|')}|`];
  body.forEach((r, i) => {
    const label = groups[i] !== undefined ? `${groups[i]}: ${r.cells[0]}` : r.cells[0];
    out.push(`| ${[label, ...r.cells.slice(1)].map((c) => c!.replace(/\|/g, '\\|')).join(' | ')} |`);
  });
  if (s.notes.length) out.push('', ...s.notes.map((n) => `- ${n}`));
  return out.join('\n');
}

export function machineLine(info: RunInfo): string {
  return `${info.date}, node ${info.node}, ${info.platform}, ${info.cores} × ${info.cpus}, ${info.memoryGiB} GiB RAM${info.kubectl ? `, kubectl ${info.kubectl}` : ''}${info.go ? `, ${info.go}` : ''}${info.quick ? ', --quick' : ''}`;
}

export function markdownReport(info: RunInfo, suites: SuiteResult[]): string {
  return [
    '# kube-spdy bench results',
    '',
    `Machine: ${machineLine(info)}.`,
    '',
    'Every figure is the median of interleaved rounds; "spread" is half the range as a share of the median; ratios are medians of the per-round ratios to the baseline named, measured in the same run.',
    '',
    ...suites.flatMap((s) => [markdownTable(s), '']),
  ].join('\n');
}

export type { Metric };
