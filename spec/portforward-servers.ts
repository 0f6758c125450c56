// The two port-forward servers the scenario tests (spec/portforward-*.test.ts) run against, each behind
// the same small interface: kube-spdy's own fake API server (SPDY/3.1 flow control with 'auto' peers) and
// a kubelet-style server on Go moby/spdystream (spec/interop/kubelet: no flow control, as the kubelet).
// Plus a pod service with a non-repeating pattern stream, raw HTTP clients that read slowly or not at
// all, and a TCP proxy that can drop its connections silently. Loopback only, port 0 everywhere.
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { Test } from 'tap';
import { startFakeApiServer, type FakeApiServer } from '../lib/fake-apiserver/index.js';
import type { TlsMaterial } from '../lib/fake-apiserver/tls.js';
import type { Stream } from '../lib/session/stream.js';
import { RstStatus } from '../lib/frames/index.js';
import { PortForwarder, type PortForwarderOptions } from '../lib/portforward/client.js';
import { dialPortForward, portForwardUrl, type DialPortForwardOptions } from '../lib/portforward/dial.js';
import { ROOT } from './e2e-helpers.js';

// ---- the Go kubelet-style server ------------------------------------------------------------------

const BIN_DIR = path.join(ROOT, 'spec', 'interop', 'bin');
export const KUBELET_BIN = path.join(BIN_DIR, 'kubelet');
const SPDYSTREAM_SRC = '/usr/share/gocode/src/github.com/docker/spdystream';

function goEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOFLAGS: '' };
  if (!process.env.GOCACHE && !process.env.HOME && !process.env.XDG_CACHE_HOME) env.GOCACHE = path.join(os.tmpdir(), 'kube-spdy-go-cache');
  return env;
}

/** Builds spec/interop/NAME into spec/interop/bin/NAME (once per process; atomically, several test files may build at once). Returns an error text or ''. */
const buildResults = new Map<string, string>();
function buildGo(name: string): string {
  const done = buildResults.get(name);
  if (done !== undefined) return done;
  const result = ((): string => {
    if (spawnSync('go', ['version']).status !== 0) return '`go` not found (Debian: golang-go)';
    if (!existsSync(SPDYSTREAM_SRC)) return `${SPDYSTREAM_SRC} not found (Debian: golang-github-docker-spdystream-dev)`;
    mkdirSync(BIN_DIR, { recursive: true });
    const bin = path.join(BIN_DIR, name);
    const tmp = `${bin}.${process.pid}`;
    const b = spawnSync('go', ['build', '-o', tmp, '.'], { cwd: path.join(ROOT, 'spec', 'interop', name), encoding: 'utf8', env: { ...process.env, ...goEnv() }, timeout: 120_000 });
    if (b.status !== 0) return `go build of spec/interop/${name} failed (status ${b.status}): ${b.stderr || b.error?.message}`;
    renameSync(tmp, bin);
    return '';
  })();
  buildResults.set(name, result);
  return result;
}

/** Builds spec/interop/kubelet. Returns an error text or ''. */
export function buildKubelet(): string {
  return buildGo('kubelet');
}

/** What a scenario needs of a port-forward server. */
export interface TestServer {
  readonly kind: 'fake' | 'go';
  /** Base URL (`http://127.0.0.1:PORT`) for {@link portForwardUrl}. */
  readonly url: string;
  readonly port: number;
  /** Every port-forward connection sends GOAWAY (and closes once its streams end). */
  goaway(): Promise<void>;
  /** Every port-forward connection's TCP connection is closed at once. */
  reset(): Promise<void>;
  /**
   * The streams of every forwarded connection are reset by the server (RST_STREAM CANCEL), as
   * apimachinery's spdy connection.Close does to each stream; the connections stay.
   */
  cancel(): Promise<void>;
  /** Stops listening (connections closed), then listens again on the same port after `downMs`; resolves when listening. */
  restart(downMs: number): Promise<void>;
  /** Live port-forward connections. */
  connections(): Promise<number>;
  /** With {@link ServerOptions.auth}: the one bearer token accepted from now on (kept across restarts). */
  setToken(token: string): Promise<void>;
  /** Requests answered 401 so far (this run of the server only). */
  unauthorized(): Promise<number>;
  close(): Promise<void>;
}

export interface ServerOptions {
  /** Stream cap per connection (refused past it). Default: none (the kubelet's). */
  maxStreams?: number;
  /** Serve https with this material and require this bearer token (an API server's authentication). */
  auth?: { tls: TlsMaterial; token: string };
}

export const SERVER_KINDS = ['fake', 'go'] as const;
export const SERVER_NAMES: Record<'fake' | 'go', string> = {
  fake: "kube-spdy's fake API server",
  go: 'Go spdystream kubelet-style server',
};

