/**
 * A local child process as the "container" of a remotecommand server (the fake API server uses it):
 * `exec` spawns the command; `attach` joins one long-running main process per container. No terminal is
 * allocated: with `tty` the process still gets pipes (stderr is merged into stdout) and resizes are
 * recorded but have no effect.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { constants as osConstants } from 'node:os';
import createDebug from 'debug';
import type { RemoteCommandHandler, RemoteCommandStreams, TerminalSize } from './server.js';

const log = createDebug('kube-spdy:remotecommand:local');

/** Options of {@link localProcessHandler}. */
export interface LocalProcessOptions {
  /** Working directory of the commands. Default: this process's. */
  cwd?: string;
  /** Environment of the commands. Default: this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** The main process of a container, for `attach`: argv. Default `['cat']` (echoes what is attached). */
  attachCommand?: string[];
  /** Called with each terminal size received (for tests and logs). */
  onResize?: (size: TerminalSize) => void;
}

/** The message runc gives for a missing executable (what kubectl prints inside its InternalError). */
function startError(command: string, err: NodeJS.ErrnoException): Error {
  if (err.code === 'ENOENT') {
    return new Error(`OCI runtime exec failed: exec failed: unable to start container process: exec: "${command}": executable file not found in $PATH: unknown`);
  }
  if (err.code === 'EACCES') return new Error(`OCI runtime exec failed: exec failed: unable to start container process: exec: "${command}": permission denied: unknown`);
  return new Error(`OCI runtime exec failed: ${err.message}`);
}

/** Exit code of a finished child: its code, or 128 + signal number for a signal (as a shell reports it). */
function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? (osConstants.signals[signal] ?? 15) : 1);
}

/** Waits for `child` to start: resolves once spawned, rejects with the runc-like start error. */
function started(child: ChildProcess, command: string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err) => reject(startError(command, err as NodeJS.ErrnoException)));
  });
}

/** Connects the session's streams to a child's pipes. Returns a function that disconnects stdin. */
function wire(child: ChildProcess, s: RemoteCommandStreams, tty: boolean): () => void {
  const out = s.stdout;
  const err = tty ? s.stdout : s.stderr;
  if (out && child.stdout) child.stdout.pipe(out, { end: false });
  if (err && child.stderr) child.stderr.pipe(err, { end: false });
  child.stdin?.on('error', () => {}); // EPIPE when the command exits without reading all of stdin
  if (s.stdin && child.stdin) s.stdin.pipe(child.stdin);
  return () => {
    if (s.stdin && child.stdin) s.stdin.unpipe(child.stdin);
  };
}

/** Resolves once `r` (a child's output pipe) has ended, or at once when absent. */
function drained(r: Readable | null | undefined): Promise<void> {
  if (!r || r.readableEnded || r.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    r.once('end', resolve);
    r.once('close', resolve);
  });
}

/**
 * A {@link RemoteCommandHandler} that runs `exec` commands as local child processes (argv as given, no
 * shell) and attaches to one main process per container. The exit code is the process's (128 + signal
 * number when killed by a signal); a missing executable rejects with runc's message. When the client goes
 * away the process gets SIGKILL.
 */
export function localProcessHandler(options: LocalProcessOptions = {}): RemoteCommandHandler {
  const mains = new Map<string, MainProcess>();
  return async (streams, request) => {
    if (streams.resize) {
      streams.resize.on('data', (size: TerminalSize) => {
        log('resize %dx%d', size.width, size.height);
        options.onResize?.(size);
      });
    }
    if (request.kind === 'attach') {
      const key = request.container || 'main';
      let main = mains.get(key);
      if (!main || main.exited) {
        main = new MainProcess(options.attachCommand ?? ['cat'], options);
        mains.set(key, main);
      }
      return main.attach(streams, request.tty);
    }
    const [file, ...args] = request.command;
    const child = spawn(file!, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [streams.stdin ? 'pipe' : 'ignore', streams.stdout ? 'pipe' : 'ignore', (request.tty ? streams.stdout : streams.stderr) ? 'pipe' : 'ignore'],
    });
    await started(child, file!);
    log('exec %o: pid %d', request.command, child.pid);
    const onAbort = (): void => {
      child.kill('SIGKILL');
      child.stdout?.destroy();
      child.stderr?.destroy();
    };
    streams.signal.addEventListener('abort', onAbort, { once: true });
    const unwire = wire(child, streams, request.tty);
    const exit = new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(exitCodeOf(code, signal))));
    const code = await exit;
    unwire();
    await Promise.all([drained(child.stdout), drained(child.stderr)]);
    streams.signal.removeEventListener('abort', onAbort);
    log('exec %o: exit %d', request.command, code);
    return code;
  };
}

/** One container's main process, shared by every attached session. */
class MainProcess {
  readonly child: ChildProcess;
  exited = false;
  private readonly exit: Promise<number>;
  private readonly outs = new Set<Writable>();
  private readonly errs = new Set<Writable>();
  private readonly startup: Promise<void>;

  constructor(argv: string[], options: LocalProcessOptions) {
    this.child = spawn(argv[0]!, argv.slice(1), { cwd: options.cwd, env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.startup = started(this.child, argv[0]!);
    this.startup.catch(() => {});
    this.child.stdin!.on('error', () => {});
    // Output goes to every attached session; the slowest one paces the process (bounded buffers).
    const fan = (from: Readable, set: Set<Writable>) => (chunk: Buffer) => {
      for (const w of set) {
        if (w.writableEnded || w.destroyed) continue;
        if (!w.write(chunk)) {
          from.pause();
          const go = (): void => {
            w.off('drain', go);
            w.off('close', go);
            from.resume();
          };
          w.once('drain', go);
          w.once('close', go);
        }
      }
    };
    this.child.stdout!.on('data', fan(this.child.stdout!, this.outs));
    this.child.stderr!.on('data', fan(this.child.stderr!, this.errs));
    this.exit = new Promise((resolve) =>
      this.child.once('close', (code, signal) => {
        this.exited = true;
        resolve(exitCodeOf(code, signal));
      }),
    );
  }

  /** Attaches a session until the process exits (its exit code) or the client leaves. */
  async attach(s: RemoteCommandStreams, tty: boolean): Promise<number> {
    await this.startup;
    const out = s.stdout;
    const err = tty ? s.stdout : s.stderr;
    if (out) this.outs.add(out);
    if (err) this.errs.add(err);
    if (s.stdin) s.stdin.pipe(this.child.stdin!, { end: false });
    const left = new Promise<number>((resolve) => s.signal.addEventListener('abort', () => resolve(0), { once: true }));
    try {
      return await Promise.race([this.exit, left]);
    } finally {
      if (out) this.outs.delete(out);
      if (err) this.errs.delete(err);
      if (s.stdin) s.stdin.unpipe(this.child.stdin!);
    }
  }
}
