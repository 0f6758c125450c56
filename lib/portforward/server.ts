/**
 * The `portforward.k8s.io` v1 server side, as the kubelet does it
 * (kubernetes pkg/kubelet/cri/streaming/portforward/httpstream.go):
 * validate each new stream's headers, reply to it, pair streams by `requestid` (waiting at most
 * `streamCreationTimeout` for the second one), dial the target port, copy bytes both ways, report
 * failures as text on the error stream, and always close both streams at the end.
 */
import type { Duplex } from 'node:stream';
import { setMaxListeners } from 'node:events';
import createDebug from 'debug';
import type { Connection } from '../session/connection.js';
import type { Stream } from '../session/stream.js';
import { RstStatus } from '../frames/constants.js';
import {
  DEFAULT_STREAM_CREATION_TIMEOUT,
  HEADER_PORT,
  HEADER_REQUEST_ID,
  HEADER_STREAM_TYPE,
  STREAM_TYPE_DATA,
  STREAM_TYPE_ERROR,
} from './constants.js';

const log = createDebug('kube-spdy:portforward:server');

export interface PortForwardServerOptions {
  /**
   * Connects to the target port (the pod's port). Rejecting makes the error stream carry
   * `error forwarding port P to pod <target>: <message>`.
   */
  dial: (port: number, signal: AbortSignal) => Promise<Duplex>;
  /** Names the pod in error text, e.g. `default/web`. Default `pod`. */
  target?: string;
  /** Wait for both streams of a pair, ms. Default 30000 (kubelet's). */
  streamCreationTimeout?: number;
  /**
   * Most requests per connection waiting for their second stream; a stream that would start one more
   * is reset with REFUSED_STREAM. Default 1000. (A pair is forgotten as soon as one of its streams closes.)
   */
  maxPendingPairs?: number;
}

/** Default {@link PortForwardServerOptions.maxPendingPairs}. */
export const DEFAULT_MAX_PENDING_PAIRS = 1000;

interface Pair {
  requestId: string;
  port: number;
  error: Stream | null;
  data: Stream | null;
  timer: NodeJS.Timeout | null;
}

/**
 * Serves port-forward streams on `conn` (a server-role {@link Connection}). Returns a function that stops
 * serving and closes what is open.
 */
