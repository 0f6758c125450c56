/**
 * A WebSocket as a byte stream, the way Kubernetes' tunnel uses it (apimachinery
 * `pkg/util/httpstream/wsstream` `TunnelingConnection`, client-go `transport/websocket`): the SPDY/3.1
 * byte stream is carried in **binary** messages whose boundaries mean nothing (Go writes one frame in
 * several messages), a text message is a protocol error, and close code 1000 (or 1005, no code) is EOF.
 */
import { createHash } from 'node:crypto';
import { Duplex } from 'node:stream';
import WebSocket from 'ws';
import createDebug from 'debug';
import { KubeSpdyError } from '../errors.js';

const debug = createDebug('kube-spdy:websocket');

/** Default of {@link WebSocketStreamOptions.writeHighWaterMark}: 1 MiB. */
export const DEFAULT_TUNNEL_WRITE_HIGH_WATER_MARK = 1024 * 1024;

export interface WebSocketStreamOptions {
  /**
   * Bytes queued in the WebSocket (its `bufferedAmount`) above which a write waits until its message
   * is flushed to the socket, bytes. Default 1 MiB.
   */
  writeHighWaterMark?: number;
}

/** A WebSocket tunnel failed: a text message, or a close with a code other than 1000/1005. */
export class TunnelError extends KubeSpdyError {
  /** The WebSocket close code, when the tunnel closed with one (1006: closed without a close frame). */
  readonly closeCode: number | undefined;
  constructor(message: string, closeCode?: number) {
    super('ERR_TUNNEL', message);
    this.closeCode = closeCode;
  }
}

/** RFC 6455 section 4.2.2: the GUID appended to `Sec-WebSocket-Key` for `Sec-WebSocket-Accept`. */
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (RFC 6455 section 4.2.2). */
export function webSocketAccept(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

/**
 * A `ws` WebSocket over a connection whose HTTP handshake is already done (by us). The handshake is
 * ours, not `ws`'s, because Kubernetes' subprotocol names (`SPDY/3.1+portforward.k8s.io`) contain `/`,
 * which is not an RFC 7230 token: `ws` refuses to offer it as a client and answers 400 to it as a server.
 * Framing, masking (client role), ping/pong and the close handshake are `ws`'s.
 * @param maxPayload largest message accepted, bytes.
 */
export function upgradedWebSocket(socket: Duplex, head: Buffer, role: 'client' | 'server', maxPayload: number, protocol: string): WebSocket {
  const ws = new WebSocket(null as never, undefined, { autoPong: true } as WebSocket.ClientOptions) as WebSocket & {
    _isServer: boolean;
    _protocol: string;
    setSocket(socket: Duplex, head: Buffer, options: object): void;
  };
  ws._isServer = role === 'server';
  ws._protocol = protocol;
  ws.setSocket(socket, head, { maxPayload, skipUTF8Validation: true, allowSynchronousEvents: true });
  return ws;
}

/**
 * Wraps an OPEN WebSocket as a Duplex of bytes. Reading pauses the WebSocket when the readable side is
 * full (real backpressure down to the TCP socket); each write is sent as one binary message. `end()`
 * sends a close frame with code 1000; `destroy()` closes with 1000 (or terminates when given an error).
 */
export function webSocketStream(ws: WebSocket, options: WebSocketStreamOptions = {}): Duplex {
  const hwm = options.writeHighWaterMark ?? DEFAULT_TUNNEL_WRITE_HIGH_WATER_MARK;
  let closed = false;
  const send = (chunk: Buffer, cb: (err?: Error | null) => void): void => {
    if (ws.readyState !== 1 /* OPEN */) return cb(new TunnelError('write after the WebSocket tunnel closed'));
    if (ws.bufferedAmount + chunk.length <= hwm) {
      ws.send(chunk, { binary: true }, (err) => {
        if (err) stream.destroy(err);
      });
      cb();
    } else {
      ws.send(chunk, { binary: true }, (err) => cb(err ?? null));
    }
  };
  const stream = new Duplex({
    allowHalfOpen: false,
    read() {
      ws.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      send(chunk, cb);
    },
    writev(chunks, cb) {
      // One message per chunk: boundaries carry no meaning, and no copy is made to join them.
      const last = chunks.length - 1;
      for (let i = 0; i < last; i++) {
        if (ws.readyState !== 1) break;
        ws.send(chunks[i]!.chunk as Buffer, { binary: true });
      }
      send(chunks[last]!.chunk as Buffer, cb);
    },
    final(cb) {
      if (ws.readyState === 1) ws.close(1000);
      cb();
    },
    destroy(err, cb) {
      if (!closed) {
        if (err || ws.readyState === 0) ws.terminate();
        else if (ws.readyState === 1) ws.close(1000);
      }
      cb(err);
    },
  });
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) {
      stream.destroy(new TunnelError('unexpected text message in the WebSocket tunnel (binary messages only)'));
      return;
    }
    if (!stream.push(data)) ws.pause();
  });
  ws.on('close', (code: number) => {
    closed = true;
    debug('tunnel closed with code %d', code);
    if (code === 1000 || code === 1005) stream.push(null);
    else stream.destroy(new TunnelError(`WebSocket tunnel closed with code ${code}`, code));
  });
  ws.on('error', (err) => stream.destroy(err));
  return stream;
}
