import t, { type Test } from 'tap';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { upgrade, createUpgradeHandler, writeHttpError, statusJson } from '../lib/httpstream/index.js';
import { AbortError, InvalidArgumentError, TimeoutError, UpgradeError } from '../lib/errors.js';

type UpgradeListener = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;

/** Starts an http(s) server on 127.0.0.1:0 with `onUpgrade` as its 'upgrade' listener; torn down with the test. */
async function serve(tt: Test, onUpgrade: UpgradeListener, tls?: https.ServerOptions): Promise<string> {
  const server = tls ? https.createServer(tls) : http.createServer();
  const sockets = new Set<net.Socket>();
  server.on(tls ? 'secureConnection' : 'connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('upgrade', onUpgrade);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  tt.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as net.AddressInfo;
  return `${tls ? 'https' : 'http'}://127.0.0.1:${port}/api/v1/namespaces/ns/pods/p/portforward`;
}

/** An onUpgrade that echoes every byte back (it never speaks first). */
function echo(socket: Duplex): void {
  socket.on('error', () => {});
  socket.pipe(socket);
}

/** Reads from `socket` until `n` bytes have arrived. */
function readBytes(socket: Duplex, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= n) {
        socket.off('data', onData);
        socket.pause();
        resolve(Buffer.concat(chunks));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`closed after ${size} of ${n} bytes`)));
  });
}

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

t.test('101 with protocol negotiation: the client\'s first common protocol wins', async (tt) => {
  const seen: { protocol?: string; lines?: string[]; auth?: string } = {};
  const handler = createUpgradeHandler({
    protocols: ['v4.channel.k8s.io', 'portforward.k8s.io', 'v3.channel.k8s.io'],
    onUpgrade(socket, protocol, req) {
      seen.protocol = protocol;
      seen.lines = req.rawHeaders.filter((_, i) => i % 2 === 1 && /^x-stream-protocol-version$/i.test(req.rawHeaders[i - 1] ?? ''));
      echo(socket);
    },
  });
  const url = await serve(tt, handler);
  const res = await upgrade(url, { protocols: ['v5.channel.k8s.io', 'portforward.k8s.io', 'v4.channel.k8s.io'] });
  tt.teardown(() => void res.socket.destroy());
  tt.equal(res.protocol, 'portforward.k8s.io');
  tt.equal(seen.protocol, 'portforward.k8s.io');
  tt.same(seen.lines, ['v5.channel.k8s.io', 'portforward.k8s.io', 'v4.channel.k8s.io'], 'one header line per offered protocol');
  tt.match(res.headers.upgrade, /^SPDY\/3\.1$/);
  tt.equal(res.socket.listenerCount('data'), 0, 'no data listener left behind');
  tt.equal(res.socket.listenerCount('error'), 0, 'no error listener left behind');
  tt.equal(res.socket.isPaused(), false, 'socket not paused');
  tt.equal((res.socket as net.Socket).readableFlowing, null, 'flows once a consumer attaches');
  res.socket.write('hello spdy');
  tt.equal((await readBytes(res.socket, 10)).toString(), 'hello spdy', 'bytes flow both ways');
});

t.test('403: negotiation failure carries the status and the Status message', async (tt) => {
  const url = await serve(tt, createUpgradeHandler({ protocols: ['a', 'b'], onUpgrade: echo }));
  const err = await failure(upgrade(url, { protocols: ['x', 'y'] }));
  tt.ok(err instanceof UpgradeError);
  const ue = err as UpgradeError;
  tt.equal(ue.statusCode, 403);
  tt.equal(ue.code, 'ERR_UPGRADE');
  tt.equal(ue.serverMessage, 'unable to upgrade: unable to negotiate protocol: client supports [x y], server accepts [a b]');
  tt.equal(ue.message, `upgrade to SPDY/3.1 failed: 403 Forbidden: ${ue.serverMessage}`);
});

t.test('400 from a server that rejects the upgrade headers', async (tt) => {
  // The server answers 400 as UpgradeResponse does when Upgrade is not SPDY/3.1.
  const url = await serve(tt, (_req, socket) => writeHttpError(socket, 400, 'unable to upgrade: missing upgrade headers in request'));
  const ue = (await failure(upgrade(url, { protocols: ['a'] }))) as UpgradeError;
  tt.equal(ue.statusCode, 400);
  tt.equal(ue.serverMessage, 'unable to upgrade: missing upgrade headers in request');
  tt.equal(ue.message, 'upgrade to SPDY/3.1 failed: 400 Bad Request: unable to upgrade: missing upgrade headers in request');
});

