// The remotecommand client (exec/attach) against the remotecommand server, both transports: exit codes,
// stderr apart, failures as Status messages, WebSocket → SPDY fallback only on an upgrade failure, older
// protocol versions, TTY resizes, attach, and the error-stream codec. Loopback only, port 0.
import t from 'tap';
import http from 'node:http';
import net from 'node:net';
import { PassThrough, Readable, Writable } from 'node:stream';
import { writeHttpError } from '../lib/httpstream/server.js';
import { exec, attach } from '../lib/remotecommand/client.js';
import { createRemoteCommandServer, parseRemoteCommandRequest, type RemoteCommandHandler, type RemoteCommandServerOptions, type TerminalSize } from '../lib/remotecommand/server.js';
import { decodeErrorStream, encodeErrorStream, exitCodeStatus, internalErrorStatus, RemoteCommandError, successStatus } from '../lib/remotecommand/status.js';
import { startFakeApiServer } from '../lib/fake-apiserver/index.js';
import { UpgradeError } from '../lib/errors.js';

const TRANSPORTS = ['websocket', 'spdy'] as const;

/** Collects what is written into it. */
export function sink(): Writable & { text(): string; bytes(): Buffer } {
  const chunks: Buffer[] = [];
  const w = new Writable({
    write(c: Buffer, _e, cb) {
      chunks.push(c);
      cb();
    },
  });
  return Object.assign(w, { text: () => Buffer.concat(chunks).toString(), bytes: () => Buffer.concat(chunks) });
}

