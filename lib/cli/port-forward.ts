/**
 * `kube-spdy port-forward [--kubeconfig FILE] [--context C] [-n NS] [--address A] TARGET [L:]R …`
 *
 * kubectl's output lines (`Forwarding from 127.0.0.1:L -> R`, `Handling connection for L`), but an error
 * on one forwarded connection is printed and forwarding goes on, and a lost API-server connection is
 * dialed again on the next local connection.
 */
import { parseArgs } from 'node:util';
import { InvalidArgumentError, TimeoutError, UpgradeError } from '../errors.js';
import { PortForwarder } from '../portforward/client.js';
import { dialPortForward, portForwardUrl, parseTransport, type PortForwardTransport } from '../portforward/dial.js';
import { parsePortSpec, formatHostPort } from '../portforward/ports.js';
import { loadClusterAccess } from './kubeconfig.js';
import { getJson, apiErrorMessage } from './api.js';
import type { Io } from './io.js';

export const PORT_FORWARD_USAGE = `Usage: kube-spdy port-forward [options] pod/NAME [LOCAL:]REMOTE ...

Forward one or more local ports to a pod, over SPDY/3.1 through the API server.

Options:
  --kubeconfig FILE      kubeconfig to use (default: $KUBECONFIG or ~/.kube/config)
  --context NAME         kubeconfig context (default: the current one)
  -n, --namespace NS     namespace (default: the context's, else "default")
  --address LIST         addresses to listen on, comma separated: IPs or localhost (default: localhost)
  --pod-running-timeout MS  (accepted for kubectl compatibility; the pod must be Running)
  --transport T          auto (default: the WebSocket tunnel, falling back to the SPDY upgrade when the
                         server refuses it), websocket, or spdy. KUBECTL_PORT_FORWARD_WEBSOCKETS=false
                         in the environment means spdy, as for kubectl.
  -h, --help             show this help

Ports: LOCAL:REMOTE, :REMOTE (a free local port) or REMOTE (the same local port).`;

/** Parses the target: `pod/NAME`, `pods/NAME` or `NAME`. */
export function parseTarget(t: string): string {
  const m = /^(?:(pod|pods|po)\/)?([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/.exec(t);
  if (m) return m[2]!;
  if (/^[a-z]+\//.test(t)) throw new InvalidArgumentError(`unsupported target "${t}": only pod/NAME is supported for now`);
  throw new InvalidArgumentError(`invalid pod name "${t}"`);
}

/** kubectl's switch: `KUBECTL_PORT_FORWARD_WEBSOCKETS=false` (or 0) skips the WebSocket tunnel. */
export function transportFromEnv(env: NodeJS.ProcessEnv): PortForwardTransport {
  const v = env.KUBECTL_PORT_FORWARD_WEBSOCKETS?.trim().toLowerCase();
  return v === 'false' || v === '0' ? 'spdy' : 'auto';
}

/** Runs the command; resolves with the exit code once forwarding stops (SIGINT/SIGTERM → 0). */
export async function portForwardCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      namespace: { type: 'string', short: 'n' },
      address: { type: 'string', multiple: true },
      'pod-running-timeout': { type: 'string' },
      transport: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.out(PORT_FORWARD_USAGE);
    return 0;
  }
  if (positionals.length < 2) throw new InvalidArgumentError('TYPE/NAME and at least one port are required (see --help)');
  const podName = parseTarget(positionals[0]!);
  const ports = positionals.slice(1).map(parsePortSpec);
  const addresses = values.address ?? ['localhost'];
  const transport = values.transport !== undefined ? parseTransport(values.transport) : transportFromEnv(process.env);
  const access = await loadClusterAccess(values.kubeconfig, values.context);
  const namespace = values.namespace ?? access.namespace;

  const pod = await getJson(access, `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(podName)}`);
  if (pod.status !== 200) throw new Error(apiErrorMessage(pod));
  const phase = (pod.body as { status?: { phase?: string } } | undefined)?.status?.phase;
  if (phase !== 'Running') throw new Error(`unable to forward port because pod is not running. Current status=${phase ?? 'unknown'}`);

  const url = portForwardUrl(access.server, namespace, podName);
  const abort = new AbortController();
  const pf = new PortForwarder({
    ports,
    addresses,
    signal: abort.signal,
    dial: (signal) =>
      dialPortForward(url, {
        headers: { ...access.headers, 'User-Agent': 'kube-spdy' },
        tls: access.tls,
        transport,
        signal,
        // kubectl pings every 5 s but never times out; a missed reply here marks the connection dead,
        // and the next local connection dials a new one.
        session: { pingInterval: 5000, pingTimeout: 10000 },
      }),
  });
  pf.on('ready', (bound) => {
    for (const b of bound) io.out(`Forwarding from ${formatHostPort(b.address, b.local)} -> ${b.remote}`);
  });
  pf.on('connection', (c) => io.out(`Handling connection for ${c.local}`));
  pf.on('forward-error', (err, c) => io.err(`error: an error occurred forwarding ${c.local} -> ${c.remote}: ${err.message}`));
  pf.on('reconnecting', (err) => io.err(`warning: lost connection to the API server${err ? ` (${err.message})` : ''}; reconnecting on the next connection`));
  pf.on('recovered', (ms) => io.err(`reconnected to the API server (${Math.round(ms)} ms after the loss)`));
  try {
    await pf.ready;
  } catch (err) {
    if (err instanceof UpgradeError || err instanceof TimeoutError) throw new Error(`error upgrading connection: ${err.message}`);
    throw err;
  }
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
