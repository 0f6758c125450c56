/**
 * The `portforward.k8s.io` v1 client: local listeners, and for each accepted TCP connection an
 * error + data stream pair (client-go tools/portforward/portforward.go) over a small pool of SPDY
 * connections ({@link ConnectionPool}).
 *
 * Unlike client-go, it never stalls and never gives up:
 * - a pair goes to a connection that is not congested (a slow or stalled local reader makes its own
 *   connection congested with peers that have no flow control); another connection is dialed when all are;
 * - a pair whose SYN_REPLYs do not come while the connection is silent is probed (PING) and, if the
 *   connection is dead, retried on a new one, the local socket waiting meanwhile (nothing read from it yet);
 * - a refused pair (REFUSED_STREAM, or the peer's stream limit) or a pair timeout on a live connection
 *   is retried elsewhere, or fails alone: healthy forwards are never closed for it;
 * - after GOAWAY a connection takes no new pairs and closes once its streams end;
 * - text on an error stream fails that one forwarded connection only; the forwarder keeps running;
 * - a connection lost mid-transfer destroys (never ends) the local sockets it carried, so a truncated
 *   download is never mistaken for a complete one.
 */
import net from 'node:net';
import { setMaxListeners } from 'node:events';
import { EventEmitter } from 'eventemitter3';
import createDebug from 'debug';
import type { Connection } from '../session/connection.js';
import type { Stream } from '../session/stream.js';
import {
  AbortError,
  ClosedError,
  GoawayError,
  InvalidArgumentError,
  LivenessError,
  PortForwardError,
  StreamError,
  TimeoutError,
} from '../errors.js';
import { MAX_ERROR_TEXT } from './constants.js';
import { parseAddresses, parsePortSpec, formatHostPort, type PortMapping } from './ports.js';
import { ConnectionPool, type PooledConnection, type PoolStats } from './pool.js';
import { openPair } from './pair.js';

const log = createDebug('kube-spdy:portforward');

/** How long the error stream of a finished forwarded connection may stay open before it is reset, ms. */
const ERROR_STREAM_GRACE = 30000;

/** A bound local listener. */
export interface ForwardedPort {
  /** The IP it listens on. */
  address: string;
  /** The local port (the chosen one when 0 was asked). */
  local: number;
  /** The remote (pod) port. */
  remote: number;
}

/** One forwarded TCP connection, in events. */
export interface ForwardedConnection {
  requestId: number;
  local: number;
  remote: number;
  /** The local peer, `address:port`. */
  client: string;
}

export interface PortForwarderEvents {
  /** Listeners are bound. */
  ready: [ports: ForwardedPort[]];
  /** A local connection was accepted (kubectl prints `Handling connection for L`). */
  connection: [info: ForwardedConnection];
  /** One forwarded connection failed (error-stream text, or its streams could not be made); the forwarder keeps running. */
  'forward-error': [err: Error, info: ForwardedConnection];
  /** A new SPDY connection is up (the first one, one more for the pool, or a replacement). */
  connect: [conn: Connection];
  /** A SPDY connection was lost (`err` says why; undefined after a GOAWAY or a peer close); pairs go to others or a new one. */
  disconnect: [err: Error | undefined, conn: Connection];
  /** Every usable connection was congested (a slow or stalled reader on each): another one is dialed. */
  congested: [connections: number];
  /** A loss left no usable connection: the next local connection dials again. */
  reconnecting: [err: Error | undefined];
  /** The first connection after such a loss is up, `ms` after the loss. */
  recovered: [ms: number];
  /** A local port could not be bound on any address; the other ports are still forwarded (as kubectl). */
  'listen-error': [err: Error, mapping: PortMapping];
  /** The forwarder stopped. */
  close: [];
}

