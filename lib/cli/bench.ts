/**
 * `kube-spdy bench [--quick] [--rounds N] [--out DIR] [suite …]`: the benchmark suites (lib/bench/), each
 * bounded in time, as interleaved rounds with medians, spread and ratios against baselines measured in
 * the same run. Prints a table per suite (and a progress line on a terminal while it runs); writes
 * `results.json`, `results.md` and `results.svg` under `--out` (default `bench/results`).
 */
import os from 'node:os';
import path from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { InvalidArgumentError } from '../errors.js';
import { runSuite, type BenchOptions, type Suite, type SuiteResult } from '../bench/harness.js';
import { markdownReport, machineLine, terminalTable, type RunInfo } from '../bench/report.js';
import { svgCharts } from '../bench/svg.js';
import { ROOT, goVersion, kubectlVersion } from '../bench/util.js';
import { SUITES } from '../bench/suites/index.js';
import type { Io } from './io.js';

export const BENCH_USAGE = `Usage: kube-spdy bench [options] [SUITE ...]

Runs benchmark suites on loopback (default: all) and prints, per suite, the median of interleaved
rounds, the spread, and ratios against baselines measured in the same run. Writes results.json,
results.md and results.svg to --out.

Suites:
${SUITES.map((s) => `  ${s.name.padEnd(12)} ${s.description}`).join('\n')}

Options:
  --quick               fewer rounds and smaller transfers (about a tenth of the time)
  --rounds N            rounds per suite (default: 5, or 1 with --quick), fewer if the time bound is hit
  --out DIR             where results go (default: bench/results of the package)
  --no-kubectl          skip kubectl baselines
  --no-go               skip Go spdystream baselines
  --transport T         port-forward transport of kube-spdy and kubectl alike: spdy (default, the
                        SPDY/3.1 upgrade), websocket (the tunnel) or auto (each tool's default)
  Your own cluster path (suites portforward and load), against kubectl with the same flags:
  --kubeconfig FILE     kubeconfig to use instead of starting the fake API server
  --context NAME        kubeconfig context
  -n, --namespace NS    namespace
  --target pod/NAME     the pod to forward to (required with --kubeconfig)
  --port N              the pod port, serving HTTP/1.1 (required with --kubeconfig)
  --path P              request path for req/s and latency (default /)
  --bulk-path P         path of a large download for MB/s (default: none with --kubeconfig)
  -h, --help            show this help`;

export async function benchCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      quick: { type: 'boolean' },
      rounds: { type: 'string' },
      out: { type: 'string' },
      'no-kubectl': { type: 'boolean' },
      'no-go': { type: 'boolean' },
      transport: { type: 'string' },
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      namespace: { type: 'string', short: 'n' },
      target: { type: 'string' },
      port: { type: 'string' },
      path: { type: 'string' },
      'bulk-path': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.out(BENCH_USAGE);
    return 0;
  }
  const suites: Suite[] = [];
  for (const name of positionals.length ? positionals : SUITES.map((s) => s.name)) {
    const s = SUITES.find((x) => x.name === name);
    if (!s) throw new InvalidArgumentError(`unknown suite "${name}" (suites: ${SUITES.map((x) => x.name).join(', ')})`);
    if (!suites.includes(s)) suites.push(s);
  }
  let rounds: number | undefined;
  if (values.rounds !== undefined) {
    rounds = Number(values.rounds);
    if (!Number.isInteger(rounds) || rounds < 1 || rounds > 100) throw new InvalidArgumentError(`--rounds must be an integer from 1 to 100, got "${values.rounds}"`);
  }
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError(`--port must be a port number, got "${values.port}"`);
  }
  if (values.kubeconfig !== undefined && (values.target === undefined || port === undefined)) {
    throw new InvalidArgumentError('--kubeconfig needs --target pod/NAME and --port N (the pod port to measure)');
  }
  const transport = values.transport ?? 'spdy';
  if (transport !== 'spdy' && transport !== 'websocket' && transport !== 'auto') throw new InvalidArgumentError(`--transport must be spdy, websocket or auto, got "${transport}"`);
  const quick = values.quick ?? false;
  const options: BenchOptions = {
    quick,
    ...(rounds !== undefined ? { rounds } : {}),
    ...(values.kubeconfig !== undefined ? { kubeconfig: values.kubeconfig } : {}),
    ...(values.context !== undefined ? { context: values.context } : {}),
    ...(values.namespace !== undefined ? { namespace: values.namespace } : {}),
    ...(values.target !== undefined ? { target: values.target } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(values.path !== undefined ? { path: values.path } : {}),
    ...(values['bulk-path'] !== undefined ? { bulkPath: values['bulk-path'] } : {}),
    transport,
    noKubectl: values['no-kubectl'] ?? false,
    noGo: values['no-go'] ?? false,
  };
  const outDir = path.resolve(values.out ?? path.join(ROOT, 'bench', 'results'));

  const kubectl = options.noKubectl ? null : kubectlVersion();
  const go = options.noGo ? null : goVersion();
  const cpus = os.cpus();
  const info: RunInfo = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    cpus: cpus[0]?.model.trim() ?? 'unknown CPU',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    quick,
    ...(kubectl ? { kubectl } : {}),
    ...(go ? { go } : {}),
  };
  if (!kubectl && !options.noKubectl) options.noKubectl = true;
  io.out(`kube-spdy bench: ${machineLine(info)}`);

  // A progress line on a terminal (rewritten in place), nothing when piped.
  const tty = process.stderr.isTTY === true;
  const progress = (text: string) => {
    if (tty) process.stderr.write(`\r\x1b[K${text.slice(0, (process.stderr.columns ?? 100) - 1)}`);
  };
  const abort = new AbortController();
  const onSignal = () => abort.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const results: SuiteResult[] = [];
  try {
    for (const suite of suites) {
      const r = await runSuite(suite, { quick, ...(rounds !== undefined ? { rounds } : {}), options, progress, signal: abort.signal });
      progress('');
      results.push(r);
      io.out('');
      io.out(terminalTable(r));
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (tty) process.stderr.write('\r\x1b[K');
  }
  await mkdir(outDir, { recursive: true });
  await writeFile(path.join(outDir, 'results.json'), `${JSON.stringify({ machine: info, suites: results }, null, 1)}\n`);
  await writeFile(path.join(outDir, 'results.md'), markdownReport(info, results));
  const svg = svgCharts(results);
  if (svg) await writeFile(path.join(outDir, 'results.svg'), svg);
  io.out('');
  io.out(`Wrote ${['results.json', 'results.md', ...(svg ? ['results.svg'] : [])].map((f) => path.join(outDir, f)).join(', ')}`);
  const failed = results.flatMap((r) => r.cases.filter((c) => c.samples.length > 0 && c.errors.length === c.samples.length).map((c) => `${r.name}: ${c.label}`));
  if (failed.length) {
    io.err(`error: ${failed.length} case${failed.length === 1 ? '' : 's'} failed in every round: ${failed.join('; ')}`);
    return 1;
  }
  return 0;
}
