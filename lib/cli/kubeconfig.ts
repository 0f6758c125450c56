/**
 * Kubeconfig loading and authentication, done by @kubernetes/client-node (`KubeConfig`): the cluster
 * URL, the namespace of the current context, and the request options (Authorization header, client
 * certificates, CA, skip-TLS-verify, TLS server name). Secrets are never logged.
 */
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { InvalidArgumentError } from '../errors.js';

export interface ClusterAccess {
  /** The API server URL, e.g. `https://10.0.0.1:6443`. */
  server: string;
  /** Namespace of the current context, or `default`. */
  namespace: string;
  /** Request headers (Authorization …). */
  headers: Record<string, string>;
  /** TLS options for https servers. */
  tls: TlsOptions;
}

/**
 * Loads `file` (or, without it, `$KUBECONFIG` / `~/.kube/config` as kubectl does) and resolves the
 * access details of `context` (default: the current context).
 * @throws InvalidArgumentError when the file cannot be read or names no usable cluster.
 */
export async function loadClusterAccess(file?: string, context?: string): Promise<ClusterAccess> {
  // Loaded on first use: it is large, and commands that fail early should not pay for it.
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  try {
    if (file) kc.loadFromFile(file);
    else kc.loadFromDefault();
  } catch (err) {
    throw new InvalidArgumentError(`cannot load kubeconfig${file ? ` ${file}` : ''}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (context) {
    if (!kc.getContextObject(context)) throw new InvalidArgumentError(`context "${context}" does not exist in the kubeconfig`);
    kc.setCurrentContext(context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster || !cluster.server) {
    throw new InvalidArgumentError(`no cluster in the kubeconfig${file ? ` ${file}` : ''}: the server address is unknown`);
  }
  const opts: {
    headers?: Record<string, string | string[] | number>;
    ca?: unknown;
    cert?: unknown;
    key?: unknown;
    rejectUnauthorized?: boolean;
    servername?: string;
    auth?: string;
  } = {};
  try {
    await kc.applyToHTTPSOptions(opts as never);
  } catch (err) {
    throw new InvalidArgumentError(`cannot authenticate with the kubeconfig: ${(err as Error).message.split('\n')[0]}`);
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.headers ?? {})) headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
  if (opts.auth && !Object.keys(headers).some((h) => h.toLowerCase() === 'authorization')) {
    headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
  }
  const tls: TlsOptions = {};
  if (opts.ca) tls.ca = opts.ca as TlsOptions['ca'];
  if (opts.cert) tls.cert = opts.cert as TlsOptions['cert'];
  if (opts.key) tls.key = opts.key as TlsOptions['key'];
  if (opts.rejectUnauthorized === false) tls.rejectUnauthorized = false;
  if (opts.servername) tls.servername = opts.servername;
  const ctx = kc.getContextObject(kc.getCurrentContext());
  return { server: cluster.server, namespace: ctx?.namespace || 'default', headers, tls };
}
