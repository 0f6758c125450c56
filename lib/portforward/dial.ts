/**
 * Dialing the API server's port-forward endpoint: HTTP upgrade to SPDY/3.1 with
 * `X-Stream-Protocol-Version: portforward.k8s.io`, then a client-role {@link Connection}.
 */
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { upgrade } from '../httpstream/client.js';
import { Connection } from '../session/connection.js';
import type { ConnectionOptions } from '../session/options.js';
import { PORT_FORWARD_PROTOCOL_V1, PORT_FORWARD_SESSION_DEFAULTS } from './constants.js';

export interface DialPortForwardOptions {
  /** Extra request headers (Authorization, User-Agent). Never logged. */
  headers?: Record<string, string>;
  /** TLS options for https: URLs. */
  tls?: TlsOptions;
  /** Upgrade timeout, ms. Default 30000. */
  timeout?: number;
  signal?: AbortSignal;
  /** Session options. Defaults here: {@link PORT_FORWARD_SESSION_DEFAULTS} (`flowControl: 'auto'`, 1 MiB stream buffers and windows). */
  session?: Omit<ConnectionOptions, 'role'>;
}

/** The port-forward URL of a pod: `{server}/api/v1/namespaces/{ns}/pods/{name}/portforward`. */
export function portForwardUrl(server: string, namespace: string, pod: string): URL {
  const base = new URL(server);
  const prefix = base.pathname.replace(/\/+$/, '');
  base.pathname = `${prefix}/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/portforward`;
  return base;
}

/**
 * Upgrades `url` (a pod's `/portforward` URL) and returns the SPDY connection.
 * Rejects with {@link UpgradeError} (HTTP status, server message), {@link AbortError}.
 */
export async function dialPortForward(url: string | URL, options: DialPortForwardOptions = {}): Promise<Connection> {
  const up = await upgrade(url, {
    method: 'POST',
    protocols: [PORT_FORWARD_PROTOCOL_V1],
    ...(options.headers ? { headers: options.headers } : {}),
    ...(options.tls ? { tls: options.tls } : {}),
    ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return new Connection(up.socket, { ...PORT_FORWARD_SESSION_DEFAULTS, ...options.session, role: 'client' });
}
