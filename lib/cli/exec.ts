/**
 * `kube-spdy exec [-i] [-t] [-c CONTAINER] [-n NS] TARGET -- COMMAND [ARGS…]`, as `kubectl exec`:
 * WebSocket (`v5.channel.k8s.io`) first, SPDY when the WebSocket upgrade is refused
 * (`KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false` or `--transport spdy`: SPDY only). The remote exit code
 * becomes this process's, after `command terminated with exit code N` on stderr; a failure to run the
 * command prints `error: …` and exits 1. With `-t` (and `-i`, stdin a terminal) the local terminal is
 * put in raw mode and its size is sent, then every resize.
 */
import { parseArgs } from 'node:util';
import type { ReadStream, WriteStream } from 'node:tty';
import { InvalidArgumentError, UpgradeError } from '../errors.js';
import { exec } from '../remotecommand/client.js';
import { loadKubeconfig } from '../kube/kubeconfig.js';
import { CONNECTION_OPTIONS, connectionOverrides, normalizeBooleanFlags } from './kube-flags.js';
import { getObject } from '../kube/request.js';
import { parseTarget, resolvePod } from '../kube/target.js';
import { parseDuration } from '../kube/duration.js';
import type { Io } from './io.js';

export const EXEC_USAGE = `Usage: kube-spdy exec [options] pod/NAME -- COMMAND [ARGS...]

Execute a command in a container, like kubectl exec (WebSocket v5.channel.k8s.io, falling back to
SPDY/3.1). The remote exit code becomes the exit code of kube-spdy.

Options:
  -i, --stdin            pass stdin to the container
  -t, --tty              stdin is a TTY (needs -i and a terminal: raw mode, window size sent)
  -c, --container NAME   container name (default: the pod's default container)
  -q, --quiet            print only the output of the remote session
  --transport T          auto (default), websocket or spdy; KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false means spdy
  --kubeconfig FILE      kubeconfig to use (default: $KUBECONFIG or ~/.kube/config)
  --context NAME         kubeconfig context (default: the current one)
  -n, --namespace NS     namespace (default: the context's, else "default")
  --pod-running-timeout D  how long to wait for a running pod of a workload or service (default 1m0s)
  -s/--server, --token, --user, --cluster, --as, --certificate-authority, --client-certificate,
  --client-key, --insecure-skip-tls-verify, --tls-server-name
                         kubectl's connection flags, over the kubeconfig (see port-forward --help)
  -h, --help             show this help`;

/** Splits argv at the first `--` (the option terminator): before, and the command after. */
function splitCommand(argv: string[]): { before: string[]; command: string[] | undefined } {
  const i = argv.indexOf('--');
  return i < 0 ? { before: argv, command: undefined } : { before: argv.slice(0, i), command: argv.slice(i + 1) };
}

/** Runs the command; resolves with the exit code (the remote one, or 1 on an error). */
export async function execCommand(argv: string[], io: Io): Promise<number> {
  const { before, command } = splitCommand(argv);
  const { values, positionals } = parseArgs({
    args: normalizeBooleanFlags(before),
    allowPositionals: true,
    options: {
      ...CONNECTION_OPTIONS,
      stdin: { type: 'boolean', short: 'i' },
      tty: { type: 'boolean', short: 't' },
      container: { type: 'string', short: 'c' },
      quiet: { type: 'boolean', short: 'q' },
      transport: { type: 'string' },
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      namespace: { type: 'string', short: 'n' },
      'pod-running-timeout': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.out(EXEC_USAGE);
    return 0;
  }
  if (positionals.length === 0) throw new InvalidArgumentError('pod or type/name must be specified (see --help)');
  if (command === undefined) {
    throw new InvalidArgumentError(`exec [POD] [COMMAND] is not supported anymore. Use exec [POD] -- [COMMAND] instead`);
  }
  if (positionals.length > 1) throw new InvalidArgumentError(`unexpected arguments before "--": ${positionals.slice(1).join(' ')}`);
  if (command.length === 0) throw new InvalidArgumentError('you must specify at least one command for the container');
  const transportFlag = values.transport ?? (process.env.KUBECTL_REMOTE_COMMAND_WEBSOCKETS === 'false' ? 'spdy' : 'auto');
  if (transportFlag !== 'auto' && transportFlag !== 'websocket' && transportFlag !== 'spdy') {
    throw new InvalidArgumentError(`invalid --transport "${transportFlag}": expected auto, websocket or spdy`);
  }
  const target = parseTarget(positionals[0]!);
  const overrides = connectionOverrides(values);
  const podRunningTimeout = values['pod-running-timeout'] !== undefined ? parseDuration(values['pod-running-timeout'], '--pod-running-timeout') : 60000;
  const kc = await loadKubeconfig({
    ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
    ...(values.context ? { context: values.context } : {}),
    ...(values.namespace ? { namespace: values.namespace } : {}),
    ...(overrides ? { overrides } : {}),
  });
  const namespace = values.namespace || kc.namespace;
  let podName: string;
  if (target.kind === 'pod') {
    const pod = await getObject<{ status?: { phase?: string } }>(kc, `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(target.name)}`);
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') throw new Error(`cannot exec into a container in a completed pod; current phase is ${phase}`);
    podName = target.name;
  } else {
    // deploy/, rs/, sts/, svc/: a running pod chosen by the selector, as kubectl does.
    podName = (await resolvePod(kc, namespace, target, { podRunningTimeout })).metadata.name;
  }
  const access = await kc.credentials();

  const stdinWanted = values.stdin === true;
  const stdin = process.stdin as ReadStream;
  const stdout = process.stdout as WriteStream;
  // kubectl SetupTTY: a TTY needs stdin, and stdin must be a terminal.
  let tty = values.tty === true && stdinWanted;
  if (tty && !stdin.isTTY) {
    if (!values.quiet) io.err('Unable to use a TTY - input is not a terminal or the right kind of file');
    tty = false;
  }
  const abort = new AbortController();
  const onSignal = (): void => abort.abort(new Error('interrupted'));
  if (!tty) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  if (tty) stdin.setRawMode(true);
  const run = exec({
    server: kc.server,
    headers: { ...access.headers, 'User-Agent': 'kube-spdy' },
    tls: access.tls,
    ...(access.createConnection ? { createConnection: access.createConnection } : {}),
    namespace,
    pod: podName,
    ...(values.container ? { container: values.container } : {}),
    command,
    stdin: stdinWanted ? stdin : null,
    stdout,
    stderr: process.stderr,
    tty,
    signal: abort.signal,
    transport: transportFlag,
  });
  const sendSize = (): void => {
    if (stdout.isTTY && stdout.columns && stdout.rows) run.resize(stdout.columns, stdout.rows);
  };
  if (tty) {
    sendSize();
    stdout.on('resize', sendSize);
  }
  try {
    const { exitCode } = await run;
    if (exitCode !== 0 && !values.quiet) io.err(`command terminated with exit code ${exitCode}`);
    return exitCode;
  } catch (err) {
    if (err instanceof UpgradeError) throw new Error(`error upgrading connection: ${err.serverMessage || err.message}`);
    throw err;
  } finally {
    if (tty) {
      stdout.off('resize', sendSize);
      stdin.setRawMode(false);
    }
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // Stop reading our stdin so the process can exit (the command is over).
    if (stdinWanted) stdin.destroy();
  }
}