/** An HTTP server whose exec/attach upgrades go to a remotecommand server with `handler`. */
async function serve(
  handler: RemoteCommandHandler,
  extra: Partial<RemoteCommandServerOptions> & { refuseWebSocket?: boolean } = {},
): Promise<{ url: string; sessions: string[]; close(): Promise<void> }> {
  const sessions: string[] = [];
  const rc = createRemoteCommandServer({ handler, ...extra, onSession: (s) => sessions.push(`${s.transport} ${s.protocol}`) });
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url!, 'http://x');
    const kind = url.pathname.endsWith('/attach') ? 'attach' : 'exec';
    if (extra.refuseWebSocket && /websocket/i.test(String(req.headers.upgrade))) return writeHttpError(socket, 403, 'websocket refused');
    const r = parseRemoteCommandRequest(kind, url.searchParams);
    if ('error' in r) return writeHttpError(socket, 400, r.error);
    rc.handleUpgrade(req, socket, head, r);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    sessions,
    close: () =>
      new Promise((r) => {
        rc.close();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const target = { namespace: 'default', pod: 'web' };

t.test('error stream codec', async (t) => {
  t.equal(decodeErrorStream(Buffer.alloc(0), true), 0, 'empty: 0');
  t.equal(decodeErrorStream(encodeErrorStream(successStatus(), 5), true), 0);
  t.equal(encodeErrorStream(successStatus(), 5).toString(), '{"metadata":{},"status":"Success"}');
  t.equal(decodeErrorStream(encodeErrorStream(exitCodeStatus(3, ['sh']), 4), true), 3);
  t.equal(decodeErrorStream(Buffer.from('{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"255"}]}}'), true), 255);
  t.throws(() => decodeErrorStream(Buffer.from('{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"256"}]}}'), true), /invalid exit code/);
  t.throws(() => decodeErrorStream(encodeErrorStream(internalErrorStatus('boom'), 5), true), { message: 'Internal error occurred: error executing command in container: boom' });
  t.throws(() => decodeErrorStream(Buffer.from('not json'), true), RemoteCommandError);
  t.equal(encodeErrorStream(successStatus(), 2).length, 0, 'v1–v3: nothing on success');
  t.throws(() => decodeErrorStream(encodeErrorStream(exitCodeStatus(3, ['x']), 3), false), /command terminated with non-zero exit code/);
});

t.test('request parsing follows the API server', async (t) => {
  const q = (s: string) => new URLSearchParams(s);
  t.same(parseRemoteCommandRequest('exec', q('command=ls&command=-l&stdout=true&stderr=1&tty=false')), {
    kind: 'exec', command: ['ls', '-l'], container: '', stdin: false, stdout: true, stderr: true, tty: false,
  });
  t.same(parseRemoteCommandRequest('exec', q('command=sh&stdin=true&stdout=true&stderr=true&tty=true&container=main')), {
    kind: 'exec', command: ['sh'], container: 'main', stdin: true, stdout: true, stderr: false, tty: true,
  }, 'tty merges stderr');
  t.same(parseRemoteCommandRequest('exec', q('command=ls')), { error: 'you must specify at least 1 of stdin, stdout, stderr' });
  t.same(parseRemoteCommandRequest('exec', q('stdout=true')), { error: 'you must specify at least one command for the container' });
  t.same(parseRemoteCommandRequest('exec', q('command=ls&stdout=yes')), { error: 'invalid value for stdout: "yes"' });
  t.same(parseRemoteCommandRequest('attach', q('stdin=true')), { kind: 'attach', command: [], container: '', stdin: true, stdout: false, stderr: false, tty: false });
});

t.test('exec through the fake API server: exit codes, stderr apart, missing command', async (t) => {
  const api = await startFakeApiServer({ pods: [{ namespace: 'default', name: 'web' }], exec: true });
  t.teardown(() => api.close());
  for (const transport of TRANSPORTS) {
    t.test(transport, async (t) => {
      const out = sink();
      const err = sink();
      const r = await exec({ server: api.url, ...target, command: ['sh', '-c', 'cat; echo oops >&2; exit 3'], stdin: Readable.from([Buffer.from('hello '), Buffer.from('world')]), stdout: out, stderr: err, transport });
      t.same(r, { exitCode: 3, protocol: 'v5.channel.k8s.io', transport });
      t.equal(out.text(), 'hello world');
      t.equal(err.text(), 'oops\n');
      const ok = await exec({ server: api.url, ...target, command: ['true'], stdout: sink(), transport });
      t.equal(ok.exitCode, 0);
      await t.rejects(exec({ server: api.url, ...target, command: ['no-such-command-kube-spdy'], stdout: sink(), transport }), {
        code: 'ERR_REMOTECOMMAND',
        message: /^Internal error occurred: error executing command in container: .*executable file not found in \$PATH/,
      });
      await t.rejects(exec({ server: api.url, namespace: 'default', pod: 'nope', command: ['true'], stdout: sink(), transport }), { code: 'ERR_UPGRADE', statusCode: 404 });
    });
  }
});

t.test('WebSocket first; SPDY only when the WebSocket upgrade is refused', async (t) => {
  const handler: RemoteCommandHandler = async (s) => {
    s.stdout!.end('hi');
    return 0;
  };
  const refusing = await serve(handler, { refuseWebSocket: true });
  t.teardown(() => refusing.close());
  const out = sink();
  const r = await exec({ server: refusing.url, ...target, command: ['x'], stdout: out });
  t.equal(r.transport, 'spdy', 'fell back to SPDY after a 403');
  t.equal(out.text(), 'hi');
  t.same(refusing.sessions, ['spdy v5.channel.k8s.io']);
  await t.rejects(exec({ server: refusing.url, ...target, command: ['x'], stdout: sink(), transport: 'websocket' }), { code: 'ERR_UPGRADE', statusCode: 403 }, 'websocket only: no fallback');

  const normal = await serve(handler);
  t.teardown(() => normal.close());
  t.equal((await exec({ server: normal.url, ...target, command: ['x'], stdout: sink() })).transport, 'websocket');

  // A network error is not an upgrade failure: no fallback.
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as net.AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const err = await exec({ server: `http://127.0.0.1:${port}`, ...target, command: ['x'], stdout: sink() }).catch((e: unknown) => e);
  t.ok(err instanceof UpgradeError && err.statusCode === 0, 'connection refused: UpgradeError with status 0');
  t.match((err as Error).message, /WebSocket connection to 127\.0\.0\.1:\d+ failed/);
});

t.test('older servers: SPDY v4, v3, v2 and WebSocket v4', async (t) => {
  const handler: RemoteCommandHandler = async (s, req) => {
    s.stdout!.write(req.command.join(' '));
    return req.command[0] === 'fail' ? 3 : 0;
  };
  for (const [transport, protocols, version] of [
    ['spdy', ['v4.channel.k8s.io'], 4],
    ['spdy', ['v3.channel.k8s.io'], 3],
    ['spdy', ['v2.channel.k8s.io'], 2],
    ['websocket', ['v4.channel.k8s.io'], 4],
  ] as const) {
    const srv = await serve(handler, transport === 'spdy' ? { spdyProtocols: [...protocols] } : { websocketProtocols: [...protocols] });
    const out = sink();
    const ok = await exec({ server: srv.url, ...target, command: ['ok', 'go'], stdout: out, transport });
    t.same(ok, { exitCode: 0, protocol: protocols[0], transport }, `${transport} ${protocols[0]}: success`);
    t.equal(out.text(), 'ok go');
    if (version >= 4) {
      t.equal((await exec({ server: srv.url, ...target, command: ['fail'], stdout: sink(), transport })).exitCode, 3, `${protocols[0]}: exit code`);
    } else {
      await t.rejects(exec({ server: srv.url, ...target, command: ['fail'], stdout: sink(), transport }), /command terminated with non-zero exit code/, `${protocols[0]}: text error, no exit code`);
    }
    await srv.close();
  }
});

t.test('TTY: stderr merged, resizes arrive in order', async (t) => {
  for (const transport of TRANSPORTS) {
    const sizes: TerminalSize[] = [];
    const srv = await serve(async (s, req) => {
      t.equal(s.stderr, null, 'no stderr stream with a TTY');
      t.ok(req.tty);
      for await (const size of s.resize!) {
        sizes.push(size);
        if (size.width === 0) break;
      }
      s.stdout!.end('bye');
      return 0;
    });
    const out = sink();
    const run = exec({ server: srv.url, ...target, command: ['sh'], stdin: new PassThrough(), stdout: out, stderr: sink(), tty: true, transport });
    run.resize(80, 24); // before the session is up: kept and sent first
    await new Promise((r) => setTimeout(r, 200));
    run.resize(120, 40);
    run.resize(0, 0);
    const r = await run;
    t.equal(r.exitCode, 0);
    t.equal(out.text(), 'bye');
    t.same(sizes, [{ width: 80, height: 24 }, { width: 120, height: 40 }, { width: 0, height: 0 }], `${transport}: sizes`);
    t.throws(() => run.resize(-1, 5), { code: 'ERR_INVALID_ARG' });
    await srv.close();
  }
});

t.test('attach joins the main process', async (t) => {
  const api = await startFakeApiServer({ pods: [{ namespace: 'default', name: 'web' }], exec: { attachCommand: ['sh', '-c', 'read line; echo "got $line"; exit 7'] } });
  t.teardown(() => api.close());
  for (const transport of TRANSPORTS) {
    const out = sink();
    const r = await attach({ server: api.url, ...target, stdin: Readable.from([Buffer.from('abc\n')]), stdout: out, stderr: sink(), transport });
    t.equal(r.exitCode, 7, `${transport}: the main process's exit code`);
    t.equal(out.text(), 'got abc\n');
  }
  t.same(api.execSessions.map((s) => `${s.kind} ${s.transport}`), ['attach websocket', 'attach spdy']);
});

t.test('abort ends the session and the command', async (t) => {
  for (const transport of TRANSPORTS) {
    let seen: AbortSignal | undefined;
    const srv = await serve(
      (s) =>
        new Promise<number>((resolve) => {
          seen = s.signal;
          s.signal.addEventListener('abort', () => resolve(0));
        }),
    );
    const ac = new AbortController();
    const run = exec({ server: srv.url, ...target, command: ['sleep'], stdout: sink(), transport, signal: ac.signal });
    setTimeout(() => ac.abort(), 200);
    await t.rejects(run, { code: 'ERR_ABORTED' }, `${transport}: AbortError`);
    for (let i = 0; i < 50 && !seen?.aborted; i++) await new Promise((r) => setTimeout(r, 20));
    t.ok(seen?.aborted, `${transport}: the server's handler saw the client leave`);
    await srv.close();
  }
});

t.test('bad options are rejected', async (t) => {
  await t.rejects(exec({ server: 'http://127.0.0.1:1', ...target, command: [], stdout: sink() }), { code: 'ERR_INVALID_ARG' });
  await t.rejects(exec({ server: 'http://127.0.0.1:1', ...target, command: ['x'] }), { code: 'ERR_INVALID_ARG', message: /at least one of stdin, stdout and stderr/ });
  await t.rejects(exec({ server: 'ftp://x', ...target, command: ['x'], stdout: sink() }), { code: 'ERR_INVALID_ARG' });
});
