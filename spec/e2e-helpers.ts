// Helpers for end-to-end tests: child processes with line matching, free ports.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = path.join(ROOT, 'bin', 'kube-spdy.js');

export interface Proc {
  child: ChildProcess;
  out: string[];
  err: string[];
  /** Resolves with the first line (stdout or stderr) matching `re`. */
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  kill(): Promise<void>;
}

export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  const err: string[] = [];
  const waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const onLine = (line: string): void => {
    for (const w of [...waiters]) {
      const m = w.re.exec(line);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  const split = (buf: string[], s: NodeJS.ReadableStream): void => {
    let rest = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      rest += d;
      const lines = rest.split('\n');
      rest = lines.pop()!;
      for (const l of lines) {
        buf.push(l);
        onLine(l);
      }
    });
  };
  split(out, child.stdout!);
  split(err, child.stderr!);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    out,
    err,
    exited,
    waitFor(re, ms = 20000) {
      for (const l of [...out, ...err]) {
        const m = re.exec(l);
        if (m) return Promise.resolve(m);
      }
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no line matching ${re} within ${ms} ms; stdout: ${out.join(' | ')}; stderr: ${err.join(' | ')}`)), ms);
        waiters.push({
          re,
          resolve: (m) => {
            clearTimeout(t);
            resolve(m);
          },
        });
        void exited.then(() => setTimeout(() => reject(new Error(`process exited before a line matching ${re}; stdout: ${out.join(' | ')}; stderr: ${err.join(' | ')}`)), 50));
      });
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

export function cli(args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  return run(process.execPath, [BIN, ...args], env);
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}
