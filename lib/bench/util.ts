/**
 * Small tools shared by the bench suites: loopback socket pairs, pumping bytes, child processes and
 * their RSS/CPU (from /proc), optional peers (spdy-transport, the Go spdystream bench program).
 */
import net from 'node:net';
import path from 'node:path';
import { readFileSync, existsSync, mkdirSync, statSync, readdirSync } from 'node:fs';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The package root (dist/bench/util.js → ../..). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(ROOT, 'bin', 'kube-spdy.js');
export const MiB = 1024 * 1024;

/** A connected pair of TCP sockets on 127.0.0.1, Nagle off on both. */
export async function socketPair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer({ allowHalfOpen: true, noDelay: true });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const a = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true, noDelay: true });
  await new Promise<void>((r, j) => a.once('connect', r).once('error', j));
  const b = await accepted;
  b.setNoDelay(true);
  server.close();
  return [a, b];
}

/** Writes `total` bytes of `chunk` repeatedly to `w` with backpressure, then ends it. */
export function pump(w: NodeJS.WritableStream, total: number, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    (w as any).once?.('error', reject);
    const go = () => {
      while (sent < total) {
        const n = Math.min(chunk.length, total - sent);
        sent += n;
        if (!w.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          w.once('drain', go);
          return;
        }
      }
      w.end();
      resolve();
    };
    go();
  });
}

/** Counts bytes read from `r` until it ends. */
export function drain(r: NodeJS.ReadableStream): Promise<number> {
  return new Promise((resolve, reject) => {
    let n = 0;
    r.on('data', (c: Buffer) => (n += c.length));
    r.once('end', () => resolve(n));
    r.once('error', reject);
  });
}

/** spdy-transport (a devDependency), or null when it is not installed. */
export function loadSpdyTransport(): any | null {
  try {
    return createRequire(import.meta.url)('spdy-transport');
  } catch {
    return null;
  }
}

/** Resident set size and peak RSS (VmHWM) of a process, bytes, from /proc (NaN elsewhere). */
export function memoryOf(pid: number): { rss: number; peak: number } {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), peak: kb('VmHWM') };
  } catch {
    return { rss: NaN, peak: NaN };
  }
}

/** CPU time (user + system) a process has used, ms, from /proc (NaN elsewhere). */
export function cpuOf(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 (utime, stime) are at 11 and 12 after the state field; clock ticks of 10 ms.
    return (Number(rest[11]) + Number(rest[12])) * 10;
  } catch {
    return NaN;
  }
}

/** Samples a process's RSS every `everyMs` until stopped; returns the largest seen, bytes. */
export function watchRss(pid: number, everyMs = 50): () => number {
  let max = memoryOf(pid).rss;
  const t = setInterval(() => {
    const r = memoryOf(pid).rss;
    if (r > max) max = r;
  }, everyMs);
  return () => {
    clearInterval(t);
    const r = memoryOf(pid).rss;
    return r > max ? r : max;
  };
}