export function servePortForward(conn: Connection, options: PortForwardServerOptions): () => void {
  const pairs = new Map<string, Pair>();
  const abort = new AbortController();
  setMaxListeners(0, abort.signal); // one listener per target dial in progress (removed when the dial settles)
  /** Target sockets of forwards in progress, destroyed when serving stops. */
  const targets = new Set<Duplex>();
  const maxPending = options.maxPendingPairs ?? DEFAULT_MAX_PENDING_PAIRS;
  const target = options.target ?? 'pod';
  const timeout = options.streamCreationTimeout ?? DEFAULT_STREAM_CREATION_TIMEOUT;

  const onStream = (stream: Stream): void => {
    const h = stream.headers;
    stream.on('error', (err) => log('stream %d: %s', stream.id, err.message));
    const type = h[HEADER_STREAM_TYPE];
    const portText = h[HEADER_PORT];
    const port = portText !== undefined && /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (type !== STREAM_TYPE_ERROR && type !== STREAM_TYPE_DATA) {
      log('stream %d: bad streamtype %j: reset', stream.id, type);
      stream.reset(RstStatus.PROTOCOL_ERROR);
      return;
    }
    if (!(port >= 1 && port <= 65535)) {
      log('stream %d: bad port %j: reset', stream.id, portText);
      stream.reset(RstStatus.PROTOCOL_ERROR);
      return;
    }
    // Old clients send no requestid: the error stream is N and its data stream N+2.
    const requestId = h[HEADER_REQUEST_ID] ?? String(type === STREAM_TYPE_ERROR ? stream.id : stream.id - 2);
    let pair = pairs.get(requestId);
    if (!pair && pairs.size >= maxPending) {
      log('stream %d: %d requests already wait for their second stream: refused', stream.id, pairs.size);
      stream.reset(RstStatus.REFUSED_STREAM);
      return;
    }
    stream.reply({});
    if (!pair) {
      pair = { requestId, port, error: null, data: null, timer: null };
      pairs.set(requestId, pair);
      const p = pair;
      p.timer = setTimeout(() => {
        pairs.delete(requestId);
        fail(p, 'timed out waiting for streams');
      }, timeout);
      p.timer.unref?.();
    }
    const slot = type === STREAM_TYPE_ERROR ? 'error' : 'data';
    if (pair[slot] !== null) {
      const msg = `error processing stream for request ${requestId}: ${slot} stream already assigned`;
      log(msg);
      writeError(pair.error, msg);
      stream.reset(RstStatus.PROTOCOL_ERROR);
      return;
    }
    pair[slot] = stream;
    const waiting = pair;
    // A stream that closes before its partner came ends the wait: nothing is held for the pair timeout.
    stream.once('close', () => {
      if (pairs.get(requestId) !== waiting || (waiting.error && waiting.data)) return;
      pairs.delete(requestId);
      if (waiting.timer) clearTimeout(waiting.timer);
      waiting.error?.destroy();
      waiting.data?.destroy();
    });
    if (pair.error && pair.data) {
      if (pair.timer) clearTimeout(pair.timer);
      pairs.delete(requestId);
      void forward(pair);
    }
  };

  const fail = (p: Pair, msg: string): void => {
    log('request %s: %s', p.requestId, msg);
    writeError(p.error, msg);
    p.error?.end();
    p.data?.end();
  };

  const forward = async (p: Pair): Promise<void> => {
    const error = p.error!;
    const data = p.data!;
    let sock: Duplex;
    // One signal per dial, linked to the connection's: whatever listeners the dial leaves on it go with it
    // (one long-lived signal kept ~6.6 KB per forwarded connection).
    const dialAbort = new AbortController();
    const onStop = (): void => dialAbort.abort(abort.signal.reason);
    abort.signal.addEventListener('abort', onStop, { once: true });
    try {
      sock = await options.dial(p.port, dialAbort.signal);
    } catch (err) {
      fail(p, `error forwarding port ${p.port} to pod ${target}: ${(err as Error).message}`);
      // Drop whatever the client sent on the data stream.
      data.resume();
      return;
    } finally {
      abort.signal.removeEventListener('abort', onStop);
    }
    if (data.destroyed || abort.signal.aborted) {
      sock.destroy();
      error.end();
      return;
    }
    let finished = false;
    const done = (msg?: string): void => {
      if (finished) return;
      finished = true;
      if (msg) writeError(error, msg);
      if (!error.destroyed) error.end();
    };
    sock.on('error', (err) => {
      log('request %s: target: %s', p.requestId, err.message);
      done(`error forwarding port ${p.port} to pod ${target}: ${err.message}`);
      if (!data.destroyed) data.destroy();
    });
    data.on('error', () => sock.destroy());
    targets.add(sock);
    sock.on('close', () => {
      targets.delete(sock);
      if (!data.destroyed && !data.writableEnded) data.end();
      done();
    });
    data.on('close', () => {
      if (!sock.destroyed && !sock.writableEnded) sock.end();
    });
    data.pipe(sock);
    sock.pipe(data);
  };

  conn.on('stream', onStream);
  const stop = (): void => {
    conn.off('stream', onStream);
    abort.abort();
    for (const sock of targets) sock.destroy();
    targets.clear();
    for (const p of pairs.values()) {
      if (p.timer) clearTimeout(p.timer);
      p.error?.destroy();
      p.data?.destroy();
    }
    pairs.clear();
  };
  conn.once('close', stop);
  return stop;
}

function writeError(stream: Stream | null, msg: string): void {
  if (stream && !stream.destroyed && !stream.writableEnded) stream.write(msg);
}
