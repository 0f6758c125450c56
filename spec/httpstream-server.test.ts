import t, { type Test } from 'tap';
import * as http from 'node:http';
import * as net from 'node:net';
import { Duplex, PassThrough } from 'node:stream';
import {
  createUpgradeHandler,
  negotiateProtocol,
  parseStatus,
  rejectNonUpgradeRequest,
  splitHeaderValues,
  statusJson,
  writeHttpError,
} from '../lib/httpstream/index.js';
import { InvalidArgumentError } from '../lib/errors.js';

type Upgraded = { socket: Duplex; protocol: string; req: http.IncomingMessage };

/** An http server on 127.0.0.1:0 whose 'upgrade' uses createUpgradeHandler; upgrades are queued in `upgrades`. */
async function serve(tt: Test, protocols: string[]): Promise<{ port: number; upgrades: Upgraded[] }> {
  const upgrades: Upgraded[] = [];
  const server = http.createServer(rejectNonUpgradeRequest);
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('upgrade', createUpgradeHandler({
    protocols,
    onUpgrade(socket, protocol, req) {
      socket.on('error', () => {});
      upgrades.push({ socket, protocol, req });
    },
  }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  tt.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: (server.address() as net.AddressInfo).port, upgrades };
}

interface RawResponse { status: number; lines: string[]; body: string; rest: Buffer; closed: boolean }

/**
 * Sends `request` on a raw TCP connection and collects the answer: until the peer closes, or (for a
 * 101) until the header block and `wait` ms more have passed.
 */
function raw(port: number, request: string | Buffer, wait = 100): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    let timer: NodeJS.Timeout | undefined;
    const finish = (closed: boolean): void => {
      clearTimeout(timer);
      const end = data.indexOf('\r\n\r\n');
      const headText = data.subarray(0, end).toString('latin1');
      const [statusLine = '', ...lines] = headText.split('\r\n');
      const rest = data.subarray(end + 4);
      sock.destroy();
      resolve({ status: Number(statusLine.split(' ')[1]), lines, body: rest.toString('utf8'), rest, closed });
    };
    sock.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      if (timer === undefined && data.indexOf('\r\n\r\n') >= 0) timer = setTimeout(() => finish(false), wait);
    });
    sock.on('end', () => finish(true));
    sock.on('error', reject);
    sock.write(request);
  });
}

const req = (headers: string, path = '/portforward'): string => `POST ${path} HTTP/1.1\r\nHost: x\r\n${headers}\r\n`;
const SPDY = 'Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n';

t.test('101: exact response, client preference wins, nothing written after it', async (tt) => {
  const { port, upgrades } = await serve(tt, ['v4.channel.k8s.io', 'portforward.k8s.io']);
  const res = await raw(port, req(`${SPDY}X-Stream-Protocol-Version: portforward.k8s.io, v4.channel.k8s.io\r\n`));
  tt.equal(res.status, 101);
  tt.same(res.lines, ['Connection: Upgrade', 'Upgrade: SPDY/3.1', 'X-Stream-Protocol-Version: portforward.k8s.io']);
  tt.equal(res.rest.length, 0, 'the server does not speak first');
  tt.equal(res.closed, false);
  tt.equal(upgrades.length, 1);
  tt.equal(upgrades[0]?.protocol, 'portforward.k8s.io', 'first of the client\'s list the server supports');
});

t.test('101: protocol lines are split on commas; case-insensitive upgrade headers', async (tt) => {
  const { port, upgrades } = await serve(tt, ['b']);
  const res = await raw(port, req('connection: keep-alive, UPGRADE\r\nupgrade: spdy/3.1\r\nX-Stream-Protocol-Version: a\r\nX-Stream-Protocol-Version: c , b\r\n'));
  tt.equal(res.status, 101);
  tt.equal(upgrades[0]?.protocol, 'b');
});

