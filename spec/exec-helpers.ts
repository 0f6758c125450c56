// Helpers for the exec tests: run a process with stdin bytes and capture its output as bytes.
import { spawn } from 'node:child_process';

export interface Captured {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs `cmd args` with `input` on stdin (or nothing), and resolves with exit code and output; kills it after `ms`. */
export function capture(cmd: string, args: string[], env: NodeJS.ProcessEnv, input?: Buffer, ms = 60000): Promise<Captured> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
    if (input) {
      child.stdin!.on('error', () => {});
      child.stdin!.end(input);
    }
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} did not finish within ${ms} ms; stderr: ${err}`));
    }, ms);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: err });
    });
  });
}
