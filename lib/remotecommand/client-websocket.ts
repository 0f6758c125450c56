/**
 * remotecommand over WebSocket (client-go `tools/remotecommand/websocket.go`): `GET` with
 * `Sec-WebSocket-Protocol: v5.channel.k8s.io, v4.channel.k8s.io`, binary channel messages, a ping every
 * 5 s and a read deadline, the v5 CLOSE message for the end of stdin; the error channel carries the Status
 * and the server then closes the WebSocket.
 */
import type { IncomingMessage } from 'node:http';
import createDebug from 'debug';
import { WebSocket } from 'ws';
import { AbortError, ClosedError, LivenessError, UpgradeError } from '../errors.js';
import { parseStatus } from '../httpstream/status.js';
import { ChannelSocket } from './channels.js';
import { Channel, DEFAULT_WEBSOCKET_PING_INTERVAL, DEFAULT_WEBSOCKET_PING_TIMEOUT, WEBSOCKET_CLIENT_PROTOCOLS, protocolVersion } from './constants.js';
import { RemoteCommandError, decodeErrorStream } from './status.js';
import type { ExecResult, Plan } from './client.js';
import { collect, pipeOut, pipeIn } from './pipes.js';

const log = createDebug('kube-spdy:remotecommand:ws');

/**
 * Opens the WebSocket; resolves with it and its channels (created in the 'open' event itself: messages
 * that arrived with the 101 are emitted right after it). Rejects with UpgradeError (status ≠ 0 for an
 * upgrade failure, 0 for network errors).
 */
function open(plan: Plan): Promise<{ ws: WebSocket; mux: ChannelSocket }> {
  const { opts } = plan;
  const url = new URL(plan.url);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const where = `${url.hostname}:${url.port || (url.protocol === 'wss:' ? 443 : 80)}`;
  return new Promise((resolve, reject) => {
    let upgraded = false;
    let settled = false;
    const ws = new WebSocket(url, [...WEBSOCKET_CLIENT_PROTOCOLS], {
      ...(url.protocol === 'wss:' ? opts.tls : undefined),
      headers: { ...opts.headers },
      handshakeTimeout: opts.timeout ?? 30_000,
      perMessageDeflate: false,
      maxPayload: opts.maxPayload ?? 16 * 1024 * 1024,
      followRedirects: false,
      // ws hands it to http(s).request, which accepts the callback form of a proxy connector.
      ...(opts.createConnection ? ({ createConnection: opts.createConnection } as object) : {}),
    });
    const onAbort = (): void => fail(new AbortError('exec aborted', { cause: opts.signal?.reason }));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      ws.removeAllListeners();
      ws.on('error', () => {});
      ws.terminate();
      reject(err);
    };
    ws.on('upgrade', () => {
      upgraded = true;
    });
    ws.on('unexpected-response', (_req, res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < 64 * 1024) chunks.push(c);
        size += c.length;
      });
      const finish = (): void => {
        const text = Buffer.concat(chunks).toString('utf8');
        const st = parseStatus(text);
        const msg = st ? st.message || st.reason : text.trim();
        fail(new UpgradeError(status, `WebSocket upgrade failed: ${status} ${res.statusMessage ?? ''}${msg ? `: ${msg.split('\n')[0]}` : ''}`, msg));
      };
      res.once('end', finish);
      res.once('error', finish);
      res.once('close', finish);
    });
    ws.once('error', (err) => {
      // After the 101: the subprotocol or accept key was wrong — an upgrade failure (fallback applies).
      if (upgraded) fail(new UpgradeError(101, `WebSocket upgrade failed: ${err.message}`));
      else fail(new UpgradeError(0, `WebSocket connection to ${where} failed: ${err.message}`, '', { cause: err }));
    });
    ws.once('open', () => {
      if (settled) return;
      if (!WEBSOCKET_CLIENT_PROTOCOLS.includes(ws.protocol)) {
        fail(new UpgradeError(101, `WebSocket upgrade failed: server chose subprotocol ${JSON.stringify(ws.protocol)}, offered ${WEBSOCKET_CLIENT_PROTOCOLS.join(', ')}`));
        return;
      }
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      ws.removeAllListeners('upgrade');
      ws.removeAllListeners('unexpected-response');
      resolve({ ws, mux: channels(ws, plan) });
    });
  });
}