/** A child process whose stdout lines can be awaited; its stderr is kept (last 4 KiB) for errors. */
export class Child {
  readonly proc: ChildProcess;
  private out = '';
  errText = '';
  readonly exited: Promise<number | null>;
  /** `stdin: 'pipe'` for programs that exit when their stdin closes (the Go servers). */
  constructor(cmd: string, args: string[], env: Record<string, string> = {}, stdin: 'ignore' | 'pipe' = 'ignore') {
    this.proc = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: [stdin, 'pipe', 'pipe'] });
    this.proc.stdout!.on('data', (d) => {
      this.out += d;
      if (this.out.length > 65536) this.out = this.out.slice(-32768);
    });
    this.proc.stderr!.on('data', (d) => (this.errText = (this.errText + d).slice(-4096)));
    this.exited = new Promise((r) => {
      this.proc.once('exit', (code) => r(code));
      this.proc.once('error', (err) => {
        this.errText += String(err);
        r(-1);
      });
    });
  }
  get pid(): number {
    return this.proc.pid ?? -1;
  }
  /** Resolves with the first match of `re` on stdout; rejects when the process exits first or after `ms`. */
  line(re: RegExp, ms = 20000): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = re.exec(this.out);
        if (m) {
          done();
          resolve(m);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${path.basename(String(this.proc.spawnargs[1] ?? this.proc.spawnfile))}: no ${re} within ${ms} ms ${this.errText.trim().split('\n').pop() ?? ''}`));
      }, ms);
      const onExit = () => {
        done();
        reject(new Error(`${this.proc.spawnfile} exited before printing ${re}: ${this.errText.trim().split('\n').pop() ?? ''}`));
      };
      const done = () => {
        clearTimeout(timer);
        this.proc.stdout!.off('data', check);
        this.proc.off('exit', onExit);
      };
      this.proc.stdout!.on('data', check);
      this.proc.once('exit', onExit);
      check();
    });
  }
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(t);
  }
}

/** `kubectl`'s client version, or null when it is not installed. */
export function kubectlVersion(): string | null {
  const r = spawnSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8', timeout: 10000 });
  if (r.status !== 0) return null;
  try {
    return JSON.parse(r.stdout).clientVersion.gitVersion as string;
  } catch {
    return null;
  }
}

/** `go version`'s version word, or null when go is not installed. */
export function goVersion(): string | null {
  const r = spawnSync('go', ['version'], { encoding: 'utf8', timeout: 10000 });
  return r.status === 0 ? (/go\d[\w.]*/.exec(r.stdout)?.[0] ?? 'go') : null;
}

const GOPATH = '/usr/share/gocode';

/**
 * Builds the Go program in `ROOT/srcDir` (GOPATH mode against Debian's packages, as spec/interop/go) into
 * `ROOT/bench/out/NAME`, unless the binary is newer than every source file. Returns the binary's path, or
 * a reason it is unavailable.
 */
export function buildGo(srcDir: string, name: string): { bin: string } | { reason: string } {
  const src = path.join(ROOT, srcDir);
  if (!existsSync(src)) return { reason: `${srcDir} is not here` };
  if (!goVersion()) return { reason: 'go is not installed (Debian: golang-go)' };
  if (!existsSync(path.join(GOPATH, 'src/github.com/docker/spdystream'))) {
    return { reason: 'Go spdystream is not installed (Debian: golang-github-docker-spdystream-dev)' };
  }
  const outDir = path.join(ROOT, 'bench', 'out');
  mkdirSync(outDir, { recursive: true });
  const bin = path.join(outDir, name);
  const newest = Math.max(...readdirSync(src).map((f) => statSync(path.join(src, f)).mtimeMs));
  if (existsSync(bin) && statSync(bin).mtimeMs > newest) return { bin };
  const r = spawnSync('go', ['build', '-o', bin, '.'], {
    cwd: src,
    encoding: 'utf8',
    timeout: 180000,
    env: { ...process.env, GO111MODULE: 'off', GOPATH, GOFLAGS: '' },
  });
  if (r.status !== 0) return { reason: `go build ${srcDir} failed: ${(r.stderr || r.error?.message || '').trim().split('\n')[0]}` };
  return { bin };
}

/** Runs a one-shot child that prints one JSON object as its last stdout line; rejects on failure or abort. */
export function runJson(cmd: string, args: string[], signal: AbortSignal, env: Record<string, string> = {}): Promise<any> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], signal });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err = (err + d).slice(-4096)));
    p.once('error', reject);
    p.once('close', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`${path.basename(args[0] ?? cmd)} exited ${code}: ${err.trim().split('\n').pop() ?? ''}`));
      try {
        resolve(JSON.parse(last));
      } catch {
        reject(new Error(`${path.basename(cmd)} printed no JSON: ${last.slice(0, 200)}`));
      }
    });
  });
}
