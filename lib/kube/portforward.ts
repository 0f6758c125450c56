/**
 * `portForward()`: kubectl port-forward as a library call. Loads the kubeconfig (kubectl's rules),
 * resolves the target (pod, deployment, replicaset, statefulset or service) and its ports, and runs a
 * {@link PortForwarder} whose every dial takes fresh credentials (token files re-read, exec plugins
 * re-run once their credential expired) and resolves the target again, so a replaced pod is followed.
 */
import createDebug from 'debug';
import { PortForwarder } from '../portforward/client.js';
import { dialPortForward, portForwardUrl, type PortForwardTransport } from '../portforward/dial.js';
import type { ConnectionOptions } from '../session/options.js';
import type { Connection } from '../session/connection.js';
import { UpgradeError } from '../errors.js';
import { Kubeconfig, loadKubeconfig, type KubeconfigOverrides } from './kubeconfig.js';
import { parsePortRequests, parseTarget, resolvePod, resolveTarget, type ResolvedTarget, type Target } from './target.js';

const debug = createDebug('kube-spdy:kube');

export interface KubePortForwardOptions {
  /** A kubeconfig file, or an already loaded {@link Kubeconfig}. Default: `$KUBECONFIG` / `~/.kube/config`. */
  kubeconfig?: string | Kubeconfig;
  /** Context (ignored when `kubeconfig` is a loaded {@link Kubeconfig}). */
  context?: string;
  /** Namespace. Default: the context's, else `default`. */
  namespace?: string;
  /** kubectl's connection flags (`--server`, `--token`, `--user`, …) over the kubeconfig (ignored when `kubeconfig` is a loaded {@link Kubeconfig}). */
  overrides?: KubeconfigOverrides;
  /** `pod/NAME`, `NAME`, `deploy/NAME`, `rs/NAME`, `sts/NAME`, `svc/NAME` (long forms too). */
  target: string;
  /** `[LOCAL:]REMOTE` specs; REMOTE a number or a port name (a service port for `svc/`). */
  ports: string[];
  /** Addresses to listen on: IPs or `localhost` (127.0.0.1 and ::1). Default `['localhost']`. */
  addresses?: string[];
  /** Default `'auto'`: the WebSocket tunnel, falling back to the SPDY upgrade when the server refuses it. */
  transport?: PortForwardTransport;
  /** Wait for a running pod, ms. Default 60000 (kubectl `--pod-running-timeout=1m0s`). */
  podRunningTimeout?: number;
  /** Timeout of each API request and upgrade, ms. Default 30000. */
  requestTimeout?: number;
  /** Session options of each SPDY connection. */
  session?: Omit<ConnectionOptions, 'role'>;
  /** Stops forwarding. */
  signal?: AbortSignal;
  /** Environment (`KUBECONFIG`, proxies). Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Called with the forwarder as soon as it exists (before it is ready), to attach event listeners. */
  setup?: (forwarder: PortForwarder) => void;
}

/** What {@link portForward} resolves with. */
export interface KubePortForward {
  forwarder: PortForwarder;
  kubeconfig: Kubeconfig;
  namespace: string;
  target: Target;
  /** The pod and numeric ports resolved at start (the pod may change on a redial). */
  resolved: ResolvedTarget;
  /** The pod the current connection goes to. */
  readonly pod: string;
}

/**
 * Starts port-forwarding; resolves once the first connection is up and the listeners are bound.
 * Rejects with an `InvalidArgumentError` (bad target/ports, kubeconfig), an `ApiError` (not found,
 * not running, unauthorized, connection refused), an {@link UpgradeError}, or a listen error.
 */
export async function portForward(options: KubePortForwardOptions): Promise<KubePortForward> {
  const target = parseTarget(options.target);
  const requests = parsePortRequests(options.ports);
  const kc =
    options.kubeconfig instanceof Kubeconfig
      ? options.kubeconfig
      : await loadKubeconfig({
          ...(options.kubeconfig ? { kubeconfig: options.kubeconfig } : {}),
          ...(options.context ? { context: options.context } : {}),
          ...(options.namespace ? { namespace: options.namespace } : {}),
          ...(options.env ? { env: options.env } : {}),
          ...(options.overrides ? { overrides: options.overrides } : {}),
        });
  const namespace = options.namespace || kc.namespace;
  const reqOpts = {
    ...(options.requestTimeout !== undefined ? { timeout: options.requestTimeout } : {}),
    ...(options.podRunningTimeout !== undefined ? { podRunningTimeout: options.podRunningTimeout } : {}),
  };
  const resolved = await resolveTarget(kc, namespace, target, requests, { ...reqOpts, ...(options.signal ? { signal: options.signal } : {}) });
  let pod = resolved.pod;
  let first = true;
  const dialOnce = async (signal: AbortSignal): Promise<Connection> => {
    const creds = await kc.credentials();
    return dialPortForward(portForwardUrl(kc.server, namespace, pod), {
      headers: { ...creds.headers, 'User-Agent': 'kube-spdy' },
      tls: creds.tls,
      ...(creds.createConnection ? { createConnection: creds.createConnection } : {}),
      transport: options.transport ?? 'auto',
      ...(options.requestTimeout ? { timeout: options.requestTimeout } : {}),
      ...(options.session ? { session: options.session } : {}),
      signal,
    });
  };
  const dial = async (signal: AbortSignal): Promise<Connection> => {
    if (!first) {
      // Resolve again on every redial: a deployment's or service's pod may have been replaced.
      const p = await resolvePod(kc, namespace, target, { ...reqOpts, signal });
      if (p.metadata.name !== pod) debug('target %s/%s now resolves to pod %s (was %s)', target.kind, target.name, p.metadata.name, pod);
      pod = p.metadata.name;
    }
    first = false;
    try {
      return await dialOnce(signal);
    } catch (err) {
      // client-go refreshes exec credentials after a 401 and tries again.
      if (err instanceof UpgradeError && err.statusCode === 401 && kc.execRuns > 0) {
        kc.invalidateCredentials();
        return dialOnce(signal);
      }
      throw err;
    }
  };
  const forwarder = new PortForwarder({
    ports: resolved.ports,
    ...(options.addresses ? { addresses: options.addresses } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    dial,
  });
  options.setup?.(forwarder);
  await forwarder.ready;
  return {
    forwarder,
    kubeconfig: kc,
    namespace,
    target,
    resolved,
    get pod() {
      return pod;
    },
  };
}