export interface PortForwarderOptions {
  /**
   * Opens a new SPDY connection to the port-forward endpoint (HTTP upgrade + {@link Connection} in the
   * client role). Called at start and whenever the current connection is gone. Its rejection at start
   * rejects {@link PortForwarder.ready}.
   */
  dial: (signal: AbortSignal) => Promise<Connection>;
  /** Port specs (`L:R`, `:R`, `R`) or mappings. At least one. */
  ports: (string | PortMapping)[];
  /** Addresses to listen on: IPs or `localhost` (127.0.0.1 and ::1). Default `['localhost']`. */
  addresses?: string[];
  /**
   * Wait for both SYN_REPLYs of a stream pair on a live connection, ms. Default 30000 (client-go's). Past
   * it the pair is retried once on another connection, then fails alone.
   */
  streamTimeout?: number;
  /** Most SPDY connections in the pool (1..64). Default 6. */
  maxConnections?: number;
  /** Extra connections (all but the first) with no stream for this long are closed, ms; 0 = never. Default 30000. */
  connectionIdleTimeout?: number;
  /**
   * Lower bound of the suspicion time, ms: a pair without SYN_REPLY after max(this, 8 × RTT), on a
   * connection where nothing arrived meanwhile, triggers a PING probe. Default 250.
   */
  suspectAfter?: number;
  /** Timeout of that PING probe, ms; no reply → the connection is presumed dead and the pair retried elsewhere. Default 500. */
  probeTimeout?: number;
  /** Most tries of one pair (refusals, dead connections, timeouts) before it fails alone. Default 4. */
  maxPairAttempts?: number;
  /** How long a local connection waits for a usable SPDY connection while dials fail (API server down or restarting), ms. Default 30000. */
  reconnectTimeout?: number;
  /** Stops the forwarder. */
  signal?: AbortSignal;
}

export class PortForwarder extends EventEmitter<PortForwarderEvents> {
  /** Resolves with the bound ports once the first connection is up and every listener is bound. Rejects with the dial error, an {@link InvalidArgumentError}, or a listen error (EADDRINUSE…). */
  readonly ready: Promise<ForwardedPort[]>;
  private readonly opts: PortForwarderOptions;
  private readonly mappings: PortMapping[];
  private readonly servers: net.Server[] = [];
  private readonly sockets = new Set<net.Socket>();
  private readonly abort = newUnlimitedAbortController();
  private readonly pool: ConnectionPool;
  private nextRequestId = 0;
  private stopped = false;
  private readonly counters = { forwarded: 0, active: 0, failed: 0, retried: 0, refused: 0, pairTimeouts: 0 };

  /** Starts at once: dials, then binds the listeners. Errors from `options` are reported by `ready`. */
  constructor(options: PortForwarderOptions) {
    super();
    this.opts = options;
    let mappings: PortMapping[] = [];
    let setupError: Error | null = null;
    try {
      if (!options.ports || options.ports.length === 0) throw new InvalidArgumentError('at least one port is required');
      mappings = options.ports.map((p) => (typeof p === 'string' ? parsePortSpec(p) : p));
      parseAddresses(options.addresses);
    } catch (err) {
      setupError = err as Error;
    }
    this.mappings = mappings;
    const max = options.maxConnections ?? 6;
    if (!Number.isInteger(max) || max < 1 || max > 64) setupError ??= new InvalidArgumentError(`maxConnections must be an integer in 1..64, got ${max}`);
    this.pool = new ConnectionPool({
      dial: options.dial,
      maxConnections: Math.min(64, Math.max(1, max | 0)),
      idleTimeout: options.connectionIdleTimeout ?? 30000,
      signal: this.abort.signal,
    });
    this.pool.on('connect', (pc) => this.emit('connect', pc.conn));
    this.pool.on('disconnect', (err, pc) => this.emit('disconnect', err, pc.conn));
    this.pool.on('congested', (pcs) => this.emit('congested', pcs.length));
    this.pool.on('reconnecting', (err) => this.emit('reconnecting', err));
    this.pool.on('recovered', (ms) => this.emit('recovered', ms));
    if (options.signal) {
      if (options.signal.aborted) setupError ??= new AbortError('aborted', { cause: options.signal.reason });
      else options.signal.addEventListener('abort', () => void this.close(), { once: true });
    }
    this.ready = setupError ? Promise.reject(setupError) : this.start();
    this.ready.catch(() => {
      void this.close();
    });
  }

  /** The first usable SPDY connection of the pool, if any. */
  get connection(): Connection | null {
    return this.pool.primary?.conn ?? null;
  }

  /**
   * The pool's connections (state, RTT ms, open streams, pairs, congested, flow control) and counters
   * (dials, connects, disconnects, reconnects, congested dials, connections presumed dead by a probe),
   * plus forwarded connections: `forwarded` (accepted), `active`, `failed`, `retried` (pairs tried
   * again elsewhere), `refused` (REFUSED_STREAM seen), `pairTimeouts`.
   */
  stats(): PoolStats & { forwarded: number; active: number; failed: number; retried: number; refused: number; pairTimeouts: number } {
    return { ...this.pool.stats(), ...this.counters };
  }

