/**
 * The `portforward.k8s.io` v1 client: local listeners, and for each accepted TCP connection an
 * error + data stream pair over one SPDY connection (client-go tools/portforward/portforward.go).
 *
 * Unlike client-go, the SPDY connection is replaceable: it is dialed at start, and dialed again when it
 * is gone (closed, GOAWAY, or a stream pair that could not be created in time, as nocalhost does). Text on
 * an error stream fails that one forwarded connection only; the forwarder keeps running.
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
  PortForwardError,
  StreamResetError,
  TimeoutError,
} from '../errors.js';
import {
  HEADER_PORT,
  HEADER_REQUEST_ID,
  HEADER_STREAM_TYPE,
  MAX_ERROR_TEXT,
  STREAM_TYPE_DATA,
  STREAM_TYPE_ERROR,
} from './constants.js';
import { parseAddresses, parsePortSpec, formatHostPort, type PortMapping } from './ports.js';

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
  /** A new SPDY connection was dialed (the first one, or a replacement). */
  connect: [conn: Connection];
  /** The current SPDY connection went away (`err` says why); the next local connection dials again. */
  disconnect: [err: Error | undefined];
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
  /** Wait for each SYN_REPLY of a stream pair, ms. Default 30000 (client-go's). */
  streamTimeout?: number;
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
  private conn: Connection | null = null;
  private dialing: Promise<Connection> | null = null;
  private nextRequestId = 0;
  private stopped = false;

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
    if (options.signal) {
      if (options.signal.aborted) setupError ??= new AbortError('aborted', { cause: options.signal.reason });
      else options.signal.addEventListener('abort', () => void this.close(), { once: true });
    }
    this.ready = setupError ? Promise.reject(setupError) : this.start();
    this.ready.catch(() => {
      void this.close();
    });
  }

  /** The current SPDY connection, if any. */
  get connection(): Connection | null {
    return this.conn;
  }

  /** Stops listening, closes forwarded connections and the SPDY connection (GOAWAY). */
  async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort(new AbortError('port-forward closed'));
    for (const s of this.servers) s.close();
    for (const s of this.sockets) s.destroy();
    const conn = this.conn;
    this.conn = null;
    if (conn) await conn.close({ timeout: 1000 });
    this.emit('close');
  }

  private async start(): Promise<ForwardedPort[]> {
    await this.getConnection();
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
          // `localhost` binds both loopbacks; one of them missing (no IPv6) is not fatal.
          if (!a.loopbackAlias) throw new InvalidArgumentError(`unable to listen on ${formatHostPort(a.host, local)}: ${lastErr.message}`);
          log('listen on %s failed: %s', formatHostPort(a.host, local), lastErr.message);
        }
      }
      if (!any) throw new InvalidArgumentError(`unable to listen on any of the requested ports: ${lastErr?.message ?? 'no address'}`);
    }
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

  /** The current connection, or a new one (one dial at a time). */
  private getConnection(): Promise<Connection> {
    const c = this.conn;
    if (c && !c.isClosed && !c.isGoingAway) return Promise.resolve(c);
    if (this.stopped) return Promise.reject(new AbortError('port-forward closed'));
    if (!this.dialing) {
      this.dialing = this.opts
        .dial(this.abort.signal)
        .then((conn) => {
          if (this.stopped) {
            conn.destroy();
            throw new AbortError('port-forward closed');
          }
          this.conn = conn;
          conn.once('close', (err) => {
            if (this.conn === conn) this.conn = null;
            log('connection closed%s', err ? `: ${err.message}` : '');
            if (!this.stopped) this.emit('disconnect', err);
          });
          conn.on('goaway', () => {
            if (this.conn === conn) this.conn = null;
          });
          this.emit('connect', conn);
          return conn;
        })
        .finally(() => {
          this.dialing = null;
        });
    }
    return this.dialing;
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
    this.forward(local, info).catch((err: Error) => {
      local.destroy();
      if (!this.stopped) this.emit('forward-error', err, info);
    });
  }

  private async forward(local: net.Socket, info: ForwardedConnection): Promise<void> {
    // Two tries: a connection that is gone or does not answer in time is replaced once.
    let pair: [Stream, Stream] | null = null;
    for (let attempt = 0; pair === null; attempt++) {
      const conn = await this.getConnection();
      try {
        pair = await this.openPair(conn, info);
      } catch (err) {
        const retry = attempt === 0 && !this.stopped && isConnectionFailure(err);
        log('request %d: stream pair failed (%s)%s', info.requestId, (err as Error).message, retry ? ', dialing a new connection' : '');
        if (!retry) throw err;
        if (this.conn === conn) this.conn = null;
        conn.destroy(err as Error);
      }
      if (local.destroyed) {
        pair?.[0].destroy();
        pair?.[1].destroy();
        return;
      }
    }
    const [errorStream, dataStream] = pair;
    this.splice(local, errorStream, dataStream, info);
  }

  private async openPair(conn: Connection, info: ForwardedConnection): Promise<[Stream, Stream]> {
    const base = { [HEADER_PORT]: String(info.remote), [HEADER_REQUEST_ID]: String(info.requestId) };
    const timeout = this.opts.streamTimeout ?? 30000;
    const signal = this.abort.signal;
    // Both SYN_STREAMs go out together (error first, as client-go orders them); their replies are awaited together.
    const errP = conn.createStream({ [HEADER_STREAM_TYPE]: STREAM_TYPE_ERROR, ...base }, { timeout, signal });
    const dataP = conn.createStream({ [HEADER_STREAM_TYPE]: STREAM_TYPE_DATA, ...base }, { timeout, signal });
    const [e, d] = await Promise.allSettled([errP, dataP]);
    if (e.status === 'rejected' || d.status === 'rejected') {
      if (e.status === 'fulfilled') e.value.destroy();
      if (d.status === 'fulfilled') d.value.destroy();
      throw e.status === 'rejected' ? e.reason : (d as PromiseRejectedResult).reason;
    }
    return [e.value, d.value];
  }

  private splice(local: net.Socket, errorStream: Stream, dataStream: Stream, info: ForwardedConnection): void {
    // The client only reads the error stream: half-close it at once (client-go does errorStream.Close()).
    errorStream.end();
    let errorText = '';
    errorStream.setEncoding('utf8');
    errorStream.on('data', (t: string) => {
      if (errorText.length < MAX_ERROR_TEXT) errorText += t.slice(0, MAX_ERROR_TEXT - errorText.length);
    });
    errorStream.on('error', (err) => log('request %d: error stream: %s', info.requestId, err.message));
    errorStream.on('end', () => {
      if (errorText !== '') {
        // The server's error for this connection only: close it, report, keep forwarding others.
        local.destroy();
        dataStream.destroy();
        this.emit('forward-error', new PortForwardError(info.remote, info.requestId, errorText.trim()), info);
      }
    });
    dataStream.on('error', (err) => {
      log('request %d: data stream: %s', info.requestId, err.message);
      local.destroy();
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
    dataStream.on('close', () => {
      if (!local.destroyed && !local.writableEnded) local.end();
    });
    local.pipe(dataStream);
    dataStream.pipe(local);
  }
}

/** Errors that mean "this SPDY connection is unusable": worth one redial. */
function isConnectionFailure(err: unknown): boolean {
  return (
    err instanceof ClosedError ||
    err instanceof GoawayError ||
    err instanceof TimeoutError ||
    (err instanceof StreamResetError && err.retryable)
  );
}

/** Every pending stream creation listens on the forwarder's signal: lift the listener warning limit. */
function newUnlimitedAbortController(): AbortController {
  const ac = new AbortController();
  setMaxListeners(0, ac.signal);
  return ac;
}
