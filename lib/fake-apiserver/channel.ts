/**
 * The older WebSocket channel protocol for port-forward that @kubernetes/client-node's `PortForward`,
 * the Python client and kube-rs speak (kubelet `pkg/kubelet/cri/streaming/portforward/websocket.go`):
 * subprotocol `v4.channel.k8s.io` (or the legacy `channel.k8s.io`), ports in the `?ports=` query
 * (comma separated or repeated), one TCP connection to the pod per port per WebSocket. Port i uses
 * channel 2i for data and 2i+1 for error text; every message starts with its channel byte, and the first
 * message of each channel is the port number (2 bytes, little endian).
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type WebSocket from 'ws';
import createDebug from 'debug';
import { writeHttpError } from '../httpstream/server.js';
import { statusJson } from '../httpstream/status.js';
import { splitHeaderValues } from '../httpstream/headers.js';
import { upgradedWebSocket, webSocketAccept } from '../httpstream/websocket-stream.js';

const log = createDebug('kube-spdy:fake-apiserver');

/** Subprotocols served, in the kubelet's order of support (the client's first offered one wins). */
export const CHANNEL_PROTOCOLS = ['v4.channel.k8s.io', 'channel.k8s.io'];
/** Bytes queued in the WebSocket above which reading the pod socket pauses. */
const SEND_HIGH_WATER_MARK = 1024 * 1024;
/** Largest message accepted from the client, bytes. */
const MAX_PAYLOAD = 16 * 1024 * 1024;

/** True when the request offers a channel subprotocol (and not the SPDY tunnel). */
export function offersChannelProtocol(req: http.IncomingMessage): boolean {
  return splitHeaderValues(req.headersDistinct['sec-websocket-protocol']).some((p) => CHANNEL_PROTOCOLS.includes(p));
}

/**
 * Serves one channel-protocol port-forward on an upgrade request; `dial(port)` opens the pod's port.
 */
export function serveChannelPortForward(req: http.IncomingMessage, socket: Duplex, head: Buffer, dial: (port: number, signal: AbortSignal) => Promise<Duplex>): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const ports: number[] = [];
  for (const v of url.searchParams.getAll('ports')) for (const p of v.split(',')) if (p.trim() !== '') ports.push(Number(p.trim()));
  if (ports.length === 0) return writeHttpError(socket, 400, statusJson(400, 'BadRequest', 'query parameter "ports" is required'));
  if (ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) return writeHttpError(socket, 400, statusJson(400, 'BadRequest', 'ports must be integers in 1..65535'));
  if (ports.length > 64) return writeHttpError(socket, 400, statusJson(400, 'BadRequest', 'at most 64 ports per connection'));
  const key = req.headers['sec-websocket-key'];
  const protocol = splitHeaderValues(req.headersDistinct['sec-websocket-protocol']).find((p) => CHANNEL_PROTOCOLS.includes(p))!;
  if (typeof key !== 'string' || req.headers['sec-websocket-version'] !== '13') return writeHttpError(socket, 400, statusJson(400, 'BadRequest', 'invalid WebSocket handshake'));
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${webSocketAccept(key)}\r\nSec-WebSocket-Protocol: ${protocol}\r\n\r\n`);
  const ws = upgradedWebSocket(socket, head, 'server', MAX_PAYLOAD, protocol);
  const abort = new AbortController();
  const pods: (Duplex | undefined)[] = ports.map(() => undefined);
  const pending: Buffer[][] = ports.map(() => []);
  let open = ports.length;
  const send = (channel: number, data: Buffer, cb?: () => void): void => {
    if (ws.readyState !== 1) return;
    const msg = Buffer.allocUnsafe(data.length + 1);
    msg[0] = channel;
    data.copy(msg, 1);
    ws.send(msg, { binary: true }, cb);
  };
  let pendingBytes = 0;
  const portBytes = (p: number): Buffer => Buffer.from([p & 0xff, p >> 8]);
  ports.forEach((p, i) => {
    send(2 * i, portBytes(p));
    send(2 * i + 1, portBytes(p));
  });
  const finishOne = (): void => {
    if (--open === 0 && ws.readyState === 1) ws.close(1000);
  };
  ports.forEach((port, i) => {
    dial(port, abort.signal).then(
      (pod) => {
        pods[i] = pod;
        for (const b of pending[i]!) pod.write(b);
        pending[i] = [];
        pendingBytes = 0;
        ws.resume();
        pod.on('data', (d: Buffer) => {
          if (ws.bufferedAmount + d.length <= SEND_HIGH_WATER_MARK) return send(2 * i, d);
          // Backpressure: stop reading the pod until this message has reached the socket.
          pod.pause();
          send(2 * i, d, () => pod.resume());
        });
        pod.on('drain', () => ws.resume());
        pod.once('end', finishOne);
        pod.once('error', (err) => {
          send(2 * i + 1, Buffer.from(`error forwarding port ${port}: ${err.message}`));
        });
      },
      (err: Error) => {
        send(2 * i + 1, Buffer.from(`error forwarding port ${port} to pod: ${err.message}`));
        finishOne();
      },
    );
  });
  ws.on('message', (data: Buffer) => {
    if (data.length === 0) return;
    const channel = data[0]!;
    if (channel % 2 !== 0 || channel / 2 >= ports.length) return; // only data channels carry client bytes
    const i = channel / 2;
    const payload = data.subarray(1);
    if (payload.length === 0) return;
    const pod = pods[i];
    if (!pod) {
      pending[i]!.push(Buffer.from(payload));
      pendingBytes += payload.length;
      if (pendingBytes > SEND_HIGH_WATER_MARK) (ws as WebSocket).pause(); // resumed once the pod is dialed
    }
    else if (!pod.write(payload)) (ws as WebSocket).pause();
  });
  ws.on('close', () => {
    log('channel port-forward closed');
    abort.abort();
    for (const p of pods) p?.end();
  });
  ws.on('error', () => {
    abort.abort();
    for (const p of pods) p?.destroy();
  });
}
