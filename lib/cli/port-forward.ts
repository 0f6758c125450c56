/**
 * `kube-spdy port-forward [flags] TYPE/NAME [LOCAL:]REMOTE …` — kubectl's command line and output
 * (`Forwarding from 127.0.0.1:L -> R`, `Handling connection for L`), but an error on one forwarded
 * connection is printed and forwarding goes on, a lost API-server connection is dialed again (with
 * fresh credentials, and the target resolved again), and a busy local port does not stop the others.
 */
import { parseArgs } from 'node:util';
import createDebug from 'debug';
import { InvalidArgumentError, TimeoutError, UpgradeError } from '../errors.js';
import { parseTransport, type PortForwardTransport } from '../portforward/dial.js';
import { formatHostPort } from '../portforward/ports.js';
import { portForward } from '../kube/portforward.js';
import { parseTarget, parsePortRequests } from '../kube/target.js';
import { parseDuration } from '../kube/duration.js';
import type { Io } from './io.js';
import { CONNECTION_OPTIONS, CONNECTION_OPTIONS_HELP, UNSUPPORTED_FLAGS_HELP, connectionOverrides, normalizeBooleanFlags } from './kube-flags.js';

export const PORT_FORWARD_USAGE = `Usage: kube-spdy port-forward [options] TYPE/NAME [LOCAL_PORT:]REMOTE_PORT [...]

Forward local ports to a pod through the API server, as kubectl port-forward does.
TYPE/NAME: pod/NAME (po/, or a bare NAME), deployment/ (deploy/), replicaset/ (rs/), statefulset/
(sts/), service/ (svc/). A workload or service is resolved to a running pod by its selector, again
on every reconnect, so a replaced pod is followed.
Ports: LOCAL:REMOTE, :REMOTE (a free local port) or REMOTE (the same local port). REMOTE may be a
named container port (8080:http); for a service it is a service port (number or name), mapped to
its targetPort.

Options:
  --kubeconfig FILE           kubeconfig (default: $KUBECONFIG, merged as kubectl does, or ~/.kube/config)
  --context NAME              kubeconfig context (default: the current one)
  -n, --namespace NS          namespace (default: the context's, else "default"); -n=NS also works
  --address LIST              addresses to listen on, comma separated: IPs or localhost (default: localhost)
  --pod-running-timeout DUR   wait this long for a running pod, e.g. 30s, 1m0s (default 1m0s)
  --request-timeout DUR       timeout of each API request and upgrade, e.g. 5s (default 0: 30s here)
  --transport T               auto (default: the WebSocket tunnel, falling back to the SPDY upgrade when
                              the server refuses it), websocket, or spdy. KUBECTL_PORT_FORWARD_WEBSOCKETS=false
                              in the environment means spdy, as for kubectl.
  -v, --v LEVEL               log level: 1-3 connections and reconnects, 4-5 + sessions, 6+ everything
                              (sets DEBUG namespaces kube-spdy:*; never prints tokens or certificates)
${CONNECTION_OPTIONS_HELP}
  -h, --help                  show this help

${UNSUPPORTED_FLAGS_HELP}`;

/** kubectl's switch: `KUBECTL_PORT_FORWARD_WEBSOCKETS=false` (or 0) skips the WebSocket tunnel. */
export function transportFromEnv(env: NodeJS.ProcessEnv): PortForwardTransport {
  const v = env.KUBECTL_PORT_FORWARD_WEBSOCKETS?.trim().toLowerCase();
  return v === 'false' || v === '0' ? 'spdy' : 'auto';
}

/** kubectl (pflag) reads `-n=ns` as `-n ns`; node's parseArgs would keep the `=`. */
export function splitShortEquals(argv: string[]): string[] {
  const out: string[] = [];
  for (const a of argv) {
    const m = /^-([a-zA-Z])=(.*)$/.exec(a);
    if (m) out.push(`-${m[1]}`, m[2]!);
    else out.push(a);
  }
  return out;
}

