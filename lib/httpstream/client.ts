/**
 * Client side of the Kubernetes httpstream upgrade to SPDY/3.1 (what kubectl/client-go send for
 * port-forward, exec and attach). Follows k8s.io/apimachinery `pkg/util/httpstream/spdy/roundtripper.go`
 * (`NewConnection`: checks of the 101) and client-go `transport/spdy/spdy.go` (`Negotiate`).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import createDebug from 'debug';
import { AbortError, InvalidArgumentError, TimeoutError, UpgradeError } from '../errors.js';
import {
  HEADER_CONNECTION,
  HEADER_PROTOCOL_VERSION,
  HEADER_UPGRADE,
  UPGRADE_SPDY_31,
  checkProtocols,
  headerContains,
} from './headers.js';
import { parseStatus } from './status.js';

const debug = createDebug('kube-spdy:httpstream');

/** Largest error body read from a non-101 response (bytes); the rest is discarded. */
export const MAX_ERROR_BODY = 64 * 1024;
/** Default of {@link UpgradeOptions.timeout} (ms). */
export const DEFAULT_UPGRADE_TIMEOUT = 30_000;

/**
 * Creates the connection for a request, as `http.request`'s `createConnection` (callback form): for an
 * https: URL the socket it yields must already speak TLS. Used for proxies (HTTP CONNECT, SOCKS5).
 */
export type CreateConnection = (options: object, callback: (err: Error | null, socket?: Duplex) => void) => void;

/** Options of {@link upgrade}. */
export interface UpgradeOptions {
  /** HTTP method. Default `'POST'` (what kubectl uses for port-forward; exec/attach also accept GET). */
  method?: string;
  /**
   * `X-Stream-Protocol-Version` values offered, in preference order, e.g. `['portforward.k8s.io']`.
   * Sent as one header line each. Required, non-empty; no commas.
   */
  protocols: string[];
  /**
   * Extra request headers, e.g. `Authorization`, `User-Agent`. `Connection`, `Upgrade` and
   * `X-Stream-Protocol-Version` given here are replaced by the upgrade's own. Header values are never logged.
   */
  headers?: Record<string, string>;
  /** TLS options for `https:` URLs (`ca`, `cert`, `key`, `rejectUnauthorized`, `servername` …). */
  tls?: ConnectionOptions;
  /** Time allowed for connect + TLS + the response head (and the error body of a non-101), in ms. Default 30000; 0 disables it. */
  timeout?: number;
  /** Creates the connection (a proxy tunnel, TLS already applied for https:). Default: a direct TCP/TLS connection. */
  createConnection?: CreateConnection;
  /** Aborts the upgrade while it is in progress. It has no effect on the socket once resolved. */
  signal?: AbortSignal;
  /**
   * Accept a 101 without an `X-Stream-Protocol-Version` header and resolve with `protocol: ''`.
   * Default `false`. client-go's `Negotiate` returns whatever the server sent; port-forward then
   * rejects anything but its one protocol, empty included (client-go `tools/portforward`
   * `ForwardPorts`), while remotecommand treats `''` as the legacy v1 protocol. The strict default
   * is port-forward's rule; set this for the remotecommand-style fallback.
   */
  allowEmptyProtocol?: boolean;
}

/** What {@link upgrade} resolves with. */
export interface UpgradeResult {
  /**
   * The upgraded connection (`net.Socket` or `tls.TLSSocket`), with TCP_NODELAY set and any bytes that
   * arrived behind the 101 unshifted back, so none is lost. No listener of ours remains on it and it is
   * not paused (it flows once a `'data'` listener or pipe is attached). Attach an `'error'` listener at once.
   */
  socket: Duplex;
  /** The negotiated `X-Stream-Protocol-Version`: always one of the offered protocols, or `''` only with `allowEmptyProtocol`. */
  protocol: string;
  /** Headers of the 101 response. */
  headers: http.IncomingHttpHeaders;
}

