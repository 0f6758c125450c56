/**
 * Client side of Kubernetes' WebSocket tunnel (kubectl's default for port-forward since 1.31):
 * `GET` with `Upgrade: websocket` and `Sec-WebSocket-Protocol: SPDY/3.1+portforward.k8s.io`, then the
 * unchanged SPDY/3.1 byte stream inside binary messages (client-go `tools/portforward/tunneling_dialer.go`,
 * `transport/websocket/roundtripper.go`). The handshake (RFC 6455 section 4.1) is done here; framing by `ws`.
 *
 * Errors follow the rule client-go's fallback dialer uses (`httpstream.IsUpgradeFailure`): an
 * {@link UpgradeError} with a non-zero `statusCode` means the server answered but refused (a non-101
 * status, or a 101 with a wrong subprotocol or bad headers) and the caller may fall back to the SPDY
 * upgrade; `statusCode` 0 means no answer (connection refused, DNS, TLS, timeout): no fallback.
 */
import http from 'node:http';
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import createDebug from 'debug';
import { AbortError, InvalidArgumentError, TimeoutError, UpgradeError } from '../errors.js';
import { parseStatus } from './status.js';
import { headerContains, splitHeaderValues } from './headers.js';
import { MAX_ERROR_BODY, DEFAULT_UPGRADE_TIMEOUT, type CreateConnection } from './client.js';
import { upgradedWebSocket, webSocketAccept, webSocketStream, type WebSocketStreamOptions } from './websocket-stream.js';

const debug = createDebug('kube-spdy:websocket');

/** The tunnel subprotocol for port-forward (client-go `portforward.PortForwardV1Name` with the `SPDY/3.1+` prefix). */
export const TUNNEL_PROTOCOL_PORT_FORWARD = 'SPDY/3.1+portforward.k8s.io';

/** Default of {@link TunnelOptions.maxPayload}: 32 MiB (one SPDY frame of 16 MiB fits twice). */
export const DEFAULT_TUNNEL_MAX_PAYLOAD = 32 * 1024 * 1024;

export interface TunnelOptions extends WebSocketStreamOptions {
  /** Subprotocols offered, in preference order. Default `['SPDY/3.1+portforward.k8s.io']`. */
  protocols?: string[];
  /** Extra request headers (Authorization, User-Agent). Never logged. */
  headers?: Record<string, string>;
  /** TLS options for https:/wss: URLs. */
  tls?: TlsOptions;
  /** Creates the connection (a proxy tunnel, TLS already applied for https). Default: a direct TCP/TLS connection. */
  createConnection?: CreateConnection;
  /** Time for connect + TLS + the 101, ms. Default 30000; 0 disables it. */
  timeout?: number;
  /** Largest WebSocket message accepted, bytes. Default 32 MiB. */
  maxPayload?: number;
  signal?: AbortSignal;
}

export interface TunnelResult {
  /** The SPDY/3.1 byte stream. */
  socket: Duplex;
  /** The negotiated subprotocol. */
  protocol: string;
}

/**
 * Opens the tunnel at `url` (`http(s):` or `ws(s):`, e.g. a pod's `/portforward` URL).
 * Rejects with {@link UpgradeError} (see the module comment for its `statusCode`), {@link TimeoutError}
 * (no answer within `timeout` ms), {@link AbortError},
 * {@link InvalidArgumentError} for a bad URL.
 */
