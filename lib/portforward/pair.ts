/**
 * Opening the error + data stream pair of one forwarded connection on one SPDY connection, with
 * on-demand detection of a dead connection (a proxy or load balancer that forgot it says nothing).
 *
 * Both SYN_STREAMs go out together (error first, as client-go orders them), the error stream's with FIN
 * (the client only reads it). No DATA is sent before both SYN_REPLYs: moby/spdystream (the kubelet)
 * hands each DATA frame to the stream's reader from one of 5 frame workers (stream id mod 5) and blocks
 * that worker until the stream is read; the kubelet reads a data stream only once its pair is complete
 * and the pod dialed, and never when the dial fails or it refused the stream, so early DATA could wedge
 * every stream of that worker for good (the RST_STREAM that would free it queues behind it). Tried:
 * 499 of 510 keep-alive forwards stuck after refusals (spec/portforward-refused.test.ts, Go server).
 *
 * If their SYN_REPLYs have not come within the suspicion time, max(`suspectAfter`, 8 × RTT), and no frame at all arrived on the
 * connection meanwhile while we were reading it, a PING is sent with `probeTimeout`; no answer (and
 * still nothing read, reading never paused: liveness's rule, see `peerExcused`) → the connection is
 * presumed dead: the pair fails with a {@link LivenessError} and the caller retries it elsewhere. A
 * connection that shows life (any frame) is waited on up to `timeout`, re-checked every suspicion time.
 */
import type { Connection } from '../session/connection.js';
import type { Stream } from '../session/stream.js';
import { peerExcused } from '../session/liveness.js';
import { LivenessError, TimeoutError } from '../errors.js';
import { HEADER_PORT, HEADER_REQUEST_ID, HEADER_STREAM_TYPE, STREAM_TYPE_DATA, STREAM_TYPE_ERROR } from './constants.js';

export interface OpenPairOptions {
  remotePort: number;
  requestId: number;
  /** Wait for both SYN_REPLYs at most this long, ms (0 = no limit). */
  timeout: number;
  /** Lower bound of the suspicion time, ms. */
  suspectAfter: number;
  /** PING timeout of the probe, ms. */
  probeTimeout: number;
  signal: AbortSignal;
  /** Called when the probe finds the connection silent (before the pair rejects). */
  onDead: (err: LivenessError) => void;
}

/** Suspicion time for a connection with round trip `rtt` ms (NaN: not measured yet). */
export function suspicionTime(rtt: number, floor: number): number {
  return Number.isFinite(rtt) ? Math.max(floor, Math.ceil(8 * rtt)) : floor;
}

/**
 * Opens the pair. Resolves with [error stream, data stream]; rejects with the first stream's error
 * ({@link TimeoutError}, StreamResetError, GoawayError, ClosedError, AbortError) after destroying the
 * other, or a {@link LivenessError} when the probe presumed the connection dead.
 */
export function openPair(conn: Connection, o: OpenPairOptions): Promise<[Stream, Stream]> {
  const base = { [HEADER_PORT]: String(o.remotePort), [HEADER_REQUEST_ID]: String(o.requestId) };
  const local = new AbortController();
  const onOuterAbort = (): void => local.abort(o.signal.reason);
  if (o.signal.aborted) local.abort(o.signal.reason);
  else o.signal.addEventListener('abort', onOuterAbort, { once: true });
  let dead: LivenessError | null = null;
  const health = () => conn.readHealth();
  let since = health();
  let timer: NodeJS.Timeout | null = null;
  let settled = false;
  const arm = (): void => {
    timer = setTimeout(check, suspicionTime(conn.rtt, o.suspectAfter));
    timer.unref();
  };
  const check = (): void => {
    timer = null;
    if (settled) return;
    const now = health();
    if (peerExcused(since, now)) {
      since = now; // the connection shows life (or we were not reading): look again later
      arm();
      return;
    }
    conn.ping({ timeout: o.probeTimeout }).then(
      () => {
        if (!settled) {
          since = health();
          arm();
        }
      },
      (err: unknown) => {
        if (settled || !(err instanceof TimeoutError)) return;
        const after = health();
        if (peerExcused(now, after)) {
          since = after;
          arm();
          return;
        }
        dead = new LivenessError(
          `no SYN_REPLY for request ${o.requestId} and no PING reply within ${o.probeTimeout} ms, nothing received for ${suspicionTime(conn.rtt, o.suspectAfter) + o.probeTimeout} ms: the connection is presumed dead`,
        );
        o.onDead(dead);
        local.abort(dead);
      },
    );
  };
  arm();

  const opts = { timeout: o.timeout, signal: local.signal };
  // The client only reads the error stream: its SYN_STREAM carries FIN (client-go half-closes it at
  // once with a separate frame; moby/spdystream closes the remote side of a stream opened with FIN).
  const errP = conn.createStream({ [HEADER_STREAM_TYPE]: STREAM_TYPE_ERROR, ...base }, { ...opts, fin: true });
  const dataP = conn.createStream({ [HEADER_STREAM_TYPE]: STREAM_TYPE_DATA, ...base }, opts);
  return Promise.allSettled([errP, dataP]).then(([e, d]) => {
    settled = true;
    if (timer) clearTimeout(timer);
    o.signal.removeEventListener('abort', onOuterAbort);
    if (e.status === 'fulfilled' && d.status === 'fulfilled') return [e.value, d.value];
    if (e.status === 'fulfilled') e.value.destroy();
    if (d.status === 'fulfilled') d.value.destroy();
    if (dead) throw dead;
    throw e.status === 'rejected' ? e.reason : (d as PromiseRejectedResult).reason;
  });
}