export async function startServer(t: Test, kind: 'fake' | 'go', o: ServerOptions = {}): Promise<TestServer> {
  const s = kind === 'fake' ? await startFake(o) : await startGo(o);
  t.teardown(() => s.close());
  return s;
}

async function startFake(o: ServerOptions, port = 0): Promise<TestServer> {
  // anyPort: like the kubelet (and the Go server beside it), any port of the pod may be dialed here.
  let token = o.auth?.token;
  const opts = {
    pods: [{ namespace: 'default', name: 'web' }],
    anyPort: true,
    ...(o.maxStreams ? { maxConcurrentStreams: o.maxStreams } : {}),
    ...(o.auth ? { tls: o.auth.tls } : {}),
  };
  const streams = new Set<Stream>();
  const start = async (p: number): Promise<FakeApiServer> => {
    const a = await startFakeApiServer({ ...opts, ...(token ? { tokens: [token] } : {}), port: p });
    // Keep the streams the server accepts, for cancel(): a connection is added before its first frame.
    const add = a.connections.add.bind(a.connections);
    a.connections.add = (c) => {
      c.on('stream', (st) => {
        streams.add(st);
        st.once('close', () => streams.delete(st));
      });
      return add(c);
    };
    return a;
  };
  let api = await start(port);
  let closed = false;
  return {
    kind: 'fake',
    url: api.url,
    port: api.port,
    async goaway() {
      for (const c of api.connections) void c.close({ timeout: 60_000 });
    },
    async reset() {
      api.dropConnections();
    },
    async cancel() {
      for (const st of [...streams]) st.reset(RstStatus.CANCEL);
    },
    async restart(downMs) {
      const p = api.port;
      await api.close();
      await new Promise((r) => setTimeout(r, downMs));
      api = await start(p);
    },
    async connections() {
      return api.connections.size;
    },
    async setToken(t) {
      token = t;
      api.setTokens([t]);
    },
    async unauthorized() {
      return api.unauthorized;
    },
    async close() {
      if (closed) return;
      closed = true;
      await api.close();
    },
  };
}

interface GoProc {
  child: ChildProcess;
  lines: string[];
  next(re: RegExp, ms?: number): Promise<Record<string, unknown>>;
  exited: Promise<void>;
}

function spawnGo(args: string[]): GoProc {
  const child = spawn(KUBELET_BIN, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const waiters: { re: RegExp; from: number; resolve: (o: Record<string, unknown>) => void }[] = [];
  let rest = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    rest += d;
    const parts = rest.split('\n');
    rest = parts.pop()!;
    for (const l of parts) {
      lines.push(l);
      for (const w of [...waiters]) {
        if (w.re.test(l)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(JSON.parse(l) as Record<string, unknown>);
        }
      }
    }
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    lines,
    exited,
    next(re, ms = 10_000) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`kubelet: no line matching ${re} within ${ms} ms; got ${lines.join(' | ')}`)), ms);
        waiters.push({
          re,
          from: lines.length,
          resolve: (o) => {
            clearTimeout(t);
            resolve(o);
          },
        });
      });
    },
  };
}

