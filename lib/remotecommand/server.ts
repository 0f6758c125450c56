/**
 * remotecommand server (what the kubelet does for `exec`/`attach`, cri-streaming
 * `remotecommand/httpstream.go`, `websocket.go`): parse the request's query, accept the SPDY upgrade or
 * the WebSocket, wait for the client's streams, run a handler with Node streams, and write the outcome
 * as a Status on the error stream before closing.
 */
import type { IncomingMessage } from 'node:http';
import { Readable, type Writable } from 'node:stream';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import createDebug from 'debug';
import type { ConnectionOptions } from '../session/options.js';
import { InvalidArgumentError } from '../errors.js';
import { createUpgradeHandler, writeHttpError } from '../httpstream/server.js';
import { statusJson } from '../httpstream/status.js';
import { MAX_RESIZE_MESSAGE, SPDY_SERVER_PROTOCOLS, WEBSOCKET_SERVER_PROTOCOLS } from './constants.js';
import { serveSpdy } from './server-spdy.js';
import { serveWebSocket } from './server-websocket.js';
import { exitCodeStatus, internalErrorStatus, successStatus, type ExecStatus } from './status.js';

const log = createDebug('kube-spdy:remotecommand:server');

/** What the client asked for (the query of `pods/{name}/exec` or `/attach`). */
export interface RemoteCommandRequest {
  kind: 'exec' | 'attach';
  /** `command=` values (empty for attach). */
  command: string[];
  /** `container=` (may be empty). */
  container: string;
  stdin: boolean;
  stdout: boolean;
  /** False whenever `tty` is set (a terminal merges stderr into stdout, as the kubelet does). */
  stderr: boolean;
  tty: boolean;
}

/** One terminal size (characters), as sent on the resize stream. */
export interface TerminalSize {
  width: number;
  height: number;
}

/** The streams a handler gets; a stream the client did not ask for is null. */
export interface RemoteCommandStreams {
  /** Ends when the client half-closes stdin (SPDY FIN, v5 CLOSE) or the session ends. */
  stdin: Readable | null;
  /** Ended by the server after the handler resolves, if the handler did not end it. */
  stdout: Writable | null;
  stderr: Writable | null;
  /** Object-mode stream of {@link TerminalSize} (tty with protocol v3+), else null. */
  resize: Readable | null;
  /** Aborted when the client goes away: stop the command. */
  signal: AbortSignal;
  /** Negotiated protocol (`''`: legacy v1 over SPDY) and transport. */
  protocol: string;
  transport: 'spdy' | 'websocket';
}

/**
 * Runs the command. Resolves with its exit code (0–255: 0 → Status Success, else `NonZeroExitCode`);
 * a rejection is written as an `InternalError` Status with the error's message (e.g. the executable
 * was not found).
 */
export type RemoteCommandHandler = (streams: RemoteCommandStreams, request: RemoteCommandRequest) => Promise<number>;

/** Options of {@link createRemoteCommandServer}. */
export interface RemoteCommandServerOptions {
  handler: RemoteCommandHandler;
  /** How long to wait for all expected SPDY streams, ms (kubelet's). Default 30000. */
  streamCreationTimeout?: number;
  /** After the status is written: how long to wait for the client to close, ms; then the connection is cut. Default 10000. */
  closeTimeout?: number;
  /** SPDY session options. Defaults here: `REMOTECOMMAND_SESSION_DEFAULTS` (lib/remotecommand/constants.ts) (`flowControl: 'auto'`, 1 MiB stream buffers and windows). */
  session?: Omit<ConnectionOptions, 'role'>;
  /** Largest WebSocket message accepted, bytes. Default 16 MiB. */
  maxPayload?: number;
  /** Per-channel buffer of the WebSocket transport, bytes (reading pauses above it). Default 1 MiB. */
  highWaterMark?: number;
  /** SPDY protocols served (a subset of {@link SPDY_SERVER_PROTOCOLS}, to act as an older kubelet). Default: all, v5 … v1. */
  spdyProtocols?: string[];
  /** WebSocket subprotocols served (a subset of {@link WEBSOCKET_SERVER_PROTOCOLS}). Default: all, v5 … v1. */
  websocketProtocols?: string[];
  /** Called when a session starts (upgrade accepted), before the streams are awaited. */
  onSession?: (info: { transport: 'spdy' | 'websocket'; protocol: string; request: RemoteCommandRequest }) => void;
}

/** A remotecommand server for an `http.Server`'s `'upgrade'` events. */
export interface RemoteCommandServer {
  /**
   * Serves one upgrade request for `request` (see {@link parseRemoteCommandRequest}): a WebSocket when
   * `Upgrade: websocket`, else the SPDY/3.1 upgrade (403 when no protocol is shared, 400 without the
   * upgrade headers).
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, request: RemoteCommandRequest): void;
  /** Cuts every session in progress. */
  close(): void;
}

/** Go's `strconv.ParseBool` (what the API server's parameter codec uses). */
function parseBool(v: string | null): boolean | undefined {
  if (v === null) return false;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False', ''].includes(v)) return false;
  return undefined;
}

/**
 * Parses and validates the query of an exec/attach request (Kubernetes `PodExecOptions` validation):
 * booleans as Go parses them, at least one of stdin/stdout/stderr, a command for exec. Returns the
 * request, or `{ error }` with the message of a 400 BadRequest.
 */