  /** Stops listening, closes forwarded connections and the SPDY connections (GOAWAY). */
  async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort(new AbortError('port-forward closed'));
    for (const s of this.servers) s.close();
    for (const s of this.sockets) s.destroy();
    await this.pool.close(1000);
    this.emit('close');
  }

  private async start(): Promise<ForwardedPort[]> {
    await this.pool.dial();
    const addrs = parseAddresses(this.opts.addresses);
    const bound: ForwardedPort[] = [];
    for (const m of this.mappings) {
      let local = m.local;
      let any = false;
      let lastErr: Error | null = null;
      for (const a of addrs) {
        try {
          const srv = await this.listen(a.host, local, m);
          const port = (srv.address() as net.AddressInfo).port;
          if (local === 0) local = port; // the other addresses get the same port, as kubectl does
          bound.push({ address: a.host, local: port, remote: m.remote });
          any = true;
        } catch (err) {
          lastErr = err as Error;
          // As kubectl: a port fails only when no address could be bound (`localhost` binds both
          // loopbacks, and one of them missing, such as no IPv6, is not fatal).
          log('listen on %s failed: %s', formatHostPort(a.host, local), lastErr.message);
        }
      }
      // kubectl: a port that cannot be bound is reported and the others are still forwarded.
      if (!any) {
        const err = new InvalidArgumentError(`Unable to listen on port ${m.local}: ${lastErr?.message ?? 'no address'}`);
        if (this.mappings.length === 1) throw new InvalidArgumentError(`unable to listen on any of the requested ports: ${lastErr?.message ?? 'no address'}`);
        this.emit('listen-error', err, m);
      }
    }
    if (bound.length === 0) throw new InvalidArgumentError('unable to listen on any of the requested ports');
    if (this.stopped) throw new AbortError('port-forward closed');
    this.emit('ready', bound);
    return bound;
  }

  private listen(host: string, port: number, m: PortMapping): Promise<net.Server> {
    return new Promise((resolve, reject) => {
      const srv = net.createServer({ allowHalfOpen: true, noDelay: true }, (sock) => this.handle(sock, m, (srv.address() as net.AddressInfo).port));
      srv.once('error', reject);
      srv.listen({ host, port, ipv6Only: net.isIPv6(host) }, () => {
        srv.off('error', reject);
        srv.on('error', (err) => log('listener error: %s', err.message));
        this.servers.push(srv);
        resolve(srv);
      });
    });
  }

  private handle(local: net.Socket, m: PortMapping, localPort: number): void {
    if (this.stopped) {
      local.destroy();
      return;
    }
    this.sockets.add(local);
    local.once('close', () => this.sockets.delete(local));
    local.on('error', (err) => log('local connection error: %s', err.message));
    const info: ForwardedConnection = {
      requestId: this.nextRequestId++,
      local: localPort,
      remote: m.remote,
      client: formatHostPort(local.remoteAddress ?? '?', local.remotePort ?? 0),
    };
    this.emit('connection', info);
    this.counters.forwarded++;
    this.counters.active++;
    local.once('close', () => this.counters.active--);
    this.forward(local, info).catch((err: Error) => {
      resetLocal(local);
      if (!this.stopped) {
        this.counters.failed++;
        this.emit('forward-error', err, info);
      }
    });
  }

  /**
   * Places the pair and retries it as needed; the local socket is not read until the pair is up, so a
   * retry loses or repeats no byte.
   */
  private async forward(local: net.Socket, info: ForwardedConnection): Promise<void> {
    const maxAttempts = this.opts.maxPairAttempts ?? 4;
    const deadline = Date.now() + (this.opts.reconnectTimeout ?? 30000);
    let exclude: PooledConnection | null = null;
    for (let attempt = 1; ; attempt++) {
      const pc = await this.pool.acquire(Math.max(deadline, Date.now()), exclude);
      if (local.destroyed || this.stopped) return;
      const requestId = attempt === 1 ? info.requestId : this.nextRequestId++;
      let pair: [Stream, Stream];
      try {
        pair = await openPair(pc.conn, {
          remotePort: info.remote,
          requestId,
          timeout: this.opts.streamTimeout ?? 30000,
          suspectAfter: this.opts.suspectAfter ?? 250,
          probeTimeout: this.opts.probeTimeout ?? 500,
          signal: this.abort.signal,
          onDead: (err) => this.pool.suspect(pc, err),
        });
      } catch (err) {
        if (this.stopped) throw err;
        const why = retryReason(err);
        if (why === 'refused') {
          this.counters.refused++;
          this.pool.refused(pc);
        }
        if (why === 'timeout') this.counters.pairTimeouts++;
        const retry = why !== null && attempt < maxAttempts && !local.destroyed;
        log('request %d (attempt %d on connection %d): %s%s', requestId, attempt, pc.id, (err as Error).message, retry ? ': retrying' : '');
        if (!retry) throw err;
        this.counters.retried++;
        exclude = pc;
        continue;
      }
      if (local.destroyed || this.stopped) {
        pair[0].destroy();
        pair[1].destroy();
        return;
      }
      this.pool.track(pc, pair);
      this.splice(local, pair[0], pair[1], info);
      return;
    }
  }

  private splice(local: net.Socket, errorStream: Stream, dataStream: Stream, info: ForwardedConnection): void {
    // The error stream is half-closed already: FIN rode on its SYN_STREAM (client-go: errorStream.Close()).
    let errorText = '';
    errorStream.setEncoding('utf8');
    errorStream.on('data', (t: string) => {
      if (errorText.length < MAX_ERROR_TEXT) errorText += t.slice(0, MAX_ERROR_TEXT - errorText.length);
    });
    errorStream.on('error', (err) => log('request %d: error stream: %s', info.requestId, err.message));
    errorStream.on('end', () => {
      if (errorText !== '') {
        // The server's error for this connection only: close it, report, keep forwarding others.
        resetLocal(local);
        dataStream.destroy();
        this.emit('forward-error', new PortForwardError(info.remote, info.requestId, errorText.trim()), info);
      }
    });
    dataStream.on('error', (err) => {
      log('request %d: data stream: %s', info.requestId, err.message);
      resetLocal(local);
    });
    local.on('error', () => dataStream.destroy());
    local.on('close', () => {
      // A local connection gone before both directions finished: reset the data stream. The error stream
      // is left to the server, which closes it when the pair is done (as the kubelet always does): a
      // reset here for every connection would be needless RST_STREAM traffic. A server that never closes
      // it gets a reset after ERROR_STREAM_GRACE ms.
      if (!dataStream.destroyed && !(dataStream.writableFinished && dataStream.readableEnded)) dataStream.destroy();
      if (!errorStream.destroyed && !errorStream.readableEnded) {
        const timer = setTimeout(() => errorStream.destroy(), ERROR_STREAM_GRACE);
        timer.unref();
        errorStream.once('close', () => clearTimeout(timer));
      }
    });
    // The local socket is ended by hand, never by pipe(): only the pod's FIN (`finReceived`) makes a
    // clean end. A data stream whose readable side ends without it (a peer RST_STREAM CANCEL after data
    // we had not read yet: the session hands that data over, then ends) was cut short; one closed
    // without ending (RST_STREAM, connection reset or presumed dead, GOAWAY cut) even more so. Both
    // reset the local socket, so the client sees ECONNRESET, never a truncated download that looks whole.
    dataStream.on('end', () => {
      if (!dataStream.finReceived) {
        log('request %d: data stream cut short (%s): resetting the local connection', info.requestId, dataStream.closeError?.message ?? 'no FIN');
        resetLocal(local);
      } else if (!local.destroyed && !local.writableEnded) local.end();
    });
    dataStream.on('close', () => {
      if (!dataStream.readableEnded) resetLocal(local);
    });
    local.pipe(dataStream);
    dataStream.pipe(local, { end: false });
  }
}