export function dialWebSocketTunnel(url: string | URL, options: TunnelOptions = {}): Promise<TunnelResult> {
  let target: URL;
  try {
    target = new URL(String(url));
  } catch {
    return Promise.reject(new InvalidArgumentError(`tunnel: invalid URL ${JSON.stringify(String(url))}`));
  }
  const secure = target.protocol === 'https:' || target.protocol === 'wss:';
  if (!secure && target.protocol !== 'http:' && target.protocol !== 'ws:') {
    return Promise.reject(new InvalidArgumentError(`tunnel: URL must be http(s): or ws(s):, got ${target.protocol}`));
  }
  const protocols = options.protocols ?? [TUNNEL_PROTOCOL_PORT_FORWARD];
  const timeout = options.timeout ?? DEFAULT_UPGRADE_TIMEOUT;
  const maxPayload = options.maxPayload ?? DEFAULT_TUNNEL_MAX_PAYLOAD;
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(new AbortError('tunnel aborted', { cause: signal.reason }));
  const where = `${target.hostname}:${target.port || (secure ? 443 : 80)}`;
  const key = randomBytes(16).toString('base64');
  const headers: http.OutgoingHttpHeaders = {};
  const own = new Set(['connection', 'upgrade', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol', 'sec-websocket-extensions']);
  for (const [name, value] of Object.entries(options.headers ?? {})) if (!own.has(name.toLowerCase())) headers[name] = value;
  headers.Connection = 'Upgrade';
  headers.Upgrade = 'websocket';
  headers['Sec-WebSocket-Version'] = '13';
  headers['Sec-WebSocket-Key'] = key;
  headers['Sec-WebSocket-Protocol'] = protocols.join(', ');
  const requestOptions: https.RequestOptions = {
    ...(secure ? options.tls : undefined),
    method: 'GET',
    protocol: secure ? 'https:' : 'http:',
    hostname: target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname,
    port: target.port === '' ? undefined : Number(target.port),
    path: `${target.pathname}${target.search}`,
    headers,
  };
  if (options.createConnection) (requestOptions as { createConnection?: unknown }).createConnection = options.createConnection;
  else requestOptions.agent = false;
  debug('tunnel GET %s%s offering %o', target.origin, target.pathname, protocols);

  return new Promise<TunnelResult>((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const req = (secure ? https : http).request(requestOptions);
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      debug('tunnel %s failed: %s', where, err.message);
      req.destroy();
      reject(err);
    };
    const onAbort = (): void => fail(new AbortError('tunnel aborted', { cause: signal?.reason }));
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeout > 0) {
      timer = setTimeout(() => {
        fail(new TimeoutError(`WebSocket tunnel failed: no WebSocket tunnel response from ${where} within ${timeout} ms`, timeout));
      }, timeout);
    }
    req.on('error', (err: NodeJS.ErrnoException) => fail(new UpgradeError(0, `WebSocket tunnel to ${where} failed: ${describe(err)}`, '', { cause: err })));
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let size = 0;
      const finish = (): void => {
        const text = Buffer.concat(chunks).toString('utf8');
        const st = parseStatus(text);
        const serverMessage = st !== undefined ? st.message || st.reason : text.trim();
        const line = serverMessage.replace(/\s+/g, ' ').slice(0, 512);
        fail(new UpgradeError(status, `WebSocket tunnel upgrade failed: ${status} ${res.statusMessage ?? ''}${line ? `: ${line}` : ''}`, serverMessage));
      };
      res.on('data', (c: Buffer) => {
        if (size < MAX_ERROR_BODY) chunks.push(c.subarray(0, MAX_ERROR_BODY - size));
        size += c.length;
      });
      res.on('end', finish);
      res.on('close', finish);
      res.on('error', finish);
    });
    req.on('upgrade', (res, socket: Duplex, head: Buffer) => {
      if (settled) return void socket.destroy();
      const protocol = splitHeaderValues(res.headers['sec-websocket-protocol'])[0] ?? '';
      let problem: string | undefined;
      if (!headerContains(res.headers.upgrade, 'websocket')) problem = `101 without "Upgrade: websocket"`;
      else if (!headerContains(res.headers.connection, 'upgrade')) problem = `101 without "Connection: Upgrade"`;
      else if (res.headers['sec-websocket-accept'] !== webSocketAccept(key)) problem = 'wrong Sec-WebSocket-Accept';
      else if (res.headers['sec-websocket-extensions'] !== undefined) problem = 'the server chose an extension that was not offered';
      else if (!protocols.includes(protocol)) problem = `the server chose subprotocol ${JSON.stringify(protocol)}, offered [${protocols.join(' ')}]`;
      if (problem !== undefined) {
        socket.destroy();
        // A 101 that fails the checks is an upgrade failure too: client-go falls back on it.
        return fail(new UpgradeError(101, `WebSocket tunnel upgrade failed: ${problem}`));
      }
      settled = true;
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      debug('tunnel open to %s (%s)', where, protocol);
      const ws = upgradedWebSocket(socket, head, 'client', maxPayload, protocol);
      resolve({ socket: webSocketStream(ws, options), protocol });
    });
    req.end();
  });
}

function describe(err: NodeJS.ErrnoException): string {
  if (err.code === 'ECONNREFUSED') return `connection refused`;
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return `cannot resolve host: ${err.message}`;
  if (err.code !== undefined && /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO|SIGNATURE/i.test(err.code)) return `TLS handshake failed: ${err.message}`;
  return err.message;
}
