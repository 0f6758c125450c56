/**
 * Server side of Kubernetes' WebSocket tunnel: accepts `GET` + `Upgrade: websocket` with one of the
 * given subprotocols (e.g. `SPDY/3.1+portforward.k8s.io`) and hands over the SPDY/3.1 byte stream
 * carried in binary messages (apimachinery `pkg/util/httpstream/wsstream` `TunnelingConnection`; the
 * API server's tunnel handler). The handshake (RFC 6455 section 4.2) is done here; framing by `ws`.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { writeHttpError } from './server.js';
import { statusJson } from './status.js';
import { headerContains, splitHeaderValues } from './headers.js';
import { upgradedWebSocket, webSocketAccept, webSocketStream, type WebSocketStreamOptions } from './websocket-stream.js';
import { DEFAULT_TUNNEL_MAX_PAYLOAD } from './websocket-client.js';

export interface TunnelHandlerOptions extends WebSocketStreamOptions {
  /** Subprotocols served, e.g. `['SPDY/3.1+portforward.k8s.io']`. The client's first offered one that is here wins. */
  protocols: string[];
  /** Largest WebSocket message accepted, bytes. Default 32 MiB. */
  maxPayload?: number;
  /**
   * Called once the 101 is written, with the byte stream (a Duplex), the subprotocol and the request.
   * Give the stream to a server-role SPDY `Connection`.
   */
  onTunnel(socket: Duplex, protocol: string, req: IncomingMessage): void;
}

/** True when `req` asks for a WebSocket upgrade. */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return headerContains(req.headers.upgrade, 'websocket');
}

/**
 * An `'upgrade'` listener (req, socket, head) for tunnel requests. A bad handshake, or a request offering
 * none of the subprotocols, is answered 400 (a client that falls back, such as kubectl, then uses the
 * SPDY upgrade). No extension is negotiated.
 */
export function createTunnelHandler(options: TunnelHandlerOptions): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const maxPayload = options.maxPayload ?? DEFAULT_TUNNEL_MAX_PAYLOAD;
  return (req, socket, head) => {
    const key = req.headers['sec-websocket-key'];
    if (req.method !== 'GET' || !isWebSocketUpgrade(req) || req.headers['sec-websocket-version'] !== '13' || typeof key !== 'string' || !/^[+/0-9A-Za-z]{22}==$/.test(key)) {
      writeHttpError(socket, 400, statusJson(400, 'BadRequest', 'unable to upgrade: invalid WebSocket handshake'));
      return;
    }
    const offered = splitHeaderValues(req.headersDistinct['sec-websocket-protocol']);
    const protocol = offered.find((p) => options.protocols.includes(p));
    if (protocol === undefined) {
      writeHttpError(socket, 400, statusJson(400, 'BadRequest', `unable to upgrade: no supported WebSocket subprotocol (server accepts [${options.protocols.join(' ')}])`));
      return;
    }
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${webSocketAccept(key)}\r\nSec-WebSocket-Protocol: ${protocol}\r\n\r\n`,
    );
    const ws = upgradedWebSocket(socket, head, 'server', maxPayload, protocol);
    options.onTunnel(webSocketStream(ws, options), protocol, req);
  };
}
