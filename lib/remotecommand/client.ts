/**
 * remotecommand client: `exec` and `attach` as kubectl/client-go do them (`tools/remotecommand`
 * `fallback.go`, `websocket.go`, `spdy.go`, `v2.go`–`v5.go`). WebSocket (`v5.channel.k8s.io`, then v4)
 * first; the SPDY/3.1 upgrade (v5, v4, v3, v2) only when the WebSocket upgrade fails (a non-101
 * answer or a subprotocol that was not offered), never after a network, DNS or TLS error.
 */
import type { Readable, Writable } from 'node:stream';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import createDebug from 'debug';
import { AbortError, InvalidArgumentError, UpgradeError } from '../errors.js';
import type { ConnectionOptions } from '../session/options.js';
import type { CreateConnection } from '../httpstream/client.js';
import { MAX_ERROR_STREAM } from './constants.js';
import { runOverWebSocket } from './client-websocket.js';
import { runOverSpdy } from './client-spdy.js';

const log = createDebug('kube-spdy:remotecommand');

/** Options shared by {@link exec} and {@link attach}. */
export interface AttachOptions {
  /** The API server URL (`https://host:6443`, a path prefix is kept), as the port-forward dial takes it. */
  server: string | URL;
  /** Request headers (Authorization, User-Agent). Never logged. */
  headers?: Record<string, string>;
  /** TLS options for https: servers (`ca`, `cert`, `key`, `rejectUnauthorized`, `servername`). */
  tls?: TlsOptions;
  /**
   * Creates the connection for both transports (a proxy tunnel, TLS already applied for https:), as the
   * kube layer's credentials give it for a kubeconfig `proxy-url` or `HTTPS_PROXY`. Default: a direct
   * TCP/TLS connection.
   */
  createConnection?: CreateConnection;
  namespace: string;
  pod: string;
  /** Container name; omitted: the server picks (the pod's default container). */
  container?: string;
  /** Data for the command's stdin; `end` is sent as a SPDY half-close or the v5 CLOSE message. Omitted: no stdin. */
  stdin?: Readable | null;
  /** Receives the command's stdout. It is not ended when the command ends. Omitted: stdout is not requested. */
  stdout?: Writable | null;
  /** Receives the command's stderr (not requested with `tty`: a terminal merges it into stdout). */
  stderr?: Writable | null;
  /** Allocate a terminal. Default false. */
  tty?: boolean;
  /** Aborts the command: the connection is closed and the promise rejects with {@link AbortError}. */
  signal?: AbortSignal;
  /** `'auto'` (WebSocket, then SPDY on an upgrade failure), `'websocket'` or `'spdy'`. Default `'auto'`. */
  transport?: 'auto' | 'websocket' | 'spdy';
  /** Time allowed for each upgrade (connect, TLS, response head), ms. Default 30000. */
  timeout?: number;
  /** WebSocket ping period, ms (client-go: 5000). Default 5000; 0 = none. */
  pingInterval?: number;
  /** WebSocket: no message or pong for this long closes the session, ms. Default 61000 (client-go's read deadline). */
  pingTimeout?: number;
  /** Largest WebSocket message accepted, bytes. Default 16 MiB. */
  maxPayload?: number;
  /**
   * SPDY session options. Defaults here: `REMOTECOMMAND_SESSION_DEFAULTS` (lib/remotecommand/constants.ts) (`flowControl: 'auto'`:
   * compatibility mode with kubelets and API servers, which run moby/spdystream; per-stream windows with a
   * kube-spdy server), `streamHighWaterMark` and `initialWindowSize` 1 MiB, `pingInterval: 5000` and `pingTimeout: 30000` (client-go pings every 5 s).
   */
  session?: Omit<ConnectionOptions, 'role'>;
}

/** Options of {@link exec}: {@link AttachOptions} plus the command. */
export interface ExecOptions extends AttachOptions {
  /** The command and its arguments; at least one element. */
  command: string[];
}

/** What a finished command resolves with. */
export interface ExecResult {
  /** The remote exit code (0–255); 0 for v1–v3 servers, which report only failures. */
  exitCode: number;
  /** The negotiated protocol, e.g. `v5.channel.k8s.io` (`''` for a legacy SPDY server). */
  protocol: string;
  transport: 'websocket' | 'spdy';
}

/** A running command: a Promise of its {@link ExecResult}, plus terminal resizing. */
export type RemoteCommand = Promise<ExecResult> & {
  /**
   * Sends a terminal size (`{"Width":W,"Height":H}`, characters). Only with `tty`; sizes given before the
   * session is up are kept (the latest one) and sent first. Ignored for servers older than v3.
   */
  resize(width: number, height: number): void;
};

/** @internal What a transport needs from the caller. */
export interface Plan {
  url: URL;
  opts: AttachOptions;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
  resizer: Resizer;
  maxErrorStream: number;
}

