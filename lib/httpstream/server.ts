/**
 * Server side of the Kubernetes httpstream upgrade to SPDY/3.1, for a `node:http`/`node:https`
 * server's `'upgrade'` event. Follows k8s.io/apimachinery `pkg/util/httpstream/httpstream.go`
 * (`Handshake`) and `pkg/util/httpstream/spdy/upgrade.go` (`responseUpgrader.UpgradeResponse`), in the
 * order the kubelet calls them (`pkg/kubelet/cri/streaming/portforward/httpstream.go`
 * `handleHTTPStreams`): protocol negotiation first (403), then the upgrade headers (400).
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  HEADER_ACCEPTED_PROTOCOL_VERSIONS,
  HEADER_CONNECTION,
  HEADER_PROTOCOL_VERSION,
  HEADER_UPGRADE,
  UPGRADE_SPDY_31,
  checkHeader,
  checkProtocols,
  headerContains,
  splitHeaderValues,
} from './headers.js';
import { statusJson, type Status } from './status.js';

/** Options of {@link createUpgradeHandler}. */
export interface UpgradeHandlerOptions {
  /**
   * Stream protocols (`X-Stream-Protocol-Version` values) this server supports, e.g.
   * `['portforward.k8s.io']`. Required, non-empty (Go panics on an empty list; this throws).
   * Their order does not choose the winner (see {@link negotiateProtocol}); it is the order of the
   * `X-Accepted-Stream-Protocol-Versions` lines of a 403.
   */
  protocols: string[];
  /**
   * Called synchronously once the 101 has been written, with the raw connection (a `net.Socket` or
   * `tls.TLSSocket`; any bytes the client sent after its request headers are unshifted back onto it),
   * the negotiated protocol and the request. The socket has no `'error'` listener: add one at once.
   * The server must not speak first: Go clients (spdy `RoundTripper`) may lose bytes that arrive in
   * the same read as the 101, so send nothing until the client's first frame. If this callback throws,
   * the socket is destroyed and the exception propagates.
   */
  onUpgrade(socket: Duplex, protocol: string, req: IncomingMessage): void;
}

/** The negotiated protocol, or the HTTP error that must be answered instead. */
export type HandshakeResult =
  | { ok: true; protocol: string }
  | { ok: false; statusCode: 400 | 403; message: string };

/**
 * Picks the first of the CLIENT's protocols (in the client's order) that the server supports, or `''`
 * when there is none: apimachinery `httpstream.go` `negotiateProtocol` iterates the client list in the
 * outer loop, so the client's preference wins. Comparison is exact (case-sensitive), as in Go.
 */
export function negotiateProtocol(clientProtocols: readonly string[], serverProtocols: readonly string[]): string {
  for (const p of clientProtocols) {
    if (serverProtocols.includes(p)) return p;
  }
  return '';
}

/**
 * Checks an upgrade request without writing anything: 403 when `X-Stream-Protocol-Version` is absent
 * or shares no value with `serverProtocols` (`Handshake`); then 400 when `Connection` lacks `upgrade`
 * or `Upgrade` lacks `SPDY/3.1`, both compared case-insensitively (`UpgradeResponse`). Request protocol
 * lines are split on commas (`commaSeparatedHeaderValues`). Messages match Go's, except that the 400
 * message does not dump the request headers (Go's `%#v` would echo `Authorization`).
 */
export function checkUpgradeRequest(req: IncomingMessage, serverProtocols: readonly string[]): HandshakeResult {
  const clientProtocols = splitHeaderValues(req.headersDistinct[HEADER_PROTOCOL_VERSION.toLowerCase()]);
  if (clientProtocols.length === 0) {
    return { ok: false, statusCode: 403, message: `unable to upgrade: ${HEADER_PROTOCOL_VERSION} is required` };
  }
  const protocol = negotiateProtocol(clientProtocols, serverProtocols);
  if (protocol === '') {
    return {
      ok: false,
      statusCode: 403,
      message:
        `unable to upgrade: unable to negotiate protocol: client supports [${clientProtocols.join(' ')}], ` +
        `server accepts [${serverProtocols.join(' ')}]`,
    };
  }
  if (!headerContains(req.headers.connection, HEADER_UPGRADE) || !headerContains(req.headers.upgrade, UPGRADE_SPDY_31)) {
    return { ok: false, statusCode: 400, message: 'unable to upgrade: missing upgrade headers in request' };
  }
  return { ok: true, protocol };
}

