/**
 * A minimal HTTP/1.1 GET client for load generation (cheaper than node:http, so the load generator
 * takes less of the shared CPU): new TCP connection per request or keep-alive, bodies sized by
 * Content-Length, every wait bounded.
 */
import net from 'node:net';
import { percentile } from './harness.js';

const HEADER_END = Buffer.from('\r\n\r\n');

/** One HTTP/1.1 connection; `get()` sends a request and resolves with the body size once it has all arrived. */
export class HttpConn {
  private readonly socket: net.Socket;
  private buf: Buffer | null = null;
  private want = -1;
  private got = 0;
  private pending: { resolve: (n: number) => void; reject: (e: Error) => void } | null = null;
  private error: Error | null = null;
  readonly connected: Promise<void>;

  constructor(
    port: number,
    host = '127.0.0.1',
    timeoutMs = 30000,
  ) {
    this.socket = net.connect({ port, host, noDelay: true });
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    this.connected.catch(() => {});
    this.socket.setTimeout(timeoutMs, () => this.fail(new Error(`no answer within ${timeoutMs} ms`)));
    this.socket.on('data', (d) => this.onData(d));
    this.socket.on('error', (e) => this.fail(e));
    this.socket.on('close', () => this.fail(new Error('connection closed before the response ended')));
  }

  get(path: string, keepAlive: boolean): Promise<number> {
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.buf = null;
      this.want = -1;
      this.got = 0;
      this.socket.write(`GET ${path} HTTP/1.1\r\nHost: bench\r\n${keepAlive ? '' : 'Connection: close\r\n'}\r\n`);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private fail(e: Error): void {
    this.error ??= e;
    const p = this.pending;
    this.pending = null;
    p?.reject(e);
    this.socket.destroy();
  }

  private onData(d: Buffer): void {
    if (!this.pending) return;
    if (this.want < 0) {
      this.buf = this.buf ? Buffer.concat([this.buf, d]) : d;
      const end = this.buf.indexOf(HEADER_END);
      if (end < 0) {
        if (this.buf.length > 65536) this.fail(new Error('response header over 64 KiB'));
        return;
      }
      const head = this.buf.subarray(0, end).toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1];
      const len = /\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1];
      if (status !== '200' || len === undefined) {
        this.fail(new Error(`unexpected response: ${head.split('\r\n')[0]}${len === undefined ? ' (no Content-Length)' : ''}`));
        return;
      }
      this.want = Number(len);
      this.got = this.buf.length - end - 4;
      this.buf = null;
    } else {
      this.got += d.length;
    }
    if (this.got >= this.want) {
      const p = this.pending;
      this.pending = null;
      this.want = -1;
      p.resolve(this.got);
    }
  }
}

/** One GET on a new TCP connection; resolves with [body bytes, ms]. */
export async function getOnce(port: number, path: string, timeoutMs = 30000): Promise<[number, number]> {
  const t0 = performance.now();
  const c = new HttpConn(port, '127.0.0.1', timeoutMs);
  try {
    await c.connected;
    const n = await c.get(path, false);
    return [n, performance.now() - t0];
  } finally {
    c.close();
  }
}

export interface RateResult {
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  requests: number;
}

/** Requests per second with a new TCP connection per request, `inflight` at once, for `ms`. */
export async function rate(port: number, path: string, inflight: number, ms: number, signal: AbortSignal): Promise<RateResult> {
  const lat: number[] = [];
  const t0 = performance.now();
  const end = t0 + ms;
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (performance.now() < end && !signal.aborted) lat.push((await getOnce(port, path))[1]);
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  return { rps: lat.length / secs, p50: percentile(lat, 50), p90: percentile(lat, 90), p99: percentile(lat, 99), requests: lat.length };
}

/** MB/s of one download (a new TCP connection). */
export async function bulk(port: number, path: string, expect?: number): Promise<number> {
  const [n, ms] = await getOnce(port, path, 120000);
  if (expect !== undefined && n !== expect) throw new Error(`downloaded ${n} of ${expect} bytes`);
  return n / 1e6 / (ms / 1000);
}

/**
 * `conns` concurrent clients × `requests` GETs each: keep-alive (one connection per client) or a new
 * connection per request. Resolves with req/s and latency percentiles, ms.
 */
export async function load(port: number, path: string, conns: number, requests: number, keepAlive: boolean, signal: AbortSignal): Promise<RateResult> {
  const lat = new Float64Array(conns * requests);
  let k = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: conns }, async () => {
      if (!keepAlive) {
        for (let i = 0; i < requests && !signal.aborted; i++) lat[k++] = (await getOnce(port, path))[1];
        return;
      }
      const c = new HttpConn(port);
      try {
        await c.connected;
        for (let i = 0; i < requests && !signal.aborted; i++) {
          const t = performance.now();
          await c.get(path, true);
          lat[k++] = performance.now() - t;
        }
      } finally {
        c.close();
      }
    }),
  );
  if (signal.aborted) throw signal.reason;
  const secs = (performance.now() - t0) / 1000;
  const done = lat.subarray(0, k);
  return { rps: k / secs, p50: percentile(done, 50), p90: percentile(done, 90), p99: percentile(done, 99), requests: k };
}
