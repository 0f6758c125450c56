/**
 * Dialing the API server's port-forward endpoint, then a client-role {@link Connection}: the WebSocket
 * tunnel (`GET`, subprotocol `SPDY/3.1+portforward.k8s.io`) and/or the HTTP upgrade to SPDY/3.1 with
 * `X-Stream-Protocol-Version: portforward.k8s.io` (`POST`), chosen as client-go's fallback dialer does
 * (`tools/portforward/fallback_dialer.go`).
 */
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import type { Duplex } from 'node:stream';
import createDebug from 'debug';
import { upgrade, type CreateConnection } from '../httpstream/client.js';
import { dialWebSocketTunnel } from '../httpstream/websocket-client.js';
import { InvalidArgumentError, UpgradeError } from '../errors.js';
import { Connection } from '../session/connection.js';
import type { ConnectionOptions } from '../session/options.js';
import { PORT_FORWARD_PROTOCOL_V1, PORT_FORWARD_SESSION_DEFAULTS } from './constants.js';

const debug = createDebug('kube-spdy:portforward');

/**
 * How the SPDY/3.1 connection is carried:
 * - `'auto'` (default, kubectl ≥ 1.31): the WebSocket tunnel first; on an upgrade failure (the server
 *   answered with a status other than 101, or a 101 with a wrong subprotocol) the SPDY upgrade. Errors
 *   where no answer came (connection refused, DNS, TLS, timeout) do not fall back.
 * - `'websocket'`: the tunnel only. `'spdy'`: the SPDY upgrade only (kubectl with
 *   `KUBECTL_PORT_FORWARD_WEBSOCKETS=false`).
 */
export type PortForwardTransport = 'auto' | 'websocket' | 'spdy';

/** Parses a transport name (`auto`, `websocket`, `spdy`). @throws InvalidArgumentError */
export function parseTransport(s: string): PortForwardTransport {
  if (s === 'auto' || s === 'websocket' || s === 'spdy') return s;
  throw new InvalidArgumentError(`invalid transport "${s}": expected auto, websocket or spdy`);
}

export interface DialPortForwardOptions {
  /** Transport; default `'auto'` (see {@link PortForwardTransport}). */
  transport?: PortForwardTransport;
  /** Creates the connection (proxy tunnel; TLS applied for https:). Default: direct. */
  createConnection?: CreateConnection;
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
  const transport = options.transport ?? 'auto';
  let socket: Duplex | undefined;
  if (transport !== 'spdy') {
    try {
      const t = await dialWebSocketTunnel(url, {
        ...(options.headers ? { headers: options.headers } : {}),
        ...(options.tls ? { tls: options.tls } : {}),
        ...(options.createConnection ? { createConnection: options.createConnection } : {}),
        ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      socket = t.socket;
    } catch (err) {
      // client-go falls back only when the server answered and refused (httpstream.IsUpgradeFailure).
      if (transport === 'websocket' || !(err instanceof UpgradeError) || err.statusCode === 0) throw err;
      debug('WebSocket tunnel refused (%d), falling back to the SPDY upgrade', err.statusCode);
    }
  }
  socket ??= (await spdyUpgrade(url, options)).socket;
  return new Connection(socket, { ...PORT_FORWARD_SESSION_DEFAULTS, ...options.session, role: 'client' });
}

function spdyUpgrade(url: string | URL, options: DialPortForwardOptions): ReturnType<typeof upgrade> {
  return upgrade(url, {
    method: 'POST',
    protocols: [PORT_FORWARD_PROTOCOL_V1],
    ...(options.headers ? { headers: options.headers } : {}),
    ...(options.tls ? { tls: options.tls } : {}),
    ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.createConnection ? { createConnection: options.createConnection } : {}),
  });
}