/**
 * Sends an HTTP/1.1 upgrade request (`Connection: Upgrade`, `Upgrade: SPDY/3.1`, one
 * `X-Stream-Protocol-Version` line per offered protocol) and resolves with the raw connection once the
 * server answers 101 with `Connection` containing `upgrade`, `Upgrade` containing `spdy/3.1`
 * (both case-insensitive, as `NewConnection`) and a negotiated protocol that was offered.
 *
 * Rejects with:
 * - {@link UpgradeError} with the HTTP status for a non-101 answer (`serverMessage` is the metav1.Status
 *   `message`, or its `reason` when empty, when the body is a Status; else the trimmed body text; at most
 *   64 KiB are read), and with status 101 for a 101 that fails the checks above. A non-zero status plays
 *   the role of apimachinery's `UpgradeFailureError` (`httpstream.IsUpgradeFailure`): the server answered
 *   but refused, the one case where kubectl falls back to another transport; status 0 errors do not.
 * - {@link UpgradeError} with status 0 when no HTTP answer came: connection refused, DNS, TLS errors,
 *   a reset; `cause` is the underlying error.
 * - {@link TimeoutError} (`timeout` in ms) when no answer came within `timeout`.
 * - {@link AbortError} when `signal` aborts first (`cause` is the signal's reason).
 * - {@link InvalidArgumentError} for a URL that is not http(s), or bad `protocols`/`timeout`.
 */
export async function upgrade(url: string | URL, options: UpgradeOptions): Promise<UpgradeResult> {
  const target = parseUrl(url);
  checkProtocols(options.protocols, 'upgrade: protocols');
  const offered = [...options.protocols];
  const timeout = options.timeout ?? DEFAULT_UPGRADE_TIMEOUT;
  if (!Number.isFinite(timeout) || timeout < 0) {
    throw new InvalidArgumentError(`upgrade: timeout must be a non-negative number of ms, got ${timeout}`);
  }
  const { signal } = options;
  if (signal?.aborted) throw new AbortError('upgrade aborted', { cause: signal.reason });

  const where = `${target.hostname}:${target.port || (target.protocol === 'https:' ? 443 : 80)}`;
  const method = options.method ?? 'POST';
  const headers: http.OutgoingHttpHeaders = {};
  const own = new Set(['connection', 'upgrade', HEADER_PROTOCOL_VERSION.toLowerCase()]);
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (!own.has(name.toLowerCase())) headers[name] = value;
  }
  headers[HEADER_CONNECTION] = 'Upgrade';
  headers[HEADER_UPGRADE] = UPGRADE_SPDY_31;
  headers[HEADER_PROTOCOL_VERSION] = offered;

  const requestOptions: https.RequestOptions = {
    ...(target.protocol === 'https:' ? options.tls : undefined),
    method,
    protocol: target.protocol,
    hostname: target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname,
    port: target.port === '' ? undefined : Number(target.port),
    path: `${target.pathname}${target.search}`,
    headers,
    agent: false,
  };
  if (options.createConnection) {
    // With no agent, Node's ClientRequest calls createConnection(options, oncreate) itself.
    delete requestOptions.agent;
    (requestOptions as { createConnection?: unknown }).createConnection = options.createConnection;
  }
  if (target.username !== '' || target.password !== '') {
    requestOptions.auth = `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`;
  }
  debug('upgrade %s %s%s offering %o', method, target.origin, target.pathname, offered);

  return new Promise<UpgradeResult>((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let finishBody: (() => void) | undefined;
    const req = (target.protocol === 'https:' ? https : http).request(requestOptions);

    const cleanup = (): void => {
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const fail = (err: Error): void => {
      if (settled) return;
      cleanup();
      debug('upgrade %s%s failed: %s', target.origin, target.pathname, err.message);
      req.destroy();
      reject(err);
    };
    function onAbort(): void {
      fail(new AbortError('upgrade aborted', { cause: signal?.reason }));
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeout > 0) {
      timer = setTimeout(() => {
        if (finishBody !== undefined) return finishBody(); // status known: report it with the partial body
        fail(new TimeoutError(`upgrade to SPDY/3.1 failed: no upgrade response from ${where} within ${timeout} ms`, timeout));
      }, timeout);
    }

    req.on('error', (err: NodeJS.ErrnoException) => {
      fail(new UpgradeError(0, `upgrade to SPDY/3.1 failed: ${describeConnectError(err, where)}`, '', { cause: err }));
    });

    req.on('upgrade', (res: http.IncomingMessage, socket: Socket, head: Buffer) => {
      if (settled) {
        socket.destroy();
        return;
      }
      const problem = checkUpgradeResponse(res, offered, options.allowEmptyProtocol === true);
      if (problem !== undefined) {
        socket.destroy();
        fail(new UpgradeError(res.statusCode ?? 101, `upgrade to SPDY/3.1 failed: ${problem}`));
        return;
      }
      cleanup();
      socket.setNoDelay(true);
      if (head.length > 0) socket.unshift(head);
      const protocol = firstHeader(res.headers[HEADER_PROTOCOL_VERSION.toLowerCase()]);
      debug('upgraded %s%s: protocol %s, %d bytes behind the 101', target.origin, target.pathname, protocol, head.length);
      resolve({ socket, protocol, headers: res.headers });
    });

    req.on('response', (res: http.IncomingMessage) => {
      const statusCode = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let size = 0;
      finishBody = () => {
        if (settled) return;
        const text = Buffer.concat(chunks).toString('utf8');
        const status = parseStatus(text);
        const serverMessage = status !== undefined ? status.message || status.reason : text.trim();
        const reason = res.statusMessage || http.STATUS_CODES[statusCode] || '';
        const line = oneLine(serverMessage);
        fail(new UpgradeError(statusCode, `upgrade to SPDY/3.1 failed: ${statusCode} ${reason}${line ? `: ${line}` : ''}`, serverMessage));
        res.destroy();
      };
      res.on('data', (chunk: Buffer) => {
        const room = MAX_ERROR_BODY - size;
        if (room <= 0) return;
        const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
        chunks.push(part);
        size += part.length;
        if (size >= MAX_ERROR_BODY) finishBody?.();
      });
      res.on('end', () => finishBody?.());
      res.on('close', () => finishBody?.());
      res.on('error', () => finishBody?.());
    });

    req.end();
  });
}

