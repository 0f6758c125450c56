/**
 * A small, bounded pool of SPDY connections to one port-forward endpoint, for {@link PortForwarder}.
 *
 * Why a pool: Kubernetes peers (moby/spdystream in the kubelet and API server) have no flow control, so
 * one stream whose local reader is slow fills the shared TCP connection and every other stream on it
 * waits (kubectl#1620, client-go#329). The only lever a client has is which connection a stream lives
 * on (the approach of the Rust `kube-portforward` crate: a pool of upgrades). So:
 *
 * - New stream pairs go to the first usable connection that is not congested ({@link Connection.congested}:
 *   a stream there holds more than its buffer — its reader fell behind — or our writes wait for the
 *   socket; or the peer refused streams there and that many are open again). When all are congested,
 *   another connection is dialed, up to `maxConnections`; past that, the least loaded one is used.
 * - Extra connections with no stream for `idleTimeout` ms are closed (the first one stays, as kubectl's).
 * - A connection that sent GOAWAY takes no new pairs and is closed once its last stream ends.
 * - A connection presumed dead by an on-demand probe ({@link openPair}) takes no new pairs; it is
 *   destroyed at once if nothing else is open on it, else when its liveness check or its last stream ends
 *   it, and it becomes usable again if a frame arrives after all.
 * - Dials that fail are retried with a backoff of 100 ms doubling to 500 ms while a local connection
 *   waits (an API server restarting on the same address is used within ~0.5 s of listening again).
 *
 * Every new connection comes from the `dial` callback, so credentials can be fetched per dial.
 */
import { EventEmitter } from 'eventemitter3';
import createDebug from 'debug';
import type { Connection } from '../session/connection.js';
import { AbortError, LivenessError, TimeoutError, UpgradeError } from '../errors.js';

const log = createDebug('kube-spdy:portforward:pool');

/** State of one pooled connection. */
export type PooledState = 'open' | 'suspect' | 'going-away';

/** One connection of the pool. */
export class PooledConnection {
  state: PooledState = 'open';
  /** Stream pairs placed here that are not finished. */
  pairs = 0;
  /** Most streams the peer keeps open here, learned from a REFUSED_STREAM (Infinity until then). */
  streamLimit = Infinity;
  /** When the last pair here finished (ms since the epoch). */
  idleSince = Date.now();
  /** `framesReceived` when the connection became suspect (a frame after that clears the suspicion). */
  suspectFrames = 0;
  readonly connectedAt = Date.now();

  constructor(
    readonly id: number,
    readonly conn: Connection,
  ) {}

  /** Open for new pairs. */
  get usable(): boolean {
    return this.state === 'open' && !this.conn.isClosed && !this.conn.isGoingAway;
  }

  /** New pairs here would wait behind other streams, or be refused. */
  get congested(): boolean {
    return this.conn.congested || this.conn.openStreams + 2 > this.streamLimit;
  }
}

/** One connection in {@link PoolStats}. */
export interface PooledConnectionStats {
  id: number;
  state: PooledState;
  /** Last PING round trip, ms (NaN before the first). */
  rtt: number;
  openStreams: number;
  pairs: number;
  congested: boolean;
  /** SPDY/3.1 windows honoured (the peer implements them). */
  flowControl: boolean;
  readPaused: boolean;
  /** Learned from REFUSED_STREAM; null when none was refused. */
  streamLimit: number | null;
  /** ms since it connected. */
  age: number;
}

/** Counters and state of the pool, from `PortForwarder.stats()`. */
export interface PoolStats {
  connections: PooledConnectionStats[];
  /** Dials started (the first one included). */
  dials: number;
  dialFailures: number;
  /** Connections established. */
  connects: number;
  /** Connections lost without us closing them (error, peer close, GOAWAY, presumed dead). */
  disconnects: number;
  /** Connections established after a loss left the pool without a usable one. */
  reconnects: number;
  /** Connections dialed because every usable one was congested. */
  congestedDials: number;
  /** Connections presumed dead by an on-demand probe. */
  probedDead: number;
  /** Extra connections closed for being idle. */
  idleClosed: number;
}

export interface PoolEvents {
  connect: [pc: PooledConnection];
  /** A connection was lost (not closed by the pool). */
  disconnect: [err: Error | undefined, pc: PooledConnection];
  /** Every usable connection is congested: another one is dialed. */
  congested: [pcs: PooledConnection[]];
  /** A loss left no usable connection; the next pair dials again. */
  reconnecting: [err: Error | undefined];
  /** The first connection established after such a loss; `ms` since the loss. */
  recovered: [ms: number, pc: PooledConnection];
}

export interface PoolOptions {
  dial: (signal: AbortSignal) => Promise<Connection>;
  /** Most connections, at least 1. */
  maxConnections: number;
  /** Extra connections without a stream for this long are closed, ms; 0 = never. */
  idleTimeout: number;
  /** Aborts dials; the pool's owner aborts it on close. */
  signal: AbortSignal;
}

const BACKOFF_MIN = 100;
const BACKOFF_MAX = 500;
/** close() timeout for a connection after GOAWAY: wait for its streams however long they take. */
const DRAIN_FOREVER = 0x7fffffff;