/** `-v LEVEL` → debug namespaces. */
export function debugNamespaces(level: number): string {
  if (level >= 6) return 'kube-spdy:*';
  if (level >= 4) return 'kube-spdy:portforward,kube-spdy:kube,kube-spdy:httpstream,kube-spdy:websocket,kube-spdy:session';
  if (level >= 1) return 'kube-spdy:portforward,kube-spdy:kube';
  return '';
}

/** Runs the command; resolves with the exit code once forwarding stops (SIGINT/SIGTERM → 0). */
export async function portForwardCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args: normalizeBooleanFlags(splitShortEquals(argv)),
    allowPositionals: true,
    options: {
      ...CONNECTION_OPTIONS,
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      namespace: { type: 'string', short: 'n' },
      address: { type: 'string', multiple: true },
      'pod-running-timeout': { type: 'string' },
      'request-timeout': { type: 'string' },
      transport: { type: 'string' },
      v: { type: 'string', short: 'v' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.out(PORT_FORWARD_USAGE);
    return 0;
  }
  if (positionals.length < 2) throw new InvalidArgumentError('TYPE/NAME and at least one port are required (see --help)');
  // Every usage mistake is found before anything is loaded or dialed.
  const target = positionals[0]!;
  parseTarget(target);
  const ports = positionals.slice(1);
  parsePortRequests(ports);
  const podRunningTimeout = values['pod-running-timeout'] !== undefined ? parseDuration(values['pod-running-timeout'], '--pod-running-timeout') : 60000;
  if (podRunningTimeout <= 0 && values['pod-running-timeout'] !== undefined) throw new InvalidArgumentError('--pod-running-timeout must be higher than zero');
  const requestTimeout = values['request-timeout'] !== undefined ? parseDuration(values['request-timeout'], '--request-timeout', true) : undefined;
  const transport = values.transport !== undefined ? parseTransport(values.transport) : transportFromEnv(process.env);
  const overrides = connectionOverrides(values);
  if (values.v !== undefined) {
    if (!/^\d+$/.test(values.v)) throw new InvalidArgumentError(`invalid -v "${values.v}": expected a number`);
    const ns = debugNamespaces(Number(values.v));
    if (ns) createDebug.enable([process.env.DEBUG, ns].filter(Boolean).join(','));
  }

  const abort = new AbortController();
  let started;
  try {
    started = await portForward({
      target,
      ports,
      ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
      ...(values.context ? { context: values.context } : {}),
      ...(values.namespace ? { namespace: values.namespace } : {}),
      ...(overrides ? { overrides } : {}),
      ...(values.address ? { addresses: values.address } : {}),
      podRunningTimeout,
      ...(requestTimeout ? { requestTimeout } : {}),
      transport,
      signal: abort.signal,
      // kubectl pings every 5 s but never times out; a missed reply here marks the connection dead,
      // and the next local connection dials a new one.
      session: { pingInterval: 5000, pingTimeout: 10000 },
      setup: (f) => f.on('listen-error', (err) => io.err(err.message)),
    });
  } catch (err) {
    if (err instanceof UpgradeError || err instanceof TimeoutError) throw new Error(`error upgrading connection: ${err.message}`);
    throw err;
  }
  const pf = started.forwarder;
  const bound = await pf.ready;
  for (const b of bound) io.out(`Forwarding from ${formatHostPort(b.address, b.local)} -> ${b.remote}`);
  pf.on('connection', (c) => io.out(`Handling connection for ${c.local}`));
  pf.on('forward-error', (err, c) => io.err(`error: an error occurred forwarding ${c.local} -> ${c.remote}: ${err.message}`));
  pf.on('reconnecting', (err) => io.err(`warning: lost connection to the API server${err ? ` (${err.message})` : ''}; reconnecting on the next connection`));
  pf.on('recovered', (ms) => io.err(`reconnected to the API server (${Math.round(ms)} ms after the loss)`));
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      abort.abort();
      void pf.close().then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    pf.once('close', resolve);
  });
  return 0;
}