/** @internal Holds the latest requested size until a transport attaches a sender. */
export class Resizer {
  private pending: { width: number; height: number } | null = null;
  private sender: ((json: Buffer) => void) | null = null;
  request(width: number, height: number): void {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0 || width > 0xffff || height > 0xffff) {
      throw new InvalidArgumentError(`resize: width and height must be integers in 0..65535, got ${width}x${height}`);
    }
    if (this.sender) this.sender(encodeSize(width, height));
    else this.pending = { width, height };
  }
  attach(sender: (json: Buffer) => void): void {
    this.sender = sender;
    const p = this.pending;
    this.pending = null;
    if (p) sender(encodeSize(p.width, p.height));
  }
  detach(): void {
    this.sender = null;
  }
}

/** client-go's `TerminalSize` as json.Encoder writes it (no json tags: capitalised keys; a newline after). */
function encodeSize(width: number, height: number): Buffer {
  return Buffer.from(`${JSON.stringify({ Width: width, Height: height })}\n`);
}

/** The URL of `pods/{name}/exec` or `/attach` with the query client-go sends. */
export function remoteCommandUrl(
  server: string | URL,
  kind: 'exec' | 'attach',
  o: { namespace: string; pod: string; container?: string | undefined; command?: readonly string[]; stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean },
): URL {
  let base: URL;
  try {
    base = new URL(String(server));
  } catch {
    throw new InvalidArgumentError(`invalid server URL ${JSON.stringify(String(server))}`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new InvalidArgumentError(`server URL must be http: or https:, got ${base.protocol}`);
  const prefix = base.pathname.replace(/\/+$/, '');
  base.pathname = `${prefix}/api/v1/namespaces/${encodeURIComponent(o.namespace)}/pods/${encodeURIComponent(o.pod)}/${kind}`;
  const q = new URLSearchParams();
  if (o.container) q.append('container', o.container);
  for (const c of o.command ?? []) q.append('command', c);
  if (o.stdin) q.append('stdin', 'true');
  if (o.stdout) q.append('stdout', 'true');
  if (o.stderr) q.append('stderr', 'true');
  if (o.tty) q.append('tty', 'true');
  base.search = q.toString();
  return base;
}

/**
 * Runs `command` in a container (`pods/exec`) and resolves with its exit code once stdout, stderr and
 * the error stream have ended. A non-zero exit resolves too (`exitCode`); it rejects with:
 * - {@link RemoteCommandError} when the server's Status is a failure other than `NonZeroExitCode`
 *   (e.g. the executable does not exist: its `message` is the Status message), or the error stream is
 *   not a valid Status;
 * - {@link UpgradeError} when both upgrades are refused (the SPDY one's status and message), or when
 *   the WebSocket upgrade fails at the network level (status 0: no fallback);
 * - {@link AbortError} when `signal` fires; {@link ClosedError}/{@link LivenessError} when the connection is lost;
 * - {@link InvalidArgumentError} for bad options (thrown synchronously… as a rejection).
 */
export function exec(options: ExecOptions): RemoteCommand {
  return start('exec', options, options.command);
}

/** Attaches to the container's main process (`pods/attach`): as {@link exec}, without a command. */
export function attach(options: AttachOptions): RemoteCommand {
  return start('attach', options, undefined);
}

function start(kind: 'exec' | 'attach', opts: AttachOptions, command: string[] | undefined): RemoteCommand {
  const resizer = new Resizer();
  const promise = (async (): Promise<ExecResult> => {
    if (kind === 'exec' && (!Array.isArray(command) || command.length === 0 || command.some((c) => typeof c !== 'string'))) {
      throw new InvalidArgumentError('exec: command must be a non-empty array of strings');
    }
    if (!opts.namespace || !opts.pod) throw new InvalidArgumentError(`${kind}: namespace and pod are required`);
    if (!opts.stdin && !opts.stdout && !opts.stderr) throw new InvalidArgumentError(`${kind}: at least one of stdin, stdout and stderr is required`);
    const transport = opts.transport ?? 'auto';
    if (transport !== 'auto' && transport !== 'websocket' && transport !== 'spdy') throw new InvalidArgumentError(`${kind}: unknown transport ${JSON.stringify(transport)}`);
    if (opts.signal?.aborted) throw new AbortError(`${kind} aborted`, { cause: opts.signal.reason });
    const tty = opts.tty === true;
    const flags = { stdin: !!opts.stdin, stdout: !!opts.stdout, stderr: !!opts.stderr && !tty, tty };
    const url = remoteCommandUrl(opts.server, kind, { namespace: opts.namespace, pod: opts.pod, container: opts.container, command, ...flags });
    const plan: Plan = { url, opts, ...flags, resizer, maxErrorStream: MAX_ERROR_STREAM };
    if (transport === 'spdy') return runOverSpdy(plan);
    try {
      return await runOverWebSocket(plan);
    } catch (err) {
      if (transport === 'auto' && err instanceof UpgradeError && err.statusCode !== 0) {
        log('WebSocket upgrade failed (%s): falling back to SPDY', err.message);
        return runOverSpdy(plan);
      }
      throw err;
    }
  })();
  return Object.assign(promise, { resize: (w: number, h: number) => resizer.request(w, h) });
}