t.test('non-101 plain-text body (500) becomes one message line', async (tt) => {
  const url = await serve(tt, (_req, socket) => {
    socket.end('HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 21\r\n\r\nboom\nsecond line\r\n  ');
  });
  const ue = (await failure(upgrade(url, { protocols: ['a'] }))) as UpgradeError;
  tt.equal(ue.statusCode, 500);
  tt.equal(ue.serverMessage, 'boom\nsecond line');
  tt.equal(ue.message, 'upgrade to SPDY/3.1 failed: 500 Internal Server Error: boom second line');
});

t.test('non-101 Status JSON body: its message is used; body read at most 64 KiB', async (tt) => {
  const big = 'x'.repeat(200 * 1024);
  const url = await serve(tt, (req, socket) => {
    if (req.url?.endsWith('/big')) {
      socket.on('error', () => {});
      socket.end(`HTTP/1.1 502 Bad Gateway\r\nContent-Length: ${big.length}\r\n\r\n${big}`);
    } else {
      writeHttpError(socket, 404, statusJson(404, '', 'pods "p" not found'));
    }
  });
  const ue = (await failure(upgrade(url, { protocols: ['a'] }))) as UpgradeError;
  tt.equal(ue.statusCode, 404);
  tt.equal(ue.serverMessage, 'pods "p" not found');
  tt.equal(ue.message, 'upgrade to SPDY/3.1 failed: 404 Not Found: pods "p" not found');
  const big502 = (await failure(upgrade(`${url}/big`, { protocols: ['a'] }))) as UpgradeError;
  tt.equal(big502.statusCode, 502);
  tt.equal(big502.serverMessage.length, 64 * 1024);
  tt.ok(big502.message.length < 700, 'message stays short');
});

t.test('connection refused: statusCode 0 with the cause', async (tt) => {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const ue = (await failure(upgrade(`http://127.0.0.1:${port}/`, { protocols: ['a'] }))) as UpgradeError;
  tt.ok(ue instanceof UpgradeError);
  tt.equal(ue.statusCode, 0);
  tt.equal((ue.cause as NodeJS.ErrnoException).code, 'ECONNREFUSED');
  tt.equal(ue.message, `upgrade to SPDY/3.1 failed: connection to 127.0.0.1:${port} refused`);
});

t.test('timeout: a server that never answers', async (tt) => {
  const url = await serve(tt, () => {});
  const start = Date.now();
  const ue = (await failure(upgrade(url, { protocols: ['a'], timeout: 200 }))) as TimeoutError;
  const elapsed = Date.now() - start;
  tt.ok(ue instanceof TimeoutError, 'a dial timeout is a TimeoutError');
  tt.equal(ue.code, 'ERR_SPDY_TIMEOUT');
  tt.equal(ue.timeout, 200);
  tt.match(ue.message, /no upgrade response from 127\.0\.0\.1:\d+ within 200 ms/);
  tt.ok(elapsed >= 190 && elapsed < 2000, `took ${elapsed} ms`);
});

t.test('abort signal: while waiting, and already aborted', async (tt) => {
  const url = await serve(tt, () => {});
  const ac = new AbortController();
  setTimeout(() => ac.abort(new Error('user gave up')), 50);
  const err = await failure(upgrade(url, { protocols: ['a'], signal: ac.signal }));
  tt.ok(err instanceof AbortError);
  tt.equal((err as AbortError).code, 'ERR_ABORTED');
  tt.equal(((err as AbortError).cause as Error).message, 'user gave up');
  const again = await failure(upgrade(url, { protocols: ['a'], signal: AbortSignal.abort() }));
  tt.ok(again instanceof AbortError, 'pre-aborted signal rejects at once');
});

for (const size of [12, 300 * 1024]) t.test(`${size} bytes written with the 101 in one TCP write reach the client intact`, async (tt) => {
  const payload = Buffer.alloc(size);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + 3) & 0xff;
  payload.writeUInt32BE(0x80030004, 0); // looks like a SPDY/3 SETTINGS control frame header
  const url = await serve(tt, (_req, socket) => {
    socket.on('error', () => {});
    const head = 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n' +
      'X-Stream-Protocol-Version: portforward.k8s.io\r\n\r\n';
    socket.write(Buffer.concat([Buffer.from(head, 'latin1'), payload]));
  });
  const res = await upgrade(url, { protocols: ['portforward.k8s.io'] });
  tt.teardown(() => void res.socket.destroy());
  // Wait a little before reading: the bytes must stay buffered, not be dropped.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const got = await readBytes(res.socket, payload.length);
  tt.equal(got.length, payload.length);
  tt.ok(got.equals(payload), 'every byte, in order');
});

