/**
 * remotecommand over WebSocket, server side (kubelet cri-streaming `remotecommand/websocket.go` and the
 * apiserver's `wsstream` conn): one channel per stream, an empty message on the lowest writable channel
 * once open (the "ready" signal clients wait for), the Status on the error channel, then close 1000.
 */
import type { WebSocket } from 'ws';
import createDebug from 'debug';
import { ChannelSocket } from './channels.js';
import { Channel, protocolVersion } from './constants.js';
import { encodeErrorStream } from './status.js';
import { decodeResizes, runHandler, type RemoteCommandRequest, type RemoteCommandServerOptions } from './server.js';
import { endAndFlush } from './server-spdy.js';

const log = createDebug('kube-spdy:remotecommand:server');

/** Serves one accepted WebSocket. `track` registers a stop function for server shutdown. */
export function serveWebSocket(
  ws: WebSocket,
  request: RemoteCommandRequest,
  options: RemoteCommandServerOptions,
  track: (stop: () => void) => () => void,
): void {
  const protocol = ws.protocol;
  const version = protocolVersion(protocol);
  ws.on('error', (err) => log('WebSocket error: %s', err.message));
  const untrack = track(() => ws.terminate());
  const read: number[] = [];
  if (request.stdin) read.push(Channel.STDIN);
  if (request.tty && version >= 3) read.push(Channel.RESIZE);
  const write: number[] = [Channel.ERROR];
  if (request.stdout) write.push(Channel.STDOUT);
  if (request.stderr) write.push(Channel.STDERR);
  // The server never sends CLOSE: the end of the session is the WebSocket close (as the kubelet does).
  const mux = new ChannelSocket(ws, { version, readChannels: read, writeChannels: write, highWaterMark: options.highWaterMark ?? 1024 * 1024, sendClose: false });
  const abort = new AbortController();
  mux.once('close', () => {
    untrack();
    abort.abort();
  });
  mux.send(Math.min(...write), Buffer.alloc(0));

  const stdin = request.stdin ? mux.readable(Channel.STDIN) : null;
  const stdout = request.stdout ? mux.writable(Channel.STDOUT) : null;
  const stderr = request.stderr ? mux.writable(Channel.STDERR) : null;
  for (const w of [stdout, stderr]) w?.on('error', (err) => log('write: %s', err.message));
  const resize = request.tty && version >= 3 ? decodeResizes(mux.readable(Channel.RESIZE)) : null;

  void (async () => {
    const status = await runHandler(options.handler, { stdin, stdout, stderr, resize, signal: abort.signal, protocol, transport: 'websocket' }, request);
    if (mux.closed) return;
    stdin?.unpipe();
    stdin?.resume(); // discard what is still coming: it must not hold the socket
    await Promise.all([endAndFlush(stdout), endAndFlush(stderr)]);
    log('status: %s %s', status.status, status.reason ?? '');
    await endAndFlush(mux.writable(Channel.ERROR), encodeErrorStream(status, version));
    if (mux.closed) return;
    ws.close(1000);
    const timer = setTimeout(() => ws.terminate(), options.closeTimeout ?? 10_000);
    timer.unref();
    mux.once('close', () => clearTimeout(timer));
  })();
}