export class ConnectionPool extends EventEmitter<PoolEvents> {
  private readonly entries: PooledConnection[] = [];
  private dialing: Promise<PooledConnection> | null = null;
  private nextId = 1;
  private failures = 0;
  private nextDialAt = 0;
  private lostAt: number | null = null;
  private lastDialError: Error | null = null;
  private closed = false;
  private readonly timer: NodeJS.Timeout | null;
  private readonly counters = { dials: 0, dialFailures: 0, connects: 0, disconnects: 0, reconnects: 0, congestedDials: 0, probedDead: 0, idleClosed: 0 };
  /** Connections the pool closes on purpose (no 'disconnect' for them). */
  private readonly retiring = new WeakSet<PooledConnection>();

  constructor(private readonly opts: PoolOptions) {
    super();
    const tick = Math.max(50, Math.min(1000, Math.floor((opts.idleTimeout || 1000) / 4)));
    this.timer = setInterval(() => this.sweep(), tick);
    this.timer.unref();
  }

  /** The first usable connection, if any. */
  get primary(): PooledConnection | null {
    return this.entries.find((e) => e.usable) ?? null;
  }

  /** Live connections (usable or not). */
  get size(): number {
    return this.entries.length;
  }

  /**
   * A connection for a new stream pair: the first usable one that is not congested, else a new one
   * (dialed, with backoff while dials fail, until `deadline`), else the least loaded usable one.
   * `exclude` is never chosen (a connection where this pair just failed) unless nothing else can be had.
   * Rejects with the last dial error past `deadline`, an {@link UpgradeError} with a 4xx status at once
   * (the server answered: retrying will not change it), or an {@link AbortError} when the pool is closed.
   */
  async acquire(deadline: number, exclude: PooledConnection | null = null): Promise<PooledConnection> {
    for (;;) {
      if (this.closed) throw new AbortError('port-forward closed');
      const all = this.entries.filter((e) => e.usable);
      const usable = all.filter((e) => e !== exclude);
      const free = usable.find((e) => !e.congested);
      if (free) return free;
      // The bound applies to usable connections: ones going away or presumed dead are being replaced.
      if (all.length >= this.opts.maxConnections) return leastLoaded(usable.length > 0 ? usable : all);
      if (usable.length > 0 && !this.dialing) {
        this.counters.congestedDials++;
        log('all %d usable connections congested: dialing another', usable.length);
        this.emit('congested', usable);
      }
      try {
        return await this.dial(deadline);
      } catch (err) {
        if (this.closed) throw new AbortError('port-forward closed');
        const fallback = this.entries.filter((e) => e.usable);
        if (fallback.length > 0) return leastLoaded(fallback);
        if (isFinalAnswer(err) || Date.now() >= deadline) throw err;
        // Another loop: wait for the dial gate (backoff) inside dial().
      }
    }
  }

  /**
   * Dials a new connection (one dial at a time; concurrent callers share it), waiting for the backoff
   * gate after failures. Used directly for the first connection (its error is final).
   */
  dial(deadline = Infinity): Promise<PooledConnection> {
    if (this.dialing) return this.dialing;
    const p = (async () => {
      const wait = this.nextDialAt - Date.now();
      if (wait > 0) {
        if (Date.now() + wait > deadline) {
          await sleep(Math.max(0, deadline - Date.now()), this.opts.signal);
          throw this.lastDialError ?? new TimeoutError('no connection to the API server in time', 0);
        }
        await sleep(wait, this.opts.signal);
      }
      if (this.closed) throw new AbortError('port-forward closed');
      this.counters.dials++;
      let conn: Connection;
      try {
        conn = await this.opts.dial(this.opts.signal);
      } catch (err) {
        this.lastDialError = err as Error;
        this.counters.dialFailures++;
        this.failures++;
        this.nextDialAt = Date.now() + Math.min(BACKOFF_MAX, BACKOFF_MIN * 2 ** (this.failures - 1));
        log('dial failed (%s); next dial not before %d ms', (err as Error).message, this.nextDialAt - Date.now());
        throw err;
      }
      if (this.closed) {
        conn.destroy();
        throw new AbortError('port-forward closed');
      }
      this.failures = 0;
      this.nextDialAt = 0;
      return this.add(conn);
    })();
    this.dialing = p;
    const clear = (): void => {
      if (this.dialing === p) this.dialing = null;
    };
    p.then(clear, clear);
    return p;
  }

  /** Counts a stream pair placed on `pc` until both its streams close. */
  track(pc: PooledConnection, streams: { once(ev: 'close', f: () => void): unknown }[]): void {
    pc.pairs++;
    let left = streams.length;
    for (const s of streams) {
      s.once('close', () => {
        if (--left > 0) return;
        pc.pairs--;
        if (pc.pairs === 0) pc.idleSince = Date.now();
      });
    }
  }

  /** The peer refused a stream on `pc`: take no more there than are open now. */
  refused(pc: PooledConnection): void {
    const limit = Math.max(2, pc.conn.openStreams);
    if (limit < pc.streamLimit) log('connection %d: stream refused with %d open: limit learned', pc.id, limit);
    pc.streamLimit = Math.min(pc.streamLimit, limit);
  }