async function startGo(o: ServerOptions): Promise<TestServer> {
  const err = buildKubelet();
  if (err) throw new Error(`the Go kubelet-style server is required (.ci/run installs Go and spdystream): ${err}`);
  const extra = o.maxStreams ? ['-max-streams', String(o.maxStreams)] : [];
  let tokenFile = '';
  let cleanup = async (): Promise<void> => {};
  if (o.auth) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kube-spdy-kubelet-auth-'));
    cleanup = () => rm(dir, { recursive: true, force: true });
    tokenFile = path.join(dir, 'token');
    await writeFile(path.join(dir, 'cert.pem'), o.auth.tls.cert);
    await writeFile(path.join(dir, 'key.pem'), o.auth.tls.key, { mode: 0o600 });
    await writeFile(tokenFile, o.auth.token);
    extra.push('-tls-cert', path.join(dir, 'cert.pem'), '-tls-key', path.join(dir, 'key.pem'), '-token-file', tokenFile);
  }
  let proc = spawnGo(['-addr', '127.0.0.1:0', ...extra]);
  const listening = await proc.next(/"event":"listening"/);
  const addr = String(listening.addr);
  const port = Number(addr.slice(addr.lastIndexOf(':') + 1));
  const command = async (cmd: string, re: RegExp): Promise<Record<string, unknown>> => {
    const p = proc.next(re);
    proc.child.stdin!.write(`${cmd}\n`);
    return p;
  };
  const stop = async (): Promise<void> => {
    if (proc.child.exitCode === null && proc.child.signalCode === null) {
      proc.child.kill('SIGKILL');
      await proc.exited;
    }
  };
  return {
    kind: 'go',
    url: `${o.auth ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    async goaway() {
      await command('goaway', /"event":"goaway"/);
    },
    async reset() {
      await command('reset', /"event":"reset"/);
    },
    async cancel() {
      await command('cancel', /"event":"cancel"/);
    },
    async restart(downMs) {
      await stop();
      await new Promise((r) => setTimeout(r, downMs));
      proc = spawnGo(['-addr', `127.0.0.1:${port}`, ...extra]);
      await proc.next(/"event":"listening"/);
    },
    async connections() {
      return Number((await command('stats', /"event":"stats"/)).connections);
    },
    async setToken(t) {
      if (!tokenFile) throw new Error('setToken needs ServerOptions.auth');
      await writeFile(tokenFile, t);
    },
    async unauthorized() {
      return proc.lines.filter((l) => l.includes('"event":"unauthorized"')).length;
    },
    async close() {
      await stop();
      await cleanup();
    },
  };
}

// ---- the forwarder --------------------------------------------------------------------------------

/** A PortForwarder on 127.0.0.1 to `podPort` through `url`; counts its dials. */
export async function forward(
  t: Test,
  url: string,
  podPort: number,
  opts: Partial<PortForwarderOptions> & { session?: DialPortForwardOptions['session'] } = {},
): Promise<{ pf: PortForwarder; local: number; dials: () => number }> {
  let dials = 0;
  const { session, ...rest } = opts;
  const pf = new PortForwarder({
    ports: [`:${podPort}`],
    addresses: ['127.0.0.1'],
    dial: (signal) => {
      dials++;
      return dialPortForward(portForwardUrl(url, 'default', 'web'), { signal, ...(session ? { session } : {}) });
    },
    ...rest,
  });
  t.teardown(() => pf.close());
  const [bound] = await pf.ready;
  return { pf, local: bound!.local, dials: () => dials };
}

// ---- the pod --------------------------------------------------------------------------------------

/** Pattern period: a prime, so a loss or repeat of whole frames or buffers never lines up with it. */
const PERIOD = 1_048_573;
const BLOCK = (() => {
  const b = Buffer.allocUnsafe(PERIOD + 65536);
  let x = 0x9e3779b9;
  for (let i = 0; i < PERIOD; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  b.copy(b, PERIOD, 0, 65536);
  return b;
})();

/** Checks bytes at stream offset `off` against the pattern. */
export function patternMatches(chunk: Buffer, off: number): boolean {
  let pos = 0;
  while (pos < chunk.length) {
    const start = (off + pos) % PERIOD;
    const n = Math.min(chunk.length - pos, 65536);
    if (BLOCK.compare(chunk, pos, pos + n, start, start + n) !== 0) return false;
    pos += n;
  }
  return true;
}

/**
 * The pod: `GET /stream?n=N` sends N pattern bytes (with backpressure: nothing is built ahead), any
 * other path answers `hello <path>`. HTTP keep-alive.
 */
export async function startPod(t: Test): Promise<number> {
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://pod');
    if (u.pathname === '/stream') {
      const n = Number(u.searchParams.get('n') ?? '0');
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': n });
      let off = 0;
      const pump = (): void => {
        while (off < n) {
          const start = off % PERIOD;
          const len = Math.min(65536, n - off);
          const ok = res.write(BLOCK.subarray(start, start + len));
          off += len;
          if (!ok) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
      return;
    }
    const text = `hello ${u.pathname}\n`;
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return (server.address() as net.AddressInfo).port;
}

/** One GET on a new TCP connection through the forward: status text, body, ms. Rejects after `ms`. */
export function get(port: number, pathname: string, ms = 10_000): Promise<{ status: number; body: string; ms: number }> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: pathname, agent: false, timeout: ms }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - start }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${ms} ms`)));
    req.on('error', reject);
  });
}

/**
 * A raw HTTP download of `n` pattern bytes through the forward, read at `rate` bytes/s (Infinity: as
 * fast as possible; 0: not at all until {@link Download.setRate}). Verifies every byte at its offset.
 */
export class Download {
  readonly socket: net.Socket;
  /** Body bytes received and verified. */
  received = 0;
  corrupt = false;
  ended = false;
  error: Error | null = null;
  readonly done: Promise<void>;
  private header = Buffer.alloc(0);
  private inBody = false;
  private rate: number;
  private budgetStart = performance.now();
  private budgetBase = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(port: number, readonly n: number, rate: number) {
    this.rate = rate;
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('connect', () => this.socket.write(`GET /stream?n=${n} HTTP/1.1\r\nHost: pod\r\nConnection: close\r\n\r\n`));
    this.done = new Promise<void>((resolve) => {
      this.socket.on('error', (err) => (this.error = err));
      this.socket.on('end', () => (this.ended = true));
      this.socket.on('close', () => {
        if (this.timer) clearTimeout(this.timer);
        resolve();
      });
    });
    this.socket.on('data', (c: Buffer) => this.onData(c));
    if (rate === 0) this.socket.pause();
  }