/**
 * Returns a listener for `http.Server`'s `'upgrade'` event `(req, socket, head)`.
 *
 * - 403 (negotiation failed): one `X-Accepted-Stream-Protocol-Versions` line per supported protocol and a
 *   metav1.Status JSON body (reason `Forbidden`). Go's `Handshake` sends the lines only when no protocol
 *   is common; here they are also sent when the version header is missing (it helps the client).
 * - 400 (upgrade headers missing or not SPDY/3.1, e.g. a WebSocket upgrade): a plain-text body.
 * Both close the connection ({@link writeHttpError}).
 * - Success: writes exactly `HTTP/1.1 101 Switching Protocols`, `Connection: Upgrade`,
 *   `Upgrade: SPDY/3.1`, `X-Stream-Protocol-Version: <p>`, then unshifts `head`, sets TCP_NODELAY and
 *   calls `onUpgrade`. Nothing else is written after the 101.
 *
 * A request without an `Upgrade` header never reaches `'upgrade'` (Node sends it to `'request'`): use
 * {@link rejectNonUpgradeRequest} there. Throws {@link InvalidArgumentError} for an invalid `protocols`.
 */
export function createUpgradeHandler(
  opts: UpgradeHandlerOptions,
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  checkProtocols(opts.protocols, 'createUpgradeHandler: protocols');
  const protocols = [...opts.protocols];
  const onUpgrade = opts.onUpgrade;
  return (req, socket, head) => {
    const result = checkUpgradeRequest(req, protocols);
    if (!result.ok) {
      if (result.statusCode === 403) {
        writeHttpError(socket, 403, statusJson(403, '', result.message), {
          [HEADER_ACCEPTED_PROTOCOL_VERSIONS]: protocols,
        });
      } else {
        writeHttpError(socket, result.statusCode, result.message);
      }
      return;
    }
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\n' +
        `${HEADER_CONNECTION}: Upgrade\r\n` +
        `${HEADER_UPGRADE}: ${UPGRADE_SPDY_31}\r\n` +
        `${HEADER_PROTOCOL_VERSION}: ${result.protocol}\r\n\r\n`,
    );
    if (head.length > 0) socket.unshift(head);
    const tcp = socket as Partial<Socket>;
    if (typeof tcp.setNoDelay === 'function') tcp.setNoDelay(true);
    try {
      onUpgrade(socket, result.protocol, req);
    } catch (err) {
      socket.destroy();
      throw err;
    }
  };
}

/** How long {@link writeHttpError} waits for the peer to close before destroying the socket (ms). */
const CLOSE_GRACE_MS = 5000;

/**
 * Writes a complete HTTP/1.1 error response on a raw socket and ends it: status line with the standard
 * reason phrase, `Content-Type` (`application/json` for a Status object, else
 * `text/plain; charset=utf-8` plus `X-Content-Type-Options: nosniff` and a trailing newline, as Go's
 * `http.Error`), `Content-Length`, `Connection: close`, then `extraHeaders` (an array value is written as
 * one header line per element). Whatever the client still sends is discarded; the socket is destroyed
 * when the client closes its side, or after 5 s. Throws {@link InvalidArgumentError} for a header
 * name or value that could inject headers (CR/LF).
 */
export function writeHttpError(
  socket: Duplex,
  statusCode: number,
  body: Status | string,
  extraHeaders?: Record<string, string | readonly string[]>,
): void {
  const isText = typeof body === 'string';
  const payload = Buffer.from(isText ? `${body}\n` : JSON.stringify(body), 'utf8');
  const lines = [`HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode] ?? 'Unknown'}`];
  const add = (name: string, value: string): void => {
    checkHeader(name, value);
    lines.push(`${name}: ${value}`);
  };
  add('Content-Type', isText ? 'text/plain; charset=utf-8' : 'application/json');
  if (isText) add('X-Content-Type-Options', 'nosniff');
  add('Content-Length', String(payload.length));
  add('Connection', 'close');
  for (const [name, value] of Object.entries(extraHeaders ?? {})) {
    for (const v of typeof value === 'string' ? [value] : value) add(name, v);
  }
  const headerBlock = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  // Node removed its own listeners when it emitted 'upgrade': keep a reset from crashing the process.
  socket.on('error', () => {});
  const timer = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.once('end', () => socket.destroy());
  socket.resume();
  socket.end(Buffer.concat([headerBlock, payload]));
}

/**
 * A `'request'` listener (or a helper to call from one) that answers an HTTP request that is not an
 * upgrade with 400 and the plain-text message of apimachinery `UpgradeResponse`
 * (`unable to upgrade: missing upgrade headers in request`), and closes the connection.
 */
export function rejectNonUpgradeRequest(_req: IncomingMessage, res: ServerResponse): void {
  const body = 'unable to upgrade: missing upgrade headers in request\n';
  res.writeHead(400, {
    'Content-Type': 'text/plain; charset=utf-8',
    'X-Content-Type-Options': 'nosniff',
    'Content-Length': Buffer.byteLength(body),
    Connection: 'close',
  });
  res.end(body);
}
