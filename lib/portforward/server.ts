/**
 * The `portforward.k8s.io` v1 server side, as the kubelet does it
 * (kubernetes pkg/kubelet/cri/streaming/portforward/httpstream.go):
 * validate each new stream's headers, reply to it, pair streams by `requestid` (waiting at most
 * `streamCreationTimeout` for the second one), dial the target port, copy bytes both ways, report
 * failures as text on the error stream, and always close both streams at the end.
 *
 * What it lets a peer do is a policy of the caller (`allowedPorts`, `authorize`), and what a peer can make
 * it hold is bounded per connection and per server (`maxPendingPairs`, `maxForwards`, `budget`); see
 * README "Security".
 */
import type { Duplex } from 'node:stream';
import { setMaxListeners } from 'node:events';
import createDebug from 'debug';
import type { Connection } from '../session/connection.js';
import type { Stream } from '../session/stream.js';
import { RstStatus } from '../frames/constants.js';
import { TimeoutError } from '../errors.js';
import {
  DEFAULT_STREAM_CREATION_TIMEOUT,
  HEADER_PORT,
  HEADER_REQUEST_ID,
  HEADER_STREAM_TYPE,
  STREAM_TYPE_DATA,
  STREAM_TYPE_ERROR,
} from './constants.js';
import { PortForwardBudget, portAllowed, positive, timeoutMs, type AuthorizeHook, type PortPolicy } from './server-policy.js';

const log = createDebug('kube-spdy:portforward:server');

/** Per-connection defaults. */
/** Default {@link PortForwardServerOptions.maxPendingPairs}. */
export const DEFAULT_MAX_PENDING_PAIRS = 1000;
export const DEFAULT_MAX_FORWARDS = 1024;
export const DEFAULT_DIAL_TIMEOUT = 30000;

export interface PortForwardServerOptions {
  /**
   * Connects to the target port (the pod's port); `signal` aborts when the dial times out or the server
   * stops. Rejecting makes the error stream carry `error forwarding port P to pod <target>: <message>`.
   * Called only for ports `allowedPorts` allows and requests `authorize` allows.
   */
  dial: (port: number, signal: AbortSignal) => Promise<Duplex>;
  /**
   * Which ports may be dialed: `'any'`, a list of ports, or a predicate. Default `'any'` (the kubelet's
   * behaviour; `dial` is then the only policy). Another port gets `error forwarding port P to pod
   * <target>: port P is not allowed` on its error stream and nothing is dialed. The fake API server
   * passes the pod's declared container ports.
   */
  allowedPorts?: PortPolicy;
  /**
   * Authorizes each request (one error + data stream pair) before anything is dialed; `false`, a
   * string (the reason) or a throw denies it (`error forwarding port P to pod <target>: forbidden[: reason]`
   * on the error stream). Default: every request is allowed.
   */
  authorize?: AuthorizeHook;
  /** Names the pod in error text, e.g. `default/web`. Default `pod`. */
  target?: string;
  /** Wait for both streams of a pair, ms. Default 30000 (kubelet's). 0 = no limit. */
  streamCreationTimeout?: number;
  /** Most time `authorize` + `dial` may take, ms; then the request fails with a timeout. Default 30000. 0 = no limit. */
  dialTimeout?: number;
  /**
   * Most requests of this connection waiting for their second stream; a stream that would start one
   * more is reset with REFUSED_STREAM (each waiting stream holds a timer and up to a stream high-water
   * mark of data for `streamCreationTimeout`). A request is forgotten as soon as one of its streams
   * closes. Default 1000.
   */
  maxPendingPairs?: number;
  /**
   * Most forwarded connections of this connection open at once (dialing or copying). Past it the new
   * pair is refused (RST_STREAM REFUSED_STREAM on both streams). Each holds at most a stream high-water
   * mark each way, so the memory held for one peer is bounded by about
   * `maxForwards × 2 × streamHighWaterMark`. Default 1024.
   */
  maxForwards?: number;
  /** Server-wide bounds shared by every connection of one server (see {@link PortForwardBudget}). Default: none beyond this connection's. */
  budget?: PortForwardBudget;
}

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
 * @throws InvalidArgumentError for an invalid option.
 */