/**
 * Why a failed pair may be tried again elsewhere, or null when it must fail: the connection is gone or
 * presumed dead (`dead`), sent GOAWAY (`goaway`), refused the stream (`refused`), or did not answer in
 * time though it is live (`timeout`).
 */
function retryReason(err: unknown): 'dead' | 'goaway' | 'refused' | 'timeout' | null {
  if (err instanceof LivenessError || err instanceof ClosedError) return 'dead';
  if (err instanceof GoawayError) return 'goaway';
  if (err instanceof StreamError && err.retryable) return 'refused'; // a peer's REFUSED_STREAM, or its SETTINGS limit
  if (err instanceof TimeoutError) return 'timeout';
  return null;
}

/**
 * Closes a local connection with a TCP reset (RST), not a FIN: what the client received so far must
 * not look like the whole of it.
 */
function resetLocal(local: net.Socket): void {
  if (local.destroyed) return;
  if (local.writableEnded) {
    // Our FIN is already on its way (the pod's data ended cleanly). A reset after end() also leaves the
    // handle referenced on Node 20 (the process would not exit): a plain destroy.
    local.destroy();
    return;
  }
  try {
    local.resetAndDestroy();
  } catch {
    local.destroy();
  }
}

/** Every pending stream creation listens on the forwarder's signal: lift the listener warning limit. */
function newUnlimitedAbortController(): AbortController {
  const ac = new AbortController();
  setMaxListeners(0, ac.signal);
  return ac;
}