t.test('bytes the client sends right after its request reach onUpgrade intact', async (tt) => {
  const { port, upgrades } = await serve(tt, ['portforward.k8s.io']);
  const frame = Buffer.from([0x80, 0x03, 0x00, 0x01, 0x01, 0x00, 0x00, 0x0a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  const sock = net.connect(port, '127.0.0.1');
  tt.teardown(() => void sock.destroy());
  sock.on('error', () => {});
  sock.write(Buffer.concat([Buffer.from(req(`${SPDY}X-Stream-Protocol-Version: portforward.k8s.io\r\n`), 'latin1'), frame]));
  while (upgrades.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  const server = upgrades[0]!.socket;
  const got = await new Promise<Buffer>((resolve) => {
    let acc = Buffer.alloc(0);
    server.on('data', (chunk: Buffer) => {
      acc = Buffer.concat([acc, chunk]);
      if (acc.length >= frame.length) resolve(acc);
    });
  });
  tt.ok(got.equals(frame), 'head unshifted onto the socket');
  tt.equal((server as net.Socket).listenerCount('data'), 1, 'only our data listener');
});

t.test('403: missing version header, one accepted-versions line per protocol, Status body', async (tt) => {
  const { port, upgrades } = await serve(tt, ['portforward.k8s.io', 'v2']);
  for (const [headers, message] of [
    [SPDY, 'unable to upgrade: X-Stream-Protocol-Version is required'],
    [`${SPDY}X-Stream-Protocol-Version: v9, v8\r\n`,
      'unable to upgrade: unable to negotiate protocol: client supports [v9 v8], server accepts [portforward.k8s.io v2]'],
  ] as const) {
    const res = await raw(port, req(headers));
    tt.equal(res.status, 403);
    tt.same(res.lines.filter((l) => l.startsWith('X-Accepted-Stream-Protocol-Versions:')), [
      'X-Accepted-Stream-Protocol-Versions: portforward.k8s.io',
      'X-Accepted-Stream-Protocol-Versions: v2',
    ]);
    tt.ok(res.lines.includes('Content-Type: application/json'));
    tt.ok(res.lines.includes('Connection: close'));
    tt.ok(res.lines.includes(`Content-Length: ${Buffer.byteLength(res.body)}`), 'Content-Length matches');
    tt.same(JSON.parse(res.body), {
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: 'Forbidden', code: 403,
    });
    tt.equal(res.closed, true, 'the server closes the connection');
  }
  tt.equal(upgrades.length, 0);
});

t.test('400: upgrade headers missing or not SPDY/3.1', async (tt) => {
  const { port, upgrades } = await serve(tt, ['portforward.k8s.io']);
  const body = 'unable to upgrade: missing upgrade headers in request\n';
  // A WebSocket upgrade reaches 'upgrade' (protocol negotiated first, as the kubelet does).
  const ws = await raw(port, req('Connection: Upgrade\r\nUpgrade: websocket\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\n'));
  tt.equal(ws.status, 400);
  tt.equal(ws.body, body);
  tt.ok(ws.lines.includes('Content-Type: text/plain; charset=utf-8'));
  tt.equal(ws.closed, true);
  // No Upgrade header at all: Node routes it to 'request', answered by rejectNonUpgradeRequest.
  const plain = await raw(port, req('X-Stream-Protocol-Version: portforward.k8s.io\r\nAuthorization: Bearer s3cret\r\n'));
  tt.equal(plain.status, 400);
  tt.equal(plain.body, body);
  tt.notMatch(plain.body, /s3cret/, 'request headers are not echoed');
  tt.equal(upgrades.length, 0);
});

t.test('writeHttpError: complete response, extra headers, no header injection', async (tt) => {
  const chunks: Buffer[] = [];
  let ended!: () => void;
  const done = new Promise<void>((resolve) => (ended = resolve));
  const sink = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) { chunks.push(chunk); cb(); },
    final(cb) { ended(); cb(); },
  });
  writeHttpError(sink, 500, 'oops', { 'X-A': ['1', '2'] });
  await done;
  tt.equal(Buffer.concat(chunks).toString(),
    'HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n' +
    'Content-Length: 5\r\nConnection: close\r\nX-A: 1\r\nX-A: 2\r\n\r\noops\n');
  sink.destroy();
  tt.throws(() => writeHttpError(new PassThrough(), 400, 'x', { 'X-B': 'a\r\nSet-Cookie: y' }), InvalidArgumentError);
  tt.throws(() => writeHttpError(new PassThrough(), 400, 'x', { 'Bad Name': 'v' }), InvalidArgumentError);
});

t.test('helpers: negotiateProtocol, splitHeaderValues, statusJson, parseStatus', async (tt) => {
  tt.equal(negotiateProtocol(['c', 'b', 'a'], ['a', 'b']), 'b', 'client order wins');
  tt.equal(negotiateProtocol(['x'], ['a']), '');
  tt.equal(negotiateProtocol(['A'], ['a']), '', 'exact comparison');
  tt.same(splitHeaderValues([' a, b ,,', 'c']), ['a', 'b', 'c']);
  tt.same(splitHeaderValues(undefined), []);
  tt.same(statusJson(500, '', 'm'), { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'm', reason: 'InternalError', code: 500 });
  tt.equal(statusJson(418, 'Teapot', 'm').reason, 'Teapot');
  tt.equal(parseStatus('{"kind":"Status","message":"no","code":403}')?.message, 'no');
  tt.equal(parseStatus('{"message":"no"}'), undefined, 'kind Status required');
  tt.equal(parseStatus('not json'), undefined);
  tt.equal(parseStatus('[1]'), undefined);
  tt.throws(() => createUpgradeHandler({ protocols: [], onUpgrade: () => {} }), InvalidArgumentError);
});