export function servePortForward(conn: Connection, options: PortForwardServerOptions): () => void {
  const pairs = new Map<string, Pair>();
  const abort = new AbortController();
  // One listener per dial in progress (removed when the dial is over): many may run at once.
  setMaxListeners(0, abort.signal);
  const target = options.target ?? 'pod';
  const timeout = timeoutMs('streamCreationTimeout', options.streamCreationTimeout ?? DEFAULT_STREAM_CREATION_TIMEOUT);
  const dialTimeout = timeoutMs('dialTimeout', options.dialTimeout ?? DEFAULT_DIAL_TIMEOUT);
  const maxPending = positive('maxPendingPairs', options.maxPendingPairs ?? DEFAULT_MAX_PENDING_PAIRS);
  const maxForwards = positive('maxForwards', options.maxForwards ?? DEFAULT_MAX_FORWARDS);
  const allowed = portAllowed(options.allowedPorts ?? 'any');
  const budget = options.budget ?? null;
  let forwards = 0;
  /** Target sockets of forwards in progress, destroyed when serving stops. */
  const targets = new Set<Duplex>();

  const refuse = (stream: Stream, why: string): void => {
    log('stream %d: %s: refused', stream.id, why);
    if (budget) budget.refused++;
    stream.reset(RstStatus.REFUSED_STREAM);
  };

  const addPending = (n: number): void => {
    if (budget) budget.pendingPairs += n;
  };

  const onStream = (stream: Stream): void => {
    const h = stream.headers;
    stream.on('error', (err) => log('stream %d: %s', stream.id, err.message));
    const type = h[HEADER_STREAM_TYPE];
    const portText = h[HEADER_PORT];
    const port = portText !== undefined && /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (type !== STREAM_TYPE_ERROR && type !== STREAM_TYPE_DATA) {
      log('stream %d: bad streamtype: reset', stream.id);
      stream.reset(RstStatus.PROTOCOL_ERROR);
      return;
    }
    if (!(port >= 1 && port <= 65535)) {
      log('stream %d: bad port: reset', stream.id);
      stream.reset(RstStatus.PROTOCOL_ERROR);
      return;
    }
    // Both streams of a request carry bytes both ways (the target's answer on data, failures on error): a
    // UNIDIRECTIONAL one (SPDY/3.1 §2.6.1 FLAG_UNIDIRECTIONAL: we may not send on it) cannot serve; writing
    // the target's bytes into it would fail with a write after end.
    if (stream.unidirectional) {
      log('stream %d: %s stream is unidirectional: reset', stream.id, type);
      stream.reset(RstStatus.PROTOCOL_ERROR);
      return;
    }
    // Old clients send no requestid: the error stream is N and its data stream N+2.
    const requestId = h[HEADER_REQUEST_ID] ?? String(type === STREAM_TYPE_ERROR ? stream.id : stream.id - 2);
    let pair = pairs.get(requestId);
    if (!pair) {
      // A new pair: this stream waits for its partner. Bounded per connection and per server.
      if (pairs.size >= maxPending) return refuse(stream, `${pairs.size} requests already wait for their second stream (maxPendingPairs)`);
      if (budget && budget.pendingPairs >= budget.maxPendingPairs) return refuse(stream, 'the server-wide bound on waiting streams is reached');
      if (forwards >= maxForwards) return refuse(stream, `${forwards} forwards already open (maxForwards)`);
      if (budget && budget.forwards >= budget.maxForwards) return refuse(stream, 'the server-wide bound on forwards is reached');
      stream.reply({});
      pair = { requestId, port, error: null, data: null, timer: null };
      pairs.set(requestId, pair);
      addPending(1);
      const p = pair;
      if (timeout > 0) {
        p.timer = setTimeout(() => {
          pairs.delete(requestId);
          addPending(-1);
          fail(p, 'timed out waiting for streams');
        }, timeout);
        p.timer.unref?.();
      }
    } else {
      stream.reply({});
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
      addPending(-1);
      if (waiting.timer) clearTimeout(waiting.timer);
      waiting.error?.destroy();
      waiting.data?.destroy();
    });
    // Nothing the client sends on the error stream is read (the kubelet ignores it too): drain it, so
    // the stream can finish (a readable side never consumed keeps a closed stream alive).
    if (slot === 'error') stream.resume();
    if (pair.error && pair.data) {
      if (pair.timer) clearTimeout(pair.timer);
      pairs.delete(requestId);
      addPending(-1);
      void forward(pair);
    }
  };

  const fail = (p: Pair, msg: string): void => {
    log('request %s: %s', p.requestId, msg);
    writeError(p.error, msg);
    p.error?.end();
    // Drop whatever the client sent or still sends on the data stream, so the stream can finish.
    p.data?.resume();
    p.data?.end();
  };

  /** Authorizes and dials, within `dialTimeout`; rejects with the text for the error stream. */
  const open = async (p: Pair, data: Stream, signal: AbortSignal): Promise<Duplex> => {
    if (!allowed(p.port)) throw new Error(`port ${p.port} is not allowed`);
    if (options.authorize) {
      let verdict: boolean | string;
      try {
        verdict = await options.authorize({ port: p.port, requestId: p.requestId, headers: data.headers });
      } catch (err) {
        log('request %s: authorize threw: %s', p.requestId, (err as Error).message);
        verdict = false;
      }
      if (verdict !== true) throw new Error(typeof verdict === 'string' && verdict !== '' ? `forbidden: ${verdict}` : 'forbidden');
    }
    if (signal.aborted) throw signal.reason;
    return options.dial(p.port, signal);
  };

  const forward = async (p: Pair): Promise<void> => {
    const error = p.error!;
    const data = p.data!;
    forwards++;
    if (budget) budget.forwards++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      forwards--;
      if (budget) budget.forwards--;
    };
    // One controller per dial, linked to the server's: nothing stays registered on a long-lived signal
    // once the dial is over (a listener per forward on one signal leaked ~6.6 KB per forwarded connection).
    const dialAbort = new AbortController();
    const onStop = (): void => dialAbort.abort(abort.signal.reason);
    abort.signal.addEventListener('abort', onStop, { once: true });
    const timer =
      dialTimeout > 0
        ? setTimeout(() => dialAbort.abort(new TimeoutError(`no connection within ${dialTimeout} ms`, dialTimeout)), dialTimeout)
        : null;
    let sock: Duplex;
    try {
      const dialing = open(p, data, dialAbort.signal);
      // The dial hook may ignore its signal: the timeout still ends the wait.
      sock = await new Promise<Duplex>((resolve, reject) => {
        const onAbort = (): void => reject(dialAbort.signal.reason);
        dialAbort.signal.addEventListener('abort', onAbort, { once: true });
        dialing.then(
          (s) => {
            dialAbort.signal.removeEventListener('abort', onAbort);
            if (dialAbort.signal.aborted) s.destroy();
            resolve(s);
          },
          (e) => {
            dialAbort.signal.removeEventListener('abort', onAbort);
            reject(e);
          },
        );
      });
    } catch (err) {
      release();
      fail(p, `error forwarding port ${p.port} to pod ${target}: ${(err as Error)?.message ?? String(err)}`);
      return;
    } finally {
      if (timer) clearTimeout(timer);
      abort.signal.removeEventListener('abort', onStop);
    }
    if (data.destroyed || sock.destroyed || abort.signal.aborted) {
      release();
      sock.destroy();
      error.end();
      data.resume();
      return;
    }
    sock.once('close', release);
    targets.add(sock);
    sock.once('close', () => targets.delete(sock));
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
    sock.on('close', () => {
      // The target is gone: what the client still sends is dropped (pipe() stopped reading at 'close').
      data.resume();
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
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    conn.off('stream', onStream);
    abort.abort();
    for (const sock of targets) sock.destroy();
    targets.clear();
    for (const p of pairs.values()) {
      if (p.timer) clearTimeout(p.timer);
      p.error?.destroy();
      p.data?.destroy();
    }
    addPending(-pairs.size);
    pairs.clear();
  };
  conn.once('close', stop);
  return stop;
}

function writeError(stream: Stream | null, msg: string): void {
  if (stream && !stream.destroyed && !stream.writableEnded) stream.write(msg);
}