  /**
   * A probe found `pc` silent: presumed dead. It takes no new pairs; destroyed now if nothing is open on
   * it (else its liveness check or its last stream ends it; a frame arriving clears the suspicion).
   */
  suspect(pc: PooledConnection, err: LivenessError): void {
    if (pc.state === 'suspect' || pc.conn.isClosed) return;
    this.counters.probedDead++;
    log('connection %d presumed dead: %s', pc.id, err.message);
    pc.state = 'suspect';
    pc.suspectFrames = pc.conn.framesReceived;
    if (pc.conn.openStreams === 0) pc.conn.destroy(err);
    else this.noteLossIfNoneUsable(err);
  }

  stats(): PoolStats {
    const now = Date.now();
    return {
      connections: this.entries.map((e) => ({
        id: e.id,
        state: e.state,
        rtt: e.conn.rtt,
        openStreams: e.conn.openStreams,
        pairs: e.pairs,
        congested: e.congested,
        flowControl: e.conn.flowControlActive,
        readPaused: e.conn.readPaused,
        streamLimit: Number.isFinite(e.streamLimit) ? e.streamLimit : null,
        age: now - e.connectedAt,
      })),
      ...this.counters,
    };
  }

  /** Closes every connection gracefully (at most `timeout` ms each). */
  async close(timeout: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    const all = this.entries.splice(0);
    for (const e of all) this.retiring.add(e);
    await Promise.all(all.map((e) => e.conn.close({ timeout })));
  }

  private add(conn: Connection): PooledConnection {
    const pc = new PooledConnection(this.nextId++, conn);
    this.entries.push(pc);
    this.counters.connects++;
    conn.once('close', (err) => this.onClose(pc, err));
    conn.on('goaway', () => {
      if (pc.state === 'going-away') return;
      pc.state = 'going-away';
      log('connection %d: GOAWAY received: no new pairs, closing once its %d streams end', pc.id, conn.openStreams);
      this.noteLossIfNoneUsable(undefined);
      void conn.close({ timeout: DRAIN_FOREVER });
    });
    // Measure the round trip at once: the on-demand probe's suspicion time is derived from it.
    conn.ping({ timeout: 10000 }).catch(() => {});
    log('connection %d up (%d in the pool)', pc.id, this.entries.length);
    if (this.lostAt !== null) {
      const ms = Date.now() - this.lostAt;
      this.lostAt = null;
      this.counters.reconnects++;
      this.emit('recovered', ms, pc);
    }
    this.emit('connect', pc);
    return pc;
  }

  private onClose(pc: PooledConnection, err: Error | undefined): void {
    const i = this.entries.indexOf(pc);
    if (i >= 0) this.entries.splice(i, 1);
    if (this.closed || this.retiring.has(pc)) return;
    this.counters.disconnects++;
    log('connection %d lost%s', pc.id, err ? `: ${err.message}` : '');
    this.emit('disconnect', err, pc);
    this.noteLossIfNoneUsable(err);
  }

  private noteLossIfNoneUsable(err: Error | undefined): void {
    if (this.closed || this.lostAt !== null || this.entries.some((e) => e.usable)) return;
    this.lostAt = Date.now();
    this.emit('reconnecting', err);
  }

  /** Periodic: close idle extra connections, finish suspect ones, clear suspicions a frame disproved. */
  private sweep(): void {
    const now = Date.now();
    for (const e of [...this.entries]) {
      if (e.state === 'suspect') {
        if (e.conn.framesReceived !== e.suspectFrames) {
          log('connection %d answered after all: usable again', e.id);
          e.state = 'open';
          if (this.lostAt !== null) this.lostAt = null;
        } else if (e.conn.openStreams === 0) {
          e.conn.destroy(new LivenessError(`connection ${e.id} presumed dead and no longer used`));
        }
      }
    }
    if (this.opts.idleTimeout <= 0) return;
    const usable = this.entries.filter((e) => e.usable);
    for (const e of usable.slice(1)) {
      if (e.pairs === 0 && e.conn.openStreams === 0 && now - e.idleSince >= this.opts.idleTimeout) {
        log('connection %d idle for %d ms: closing', e.id, now - e.idleSince);
        this.counters.idleClosed++;
        this.retiring.add(e);
        const i = this.entries.indexOf(e);
        if (i >= 0) this.entries.splice(i, 1);
        void e.conn.close({ timeout: 1000 });
      }
    }
  }
}

/**
 * The server answered the upgrade with a client error (401, 403, 404…): dialing again at once will not
 * change it, so the pair fails now. No answer (refused, reset, timeout) or a 5xx/429 is worth retrying.
 */
function isFinalAnswer(err: unknown): boolean {
  return err instanceof UpgradeError && err.statusCode >= 400 && err.statusCode < 500 && err.statusCode !== 429;
}

function leastLoaded(list: PooledConnection[]): PooledConnection {
  let best = list[0]!;
  for (const e of list) if (e.conn.openStreams < best.conn.openStreams) best = e;
  return best;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