export function parseRemoteCommandRequest(kind: 'exec' | 'attach', query: URLSearchParams): RemoteCommandRequest | { error: string } {
  const flags: Record<'stdin' | 'stdout' | 'stderr' | 'tty', boolean> = { stdin: false, stdout: false, stderr: false, tty: false };
  for (const k of ['stdin', 'stdout', 'stderr', 'tty'] as const) {
    const v = parseBool(query.get(k));
    if (v === undefined) return { error: `invalid value for ${k}: ${JSON.stringify(query.get(k))}` };
    flags[k] = v;
  }
  if (!flags.stdin && !flags.stdout && !flags.stderr) return { error: 'you must specify at least 1 of stdin, stdout, stderr' };
  const command = query.getAll('command');
  if (kind === 'exec' && command.length === 0) return { error: 'you must specify at least one command for the container' };
  return { kind, command: kind === 'exec' ? command : [], container: query.get('container') ?? '', ...flags, stderr: flags.stderr && !flags.tty };
}

/** Builds the Status for a handler's outcome. */
export function outcomeStatus(request: RemoteCommandRequest, outcome: { exitCode: number } | { error: Error }): ExecStatus {
  if ('error' in outcome) return internalErrorStatus(outcome.error.message);
  const code = outcome.exitCode;
  if (code === 0) return successStatus();
  return exitCodeStatus(Number.isInteger(code) && code > 0 && code <= 255 ? code : 255, request.command.length > 0 ? request.command : [request.kind]);
}

/** Runs the handler with every failure caught (a throw becomes an InternalError Status). */
export async function runHandler(handler: RemoteCommandHandler, streams: RemoteCommandStreams, request: RemoteCommandRequest): Promise<ExecStatus> {
  try {
    const exitCode = await handler(streams, request);
    return outcomeStatus(request, { exitCode });
  } catch (err) {
    log('handler failed: %s', (err as Error).message);
    return outcomeStatus(request, { error: err instanceof Error ? err : new Error(String(err)) });
  }
}

/**
 * Turns a resize byte stream (JSON objects `{"Width":W,"Height":H}` one after another) into an
 * object-mode stream of {@link TerminalSize}. A message over 4 KiB, or one that is not such an object,
 * ends the size stream (the kubelet stops reading resizes on a decode error).
 */
export function decodeResizes(source: Readable): Readable {
  const out = new Readable({ objectMode: true, read: () => source.resume() });
  let text = '';
  source.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
    for (;;) {
      const start = text.indexOf('{');
      const end = text.indexOf('}', start);
      if (start < 0 || end < 0) break;
      let size: TerminalSize | undefined;
      try {
        const v = JSON.parse(text.slice(start, end + 1)) as { Width?: unknown; Height?: unknown };
        if (Number.isInteger(v.Width) && Number.isInteger(v.Height)) size = { width: v.Width as number, height: v.Height as number };
      } catch {
        size = undefined;
      }
      text = text.slice(end + 1);
      if (!size) {
        log('bad resize message: no more resizes');
        source.removeAllListeners('data');
        source.resume();
        out.push(null);
        return;
      }
      if (!out.push(size)) source.pause();
    }
    if (text.length > MAX_RESIZE_MESSAGE) {
      source.removeAllListeners('data');
      source.resume();
      out.push(null);
    }
  });
  source.once('end', () => out.push(null));
  source.once('close', () => {
    if (!out.readableEnded) out.push(null);
  });
  return out;
}

/** Creates a server for exec/attach upgrades over both transports. */
export function createRemoteCommandServer(options: RemoteCommandServerOptions): RemoteCommandServer {
  const spdyProtocols = subset(options.spdyProtocols, SPDY_SERVER_PROTOCOLS, 'spdyProtocols');
  const wsProtocols = subset(options.websocketProtocols, WEBSOCKET_SERVER_PROTOCOLS, 'websocketProtocols');
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: options.maxPayload ?? 16 * 1024 * 1024,
    handleProtocols: (offered) => {
      for (const p of offered) if (wsProtocols.includes(p)) return p;
      return false;
    },
  });
  const sessions = new Set<() => void>();
  const track = (stop: () => void): (() => void) => {
    sessions.add(stop);
    return () => sessions.delete(stop);
  };

  const pending = new WeakMap<IncomingMessage, RemoteCommandRequest>();
  const spdy = createUpgradeHandler({
    protocols: spdyProtocols,
    onUpgrade: (sock, protocol, req) => {
      const request = pending.get(req)!;
      pending.delete(req);
      options.onSession?.({ transport: 'spdy', protocol, request });
      serveSpdy(sock, protocol, request, options, track);
    },
  });
  const handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer, request: RemoteCommandRequest): void => {
    if (/websocket/i.test(String(req.headers.upgrade ?? ''))) {
      const offered = String(req.headers['sec-websocket-protocol'] ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      if (offered.length > 0 && !offered.some((p) => wsProtocols.includes(p))) {
        writeHttpError(socket, 400, statusJson(400, 'BadRequest', `unable to upgrade: unable to negotiate protocol: client supports [${offered.join(' ')}], server accepts [${wsProtocols.join(' ')}]`));
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        options.onSession?.({ transport: 'websocket', protocol: ws.protocol, request });
        serveWebSocket(ws, request, options, track);
      });
      return;
    }
    pending.set(req, request);
    spdy(req, socket, head);
    pending.delete(req);
  };

  return {
    handleUpgrade,
    close: () => {
      for (const stop of [...sessions]) stop();
      wss.close();
    },
  };
}

function subset(given: string[] | undefined, all: readonly string[], what: string): string[] {
  if (given === undefined) return [...all];
  if (given.length === 0 || given.some((p) => !all.includes(p))) {
    throw new InvalidArgumentError(`createRemoteCommandServer: ${what} must be a non-empty subset of [${all.join(' ')}]`);
  }
  return [...given];
}