t.test('Authorization and other headers reach the server; upgrade headers cannot be overridden', async (tt) => {
  let seen: http.IncomingHttpHeaders = {};
  let method = '';
  const url = await serve(tt, createUpgradeHandler({
    protocols: ['portforward.k8s.io'],
    onUpgrade(socket, _p, req) {
      seen = req.headers;
      method = req.method ?? '';
      echo(socket);
    },
  }));
  const res = await upgrade(url, {
    protocols: ['portforward.k8s.io'],
    headers: { Authorization: 'Bearer s3cret', 'User-Agent': 'kube-spdy-test', upgrade: 'websocket' },
  });
  res.socket.destroy();
  tt.equal(seen.authorization, 'Bearer s3cret');
  tt.equal(seen['user-agent'], 'kube-spdy-test');
  tt.equal(seen.upgrade, 'SPDY/3.1');
  tt.equal(method, 'POST', 'POST by default');
});

t.test('a 101 that fails the checks is refused with status 101', async (tt) => {
  const answers: Record<string, string> = {
    '/wrong-proto': 'Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: other\r\n',
    '/no-proto': 'Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n',
    '/websocket': 'Connection: Upgrade\r\nUpgrade: websocket\r\nX-Stream-Protocol-Version: a\r\n',
  };
  const base = await serve(tt, (req, socket) => {
    socket.on('error', () => {});
    const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/^.*(?=\/[^/]+$)/, '');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\n${answers[path] ?? ''}\r\n`);
  });
  const wrong = (await failure(upgrade(`${base}/wrong-proto`, { protocols: ['a', 'b'] }))) as UpgradeError;
  tt.equal(wrong.statusCode, 101);
  tt.equal(wrong.message, 'upgrade to SPDY/3.1 failed: unable to negotiate protocol: client supports [a b], server returned "other"');
  const none = (await failure(upgrade(`${base}/no-proto`, { protocols: ['a'] }))) as UpgradeError;
  tt.equal(none.statusCode, 101);
  const ws = (await failure(upgrade(`${base}/websocket`, { protocols: ['a'] }))) as UpgradeError;
  tt.match(ws.message, /without "Upgrade: SPDY\/3\.1"/);
  const legacy = await upgrade(`${base}/no-proto`, { protocols: ['a'], allowEmptyProtocol: true });
  legacy.socket.destroy();
  tt.equal(legacy.protocol, '', 'allowEmptyProtocol accepts a missing header');
});

t.test('invalid arguments', async (tt) => {
  tt.ok((await failure(upgrade('ftp://x/', { protocols: ['a'] }))) instanceof InvalidArgumentError);
  tt.ok((await failure(upgrade('not a url', { protocols: ['a'] }))) instanceof InvalidArgumentError);
  tt.ok((await failure(upgrade('http://127.0.0.1:1/', { protocols: [] }))) instanceof InvalidArgumentError);
  tt.ok((await failure(upgrade('http://127.0.0.1:1/', { protocols: ['a,b'] }))) instanceof InvalidArgumentError);
  tt.ok((await failure(upgrade('http://127.0.0.1:1/', { protocols: ['a'], timeout: -1 }))) instanceof InvalidArgumentError);
});

let openssl = '';
try {
  openssl = execFileSync('which', ['openssl'], { encoding: 'utf8' }).trim();
} catch {
  openssl = '';
}

t.test('https with a self-signed certificate', { skip: openssl === '' ? 'openssl not found on PATH: cannot generate a test certificate' : false }, async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'kube-spdy-tls-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync(openssl, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { stdio: 'ignore' });
  const cert = readFileSync(join(dir, 'cert.pem'));
  const key = readFileSync(join(dir, 'key.pem'));
  const url = await serve(tt, createUpgradeHandler({ protocols: ['portforward.k8s.io'], onUpgrade: echo }), { cert, key });

  const res = await upgrade(url, { protocols: ['portforward.k8s.io'], tls: { ca: cert } });
  tt.teardown(() => void res.socket.destroy());
  tt.equal(res.protocol, 'portforward.k8s.io');
  tt.equal((res.socket as import('node:tls').TLSSocket).encrypted, true, 'a TLS socket');
  res.socket.write('over tls');
  tt.equal((await readBytes(res.socket, 8)).toString(), 'over tls');

  const ue = (await failure(upgrade(url, { protocols: ['portforward.k8s.io'] }))) as UpgradeError;
  tt.equal(ue.statusCode, 0, 'untrusted certificate: no HTTP status');
  tt.match(ue.message, /^upgrade to SPDY\/3\.1 failed: TLS handshake with 127\.0\.0\.1:\d+ failed: /);
  tt.ok(ue.cause instanceof Error);
});