/** Returns a problem description for a 101 that `NewConnection`/port-forward would refuse, else undefined. */
function checkUpgradeResponse(res: http.IncomingMessage, offered: readonly string[], allowEmpty: boolean): string | undefined {
  if (res.statusCode !== 101) return `unexpected status ${res.statusCode} for an upgrade`;
  if (!headerContains(res.headers.connection, HEADER_UPGRADE)) {
    return `server answered 101 without "Connection: Upgrade" (got ${JSON.stringify(res.headers.connection ?? '')})`;
  }
  if (!headerContains(res.headers.upgrade, UPGRADE_SPDY_31)) {
    return `server answered 101 without "Upgrade: SPDY/3.1" (got ${JSON.stringify(res.headers.upgrade ?? '')})`;
  }
  const protocol = firstHeader(res.headers[HEADER_PROTOCOL_VERSION.toLowerCase()]);
  if (protocol === '' ? !allowEmpty : !offered.includes(protocol)) {
    return `unable to negotiate protocol: client supports [${offered.join(' ')}], server returned ${JSON.stringify(protocol)}`;
  }
  return undefined;
}

/** The header's value as Go's `Header.Get` sees it (first line), trimmed; `''` when absent. */
function firstHeader(value: string | string[] | undefined): string {
  if (value === undefined) return '';
  return (Array.isArray(value) ? (value[0] ?? '') : value).trim();
}

/** Collapses whitespace runs (newlines included) and bounds the length, for an error message line. */
function oneLine(text: string, max = 512): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

function describeConnectError(err: NodeJS.ErrnoException, where: string): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return `connection to ${where} refused`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve ${where}: ${err.message}`;
    case 'ECONNRESET':
    case 'EPIPE':
      return `connection to ${where} closed before a response: ${err.message}`;
    default:
      if (err.code !== undefined && /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO|SIGNATURE/i.test(err.code)) {
        return `TLS handshake with ${where} failed: ${err.message}`;
      }
      return `cannot connect to ${where}: ${err.message}`;
  }
}

function parseUrl(url: string | URL): URL {
  let target: URL;
  try {
    target = typeof url === 'string' ? new URL(url) : url;
  } catch (err) {
    throw new InvalidArgumentError(`upgrade: invalid URL ${JSON.stringify(String(url))}: ${(err as Error).message}`);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new InvalidArgumentError(`upgrade: URL must be http: or https:, got ${target.protocol}`);
  }
  return target;
}
