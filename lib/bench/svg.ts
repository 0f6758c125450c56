/**
 * SVG charts of bench results, written by hand (a few lines and rectangles): for each chart named by the
 * cases' `chart` field, a line chart on a log₂ x axis when x is a number (stream count, frame size), else
 * grouped bars (one group per x, one bar per series).
 */
import type { SuiteResult } from './harness.js';
import { fmt } from './report.js';

const W = 640;
const H = 300;
const M = { l: 80, r: 170, t: 34, b: 44 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#17becf', '#bcbd22'];

interface Point {
  series: string;
  x: number | string;
  y: number;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function chart(title: string, yTitle: string, points: Point[], y0: number): string {
  const series = [...new Set(points.map((p) => p.series))];
  const ymax = niceMax(Math.max(...points.map((p) => p.y)));
  const ph = H - M.t - M.b;
  const pw = W - M.l - M.r;
  const Y = (v: number) => y0 + M.t + ph - (v / ymax) * ph;
  const out: string[] = [];
  out.push(`<text x="${M.l}" y="${y0 + 20}" font-size="14" font-weight="bold">${esc(title)}</text>`);
  out.push(`<text x="12" y="${y0 + M.t + ph / 2}" font-size="11" transform="rotate(-90 12 ${y0 + M.t + ph / 2})" text-anchor="middle">${esc(yTitle)}</text>`);
  for (let i = 0; i <= 4; i++) {
    const v = (ymax * i) / 4;
    out.push(`<line x1="${M.l}" x2="${M.l + pw}" y1="${Y(v)}" y2="${Y(v)}" stroke="#ddd"/>`);
    out.push(`<text x="${M.l - 6}" y="${Y(v) + 4}" font-size="11" text-anchor="end">${fmt(v, v < 10 && v % 1 ? 1 : 0)}</text>`);
  }
  const numeric = points.every((p) => typeof p.x === 'number');
  if (numeric) {
    const xs = [...new Set(points.map((p) => p.x as number))].sort((a, b) => a - b);
    const lo = Math.log2(xs[0]!);
    const hi = Math.log2(xs[xs.length - 1]!);
    const X = (x: number) => M.l + (hi === lo ? pw / 2 : ((Math.log2(x) - lo) / (hi - lo)) * pw);
    for (const x of xs) out.push(`<text x="${X(x)}" y="${y0 + M.t + ph + 16}" font-size="11" text-anchor="middle">${fmt(x)}</text>`);
    series.forEach((s, i) => {
      const ps = points.filter((p) => p.series === s).sort((a, b) => (a.x as number) - (b.x as number));
      const c = COLORS[i % COLORS.length];
      out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${ps.map((p) => `${X(p.x as number).toFixed(1)},${Y(p.y).toFixed(1)}`).join(' ')}"/>`);
      for (const p of ps) out.push(`<circle cx="${X(p.x as number).toFixed(1)}" cy="${Y(p.y).toFixed(1)}" r="3" fill="${c}"><title>${esc(`${s}: ${fmt(p.y)}`)}</title></circle>`);
    });
  } else {
    const xs = [...new Set(points.map((p) => String(p.x)))];
    const gw = pw / xs.length;
    const bw = (gw * 0.8) / series.length;
    xs.forEach((x, g) => {
      out.push(`<text x="${M.l + g * gw + gw / 2}" y="${y0 + M.t + ph + 16}" font-size="11" text-anchor="middle">${esc(x)}</text>`);
      series.forEach((s, i) => {
        const p = points.find((q) => q.series === s && String(q.x) === x);
        if (!p) return;
        const bx = M.l + g * gw + gw * 0.1 + i * bw;
        out.push(`<rect x="${bx.toFixed(1)}" y="${Y(p.y).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${(Y(0) - Y(p.y)).toFixed(1)}" fill="${COLORS[i % COLORS.length]}"><title>${esc(`${s}, ${x}: ${fmt(p.y)}`)}</title></rect>`);
      });
    });
  }
  series.forEach((s, i) => {
    const ly = y0 + M.t + 6 + i * 16;
    out.push(`<rect x="${W - M.r + 12}" y="${ly - 9}" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/>`);
    out.push(`<text x="${W - M.r + 26}" y="${ly}" font-size="11">${esc(s)}</text>`);
  });
  out.push(`<line x1="${M.l}" x2="${M.l}" y1="${y0 + M.t}" y2="${Y(0)}" stroke="#333"/><line x1="${M.l}" x2="${M.l + pw}" y1="${Y(0)}" y2="${Y(0)}" stroke="#333"/>`);
  return out.join('\n');
}

/** One SVG with every chart of the given suites (empty string when no case has chart coordinates). */
export function svgCharts(suites: SuiteResult[]): string {
  const charts: { title: string; yTitle: string; points: Point[] }[] = [];
  for (const s of suites) {
    const byChart = new Map<string, Point[]>();
    const yTitles = new Map<string, string>();
    for (const c of s.cases) {
      for (const ref of c.chart ?? []) {
        const key = ref.metric ?? s.metrics[0]!.key;
        const y = c.median[key];
        if (y === undefined || !Number.isFinite(y)) continue;
        const list = byChart.get(ref.chart) ?? [];
        list.push({ series: ref.series, x: ref.x, y });
        byChart.set(ref.chart, list);
        yTitles.set(ref.chart, s.metrics.find((m) => m.key === key)?.title ?? key);
      }
    }
    for (const [title, points] of byChart) charts.push({ title, yTitle: yTitles.get(title)!, points });
  }
  if (charts.length === 0) return '';
  const total = H * charts.length;
  const body = charts.map((c, i) => chart(c.title, c.yTitle, c.points, i * H)).join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${total}" viewBox="0 0 ${W} ${total}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${body}\n</svg>\n`;
}