  /** Bytes per second; Infinity reads freely. Restarts the rate window. */
  setRate(rate: number): void {
    this.rate = rate;
    this.budgetStart = performance.now();
    this.budgetBase = this.received;
    if (rate > 0) this.socket.resume();
    else this.socket.pause();
  }

  /** Average body rate since `since` (performance.now()) given the count `at` then, bytes/s. */
  rateSince(since: number, at: number): number {
    return ((this.received - at) * 1000) / (performance.now() - since);
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(c: Buffer): void {
    if (!this.inBody) {
      this.header = Buffer.concat([this.header, c]);
      const i = this.header.indexOf('\r\n\r\n');
      if (i < 0) return;
      this.inBody = true;
      c = this.header.subarray(i + 4);
    }
    if (!patternMatches(c, this.received)) this.corrupt = true;
    this.received += c.length;
    if (!Number.isFinite(this.rate) || this.rate <= 0) return;
    // Token bucket: pause until the reads so far fit the rate.
    const allowed = this.budgetBase + ((performance.now() - this.budgetStart) * this.rate) / 1000;
    const over = this.received - allowed;
    if (over > 0) {
      this.socket.pause();
      this.timer = setTimeout(() => {
        this.timer = null;
        if (this.rate > 0) this.socket.resume();
      }, Math.ceil((over * 1000) / this.rate));
    }
  }
}

/** What {@link GoDownload} reports once its connection is over. */
export interface GoDownloadResult {
  received: number;
  /** The connection ended with a clean EOF (the peer's FIN). */
  eof: boolean;
  /** The read error otherwise (`… connection reset by peer`), '' after EOF. */
  error: string;
  corrupt: boolean;
}

/**
 * The same download as {@link Download}, read by a Go client (spec/interop/download), which reports how
 * its TCP connection ended as the kernel says: a Node client may see a reset that arrives while unread
 * bytes are queued as a clean end (libuv 1.46's POLLHUP + partial read shortcut in Node 20).
 */
export class GoDownload {
  /** Body bytes received so far (as last reported, every 100 ms). */
  received = 0;
  readonly done: Promise<GoDownloadResult>;
  private readonly child: ChildProcess;
  private firstBytes!: () => void;
  /** Resolves once the first body bytes arrived. */
  readonly flowing = new Promise<void>((r) => (this.firstBytes = r));

  constructor(port: number, n: number, rate: number) {
    const err = buildGo('download');
    if (err) throw new Error(`the Go download client is required (.ci/run installs Go): ${err}`);
    this.child = spawn(path.join(BIN_DIR, 'download'), ['-addr', `127.0.0.1:${port}`, '-n', String(n), '-rate', String(rate)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let rest = '';
    this.done = new Promise((resolve, reject) => {
      this.child.stdout!.setEncoding('utf8');
      this.child.stdout!.on('data', (d: string) => {
        rest += d;
        const lines = rest.split('\n');
        rest = lines.pop()!;
        for (const l of lines) {
          const o = JSON.parse(l) as GoDownloadResult & { event: string };
          this.received = o.received;
          if (o.received > 0) this.firstBytes();
          if (o.event === 'done') resolve(o);
        }
      });
      this.child.once('close', (code) => reject(new Error(`download exited (${code}) without a result`)));
    });
  }

  close(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

// ---- a proxy that forgets connections --------------------------------------------------------------

/** A TCP proxy to `targetPort` whose existing connections can be made to drop all traffic silently. */
export async function blackholeProxy(t: Test, targetPort: number): Promise<{ port: number; blackhole(): void }> {
  const pairs: { a: net.Socket; b: net.Socket; dead: boolean }[] = [];
  const server = net.createServer((a) => {
    const b = net.connect(targetPort, '127.0.0.1');
    const p = { a, b, dead: false };
    pairs.push(p);
    a.on('data', (d) => void (p.dead || b.write(d)));
    b.on('data', (d) => void (p.dead || a.write(d)));
    a.on('error', () => b.destroy());
    b.on('error', () => a.destroy());
    a.on('close', () => b.destroy());
    b.on('close', () => a.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    pairs.forEach((p) => (p.a.destroy(), p.b.destroy()));
    server.close();
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    blackhole: () => pairs.forEach((p) => (p.dead = true)),
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Median and maximum of a list. */
export function summary(xs: number[]): { median: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)] ?? NaN, max: s[s.length - 1] ?? NaN };
}