/** The channels of an open WebSocket: the client reads stdout, stderr, error and writes stdin, resize. */
function channels(ws: WebSocket, plan: Plan): ChannelSocket {
  const read: number[] = [Channel.ERROR];
  if (plan.stdout) read.push(Channel.STDOUT);
  if (plan.stderr) read.push(Channel.STDERR);
  const write: number[] = [];
  if (plan.stdin) write.push(Channel.STDIN);
  if (plan.tty) write.push(Channel.RESIZE);
  ws.on('error', (err) => log('WebSocket error: %s', err.message));
  return new ChannelSocket(ws, { version: protocolVersion(ws.protocol), readChannels: read, writeChannels: write, highWaterMark: plan.opts.session?.streamHighWaterMark ?? 1024 * 1024 });
}

/** Runs the command over a WebSocket. */
export async function runOverWebSocket(plan: Plan): Promise<ExecResult> {
  const { opts } = plan;
  const { ws, mux } = await open(plan);
  const protocol = ws.protocol;
  const version = mux.version;
  log('WebSocket open: %s', protocol);

  return new Promise<ExecResult>((resolve, reject) => {
    let failure: Error | undefined;
    const stop = (err: Error): void => {
      failure ??= err;
      ws.terminate();
    };
    // Liveness: a ping every period; no message or pong within the deadline ends the session.
    const interval = opts.pingInterval ?? DEFAULT_WEBSOCKET_PING_INTERVAL;
    const deadline = opts.pingTimeout ?? DEFAULT_WEBSOCKET_PING_TIMEOUT;
    let lastHeard = Date.now();
    const heard = (): void => {
      lastHeard = Date.now();
    };
    ws.on('pong', heard);
    ws.on('message', heard);
    const pinger =
      interval > 0
        ? setInterval(() => {
            if (deadline > 0 && Date.now() - lastHeard > deadline) return stop(new LivenessError(`no WebSocket message or pong for ${deadline} ms`));
            if (ws.readyState === WebSocket.OPEN) ws.ping();
          }, interval)
        : undefined;
    pinger?.unref();
    const onAbort = (): void => stop(new AbortError('exec aborted', { cause: opts.signal?.reason }));
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    const waits: Promise<unknown>[] = [];
    if (plan.stdout) waits.push(pipeOut(mux.readable(Channel.STDOUT), opts.stdout!));
    if (plan.stderr) waits.push(pipeOut(mux.readable(Channel.STDERR), opts.stderr!));
    const errorText = collect(mux.readable(Channel.ERROR), plan.maxErrorStream);
    const unpipeStdin = plan.stdin ? pipeIn(opts.stdin!, mux.writable(Channel.STDIN)) : undefined;
    if (plan.tty && version >= 3) {
      const w = mux.writable(Channel.RESIZE);
      w.on('error', () => {});
      plan.resizer.attach((json) => w.write(json));
    }
    let closeCode = 0;
    mux.once('close', (code) => {
      closeCode = code;
    });

    void Promise.all([errorText, ...waits]).then(
      ([text]) => {
        clearInterval(pinger);
        opts.signal?.removeEventListener('abort', onAbort);
        plan.resizer.detach();
        unpipeStdin?.();
        if (failure) return reject(failure);
        try {
          const data = text as Buffer;
          if (data.length === 0 && closeCode !== 1000 && closeCode !== 1005) {
            return reject(new ClosedError(`WebSocket closed with code ${closeCode} before the command's status arrived`));
          }
          resolve({ exitCode: decodeErrorStream(data, version >= 4), protocol, transport: 'websocket' });
        } catch (err) {
          reject(err);
        }
      },
      (err: Error) => {
        clearInterval(pinger);
        opts.signal?.removeEventListener('abort', onAbort);
        plan.resizer.detach();
        unpipeStdin?.();
        ws.terminate();
        reject(failure ?? (err instanceof RemoteCommandError ? err : new RemoteCommandError(err.message, undefined, { cause: err })));
      },
    );
  });
}
