/// <reference path="./types/spdy-transport.d.ts" />
// Interop with spdy-transport 3.0.0 (the JavaScript SPDY transport), SPDY/3.1 flow control on, in both
// roles: kube-spdy client ↔ spdy-transport server, and spdy-transport client ↔ kube-spdy server.
// kube-spdy runs with `httpPseudoHeaders: true` (spdy-transport wants :method/:path and :status).
//
// Two spdy-transport bugs shape the small-window (4 KiB) setup, both worked around here on its side only:
// - With `windowSize` below 64 KiB it sends a *negative* session WINDOW_UPDATE (its framer writes
//   windowSize - 65536 as a signed 32-bit delta; the wire field is an unsigned 31-bit delta). A conforming
//   peer reads 0x7fff1000 and must fail the session for overflowing 2^31-1 (kube-spdy does: GOAWAY
//   PROTOCOL_ERROR, checked below). Workaround: its session receive window is left at the default 64 KiB.
// - When a stream window is empty it sizes the next chunk as min(window max, maxChunk) and sends all of
//   it as soon as the window turns positive, overrunning the receiver's window by up to max - delta.
//   Workaround: maxChunk = windowSize / 2 for windows under 16 KiB (kube-spdy returns at least half a
//   window per WINDOW_UPDATE); above that, its 8 KiB default chunk is at most half a window.
// Loopback only; every wait is bounded.
import t from 'tap';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import type net from 'node:net';
import type { SpdyConnection, SpdyConnectionOptions, SpdyStream } from 'spdy-transport';
import { Connection } from '../lib/session/connection.js';
import type { ConnectionOptions } from '../lib/session/options.js';
import type { Stream } from '../lib/session/stream.js';
import { GoawayStatus, RstStatus } from '../lib/frames/constants.js';
import { GoawayError, StreamResetError, TimeoutError } from '../lib/errors.js';
import { socketPair } from './helpers.js';

const require = createRequire(import.meta.url);
const transport = require('spdy-transport') as typeof import('spdy-transport');

const KiB = 1024;
const MiB = 1024 * KiB;
const WINDOWS = [4 * KiB, 64 * KiB, MiB, 16 * MiB];
const ECHO_SIZE = 64 * MiB;

const echoData = crypto.randomBytes(ECHO_SIZE);
const echoHash = crypto.createHash('sha256').update(echoData).digest('hex');

type Role = 'kube-client' | 'kube-server';

/** A spdy-transport connection with the workarounds described at the top. */
function createPeer(socket: net.Socket, isServer: boolean, windowSize: number): SpdyConnection {
  const opts: SpdyConnectionOptions = { protocol: 'spdy', isServer, autoSpdy31: isServer, windowSize };
  if (windowSize < 16 * KiB) opts.maxChunk = windowSize / 2;
  const conn = transport.connection.create(socket, opts);
  // Negative session WINDOW_UPDATE otherwise (see the top of the file).
  if (windowSize < 64 * KiB) conn._spdyState.window.recv.current = windowSize;
  conn.on('error', () => {});
  if (!isServer) conn.start(3.1);
  return conn;
}

interface Setup {
  kube: Connection;
  peer: SpdyConnection;
  kubeSocket: net.Socket;
  peerSocket: net.Socket;
  done: () => void;
}

async function setup(role: Role, windowSize = 64 * KiB, kubeOpts: Partial<ConnectionOptions> = {}, peerWindow = windowSize): Promise<Setup> {
  const [a, b] = await socketPair();
  a.setNoDelay(true);
  b.setNoDelay(true);
  const kubeSocket = role === 'kube-client' ? a : b;
  const peerSocket = role === 'kube-client' ? b : a;
  const kube = new Connection(kubeSocket, {
    role: role === 'kube-client' ? 'client' : 'server',
    flowControl: true,
    initialWindowSize: windowSize,
    httpPseudoHeaders: true,
    ...kubeOpts,
  });
  kube.on('error', () => {});
  const peer = createPeer(peerSocket, role === 'kube-client', peerWindow);
  return {
    kube,
    peer,
    kubeSocket,
    peerSocket,
    done: () => {
      kube.destroy();
      a.destroy();
      b.destroy();
    },
  };
}

function peerEchoServer(peer: SpdyConnection): void {
  peer.on('stream', (s: SpdyStream) => {
    s.on('error', () => {});
    s.respond(200, {});
    s.pipe(s);
  });
}

function kubeEchoServer(kube: Connection): void {
  kube.on('stream', (s: Stream) => {
    s.on('error', () => {});
    s.reply({});
    s.pipe(s);
  });
}

interface EchoResult {
  bytes: number;
  sha256: string;
  ms: number;
}

function hashReadable(s: NodeJS.ReadableStream, start: number): Promise<EchoResult> {
  return new Promise((resolve, reject) => {
    const h = crypto.createHash('sha256');
    let bytes = 0;
    s.on('data', (d: Buffer) => {
      h.update(d);
      bytes += d.length;
    });
    s.once('end', () => resolve({ bytes, sha256: h.digest('hex'), ms: performance.now() - start }));
    s.once('error', reject);
  });
}

/** kube-spdy opens a stream, writes `data`, reads the echo. */
async function kubeEcho(kube: Connection, data: Buffer, headers: Record<string, string> = { ':method': 'POST', ':path': '/echo' }): Promise<EchoResult> {
  const start = performance.now();
  const s = await kube.createStream(headers, { timeout: 5000 });
  const got = hashReadable(s, start);
  s.end(data);
  return got;
}

/** spdy-transport opens a stream (request), writes `data`, reads the echo. */
async function peerEcho(peer: SpdyConnection, data: Buffer): Promise<EchoResult> {
  const start = performance.now();
  const s = peer.request({ method: 'POST', path: '/echo', headers: {} });
  const got = hashReadable(s, start);
  s.end(data);
  return got;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
    }),
  ]);
}

const once = <T = unknown>(e: NodeJS.EventEmitter | { once(ev: string, f: (...a: any[]) => void): unknown }, ev: string): Promise<T> =>
  new Promise((r) => (e as NodeJS.EventEmitter).once(ev, (...a: unknown[]) => r(a[0] as T)));

/** Why a kube-spdy stream closed (its closeError), once it has; works when it already closed. */
async function closeReason(s: Stream): Promise<Error | null> {
  if (!s.destroyed) await once(s, 'close');
  return s.closeError;
}

const mbps = (bytes: number, ms: number): number => bytes / 1e6 / (ms / 1000);
const figures: string[] = [];
/** Echo MB/s by pairing and window, for the table printed at the end. */
// Echo rates are printed as a comment only: speed is judged in bench/ (`kube-spdy bench throughput` has the
// spdy-transport baseline), not here.
const rates = { kubeClient: new Map<number, number>(), kubeServer: new Map<number, number>() };

// ---------------------------------------------------------------------------------------------------
t.test('kube-spdy client ↔ spdy-transport server', async (t) => {
  t.test('pseudo-headers: spdy-transport accepts the SYN_STREAM and kube-spdy sees :status', async (t) => {
    const { kube, peer, done } = await setup('kube-client');
    t.teardown(done);
    const seen: SpdyStream[] = [];
    peer.on('stream', (s: SpdyStream) => {
      seen.push(s);
      s.on('error', () => {});
      s.respond(200, { served: 'yes' });
      s.end();
      s.resume();
    });
    const s1 = await kube.createStream({ extra: 'x' }, { timeout: 2000 });
    t.match(seen[0], { method: 'GET', path: '/' }, 'defaults filled in');
    t.match(seen[0]!.headers, { ':scheme': 'https', ':authority': 'localhost', extra: 'x' });
    t.match(s1.headers, { ':method': 'GET', ':path': '/', ':version': 'HTTP/1.1', ':host': 'localhost', ':scheme': 'https', extra: 'x' });
    t.match(s1.replyHeaders, { ':status': '200 OK', served: 'yes' });
    s1.end();
    const s2 = await kube.createStream({ ':method': 'PUT', ':path': '/p' }, { timeout: 2000 });
    t.match(seen[1], { method: 'PUT', path: '/p' }, 'given values are kept');
    s2.end();
  });

  t.test('without httpPseudoHeaders spdy-transport rejects the SYN_STREAM', async (t) => {
    const { kube, peer, done } = await setup('kube-client', 64 * KiB, { httpPseudoHeaders: false });
    t.teardown(done);
    const peerError = once<Error>(peer, 'error');
    peer.on('stream', () => t.fail('no stream expected'));
    const err = await kube.createStream({}, { timeout: 300 }).catch((e) => e);
    t.ok(err instanceof TimeoutError, 'no SYN_REPLY');
    t.match((await peerError).message, /:method/);
  });

  for (const w of WINDOWS) {
    t.test(`echo 64 MiB byte-exact, windows ${w / KiB} KiB`, { timeout: 30000 }, async (t) => {
      const { kube, peer, done } = await setup('kube-client', w);
      t.teardown(done);
      peerEchoServer(peer);
      const r = await kubeEcho(kube, echoData);
      t.equal(r.bytes, ECHO_SIZE);
      t.equal(r.sha256, echoHash, 'sha256 matches');
      rates.kubeClient.set(w, mbps(ECHO_SIZE, r.ms));
      t.equal(kube.openStreams, 0);
    });
  }

  t.test('PING both ways', async (t) => {
    const { kube, peer, done } = await setup('kube-client');
    t.teardown(done);
    peerEchoServer(peer);
    await kubeEcho(kube, Buffer.from('hi')); // the peer learns the version
    const rtt = await kube.ping({ timeout: 2000 });
    t.ok(rtt >= 0 && rtt < 2000, `kube-spdy → spdy-transport rtt ${rtt.toFixed(2)} ms`);
    const pinged = once<number>(kube, 'ping');
    await withTimeout(new Promise<void>((res, rej) => peer.ping((err) => (err ? rej(err) : res()))), 2000, 'spdy-transport ping');
    t.equal((await pinged) % 2, 0, 'server ping ids are even');
  });

  t.test('RST_STREAM both ways', async (t) => {
    const { kube, peer, done } = await setup('kube-client');
    t.teardown(done);
    const peerStreams: SpdyStream[] = [];
    peer.on('stream', (s: SpdyStream) => {
      s.on('error', () => {});
      if (s.path === '/refuse') return s.abort('REFUSED_STREAM');
      peerStreams.push(s);
      // spdy-transport compresses headers asynchronously: abort once the SYN_REPLY is queued, or the
      // RST_STREAM overtakes it.
      s.respond(200, {}, () => {
        if (s.path === '/abort') setImmediate(() => s.abort('INTERNAL_ERROR'));
      });
      if (s.path !== '/abort') s.pipe(s);
    });
    // kube-spdy resets: spdy-transport reports the status.
    const s1 = await kube.createStream({ ':path': '/stay' }, { timeout: 2000 });
    const p1 = peerStreams[0]!;
    const p1err = once<Error>(p1, 'error');
    const p1closed = once(p1, 'close');
    s1.reset(RstStatus.INTERNAL_ERROR);
    t.match((await withTimeout(p1err, 2000, 'peer error')).message, /Got RST: INTERNAL_ERROR/);
    await withTimeout(p1closed, 2000, 'peer close');
    // spdy-transport refuses before replying: createStream rejects, retryable.
    const err = await kube.createStream({ ':path': '/refuse' }, { timeout: 2000 }).catch((e) => e);
    t.ok(err instanceof StreamResetError, 'StreamResetError');
    t.equal(err.status, RstStatus.REFUSED_STREAM);
    t.equal(err.retryable, true);
    // spdy-transport aborts after replying: the kube-spdy stream fails with the status.
    const s3 = await kube.createStream({ ':path': '/abort' }, { timeout: 2000 });
    const e3 = await withTimeout(closeReason(s3), 2000, 'stream close');
    t.ok(e3 instanceof StreamResetError);
    t.equal((e3 as StreamResetError).status, RstStatus.INTERNAL_ERROR);
    // The connection is still fine.
    const r = await kubeEcho(kube, Buffer.from('still here'));
    t.equal(r.bytes, 10);
    t.equal(kube.openStreams, 0);
  });

  t.test('GOAWAY from spdy-transport (end)', async (t) => {
    const { kube, peer, done } = await setup('kube-client');
    t.teardown(done);
    peerEchoServer(peer);
    await kubeEcho(kube, Buffer.from('one'));
    const goaway = once<{ lastGoodStreamId: number; status: number }>(kube, 'goaway');
    const closed = once<Error | undefined>(kube, 'close');
    peer.end();
    t.same(await withTimeout(goaway, 2000, 'goaway'), { lastGoodStreamId: 1, status: GoawayStatus.OK });
    const err = await kube.createStream({}).catch((e) => e);
    t.ok(err instanceof GoawayError || kube.isClosed, 'no new streams after GOAWAY');
    t.equal(await withTimeout(closed, 2000, 'close'), undefined, 'closed without error');
  });

  t.test('GOAWAY from kube-spdy (close)', async (t) => {
    const { kube, peer, done } = await setup('kube-client');
    t.teardown(done);
    peerEchoServer(peer);
    const frames: { type: string; lastId?: number; code?: string }[] = [];
    peer.on('frame', (f: { type: string }) => frames.push(f));
    await kubeEcho(kube, Buffer.from('one'));
    const peerClosed = once(peer, 'close');
    await withTimeout(kube.close({ timeout: 2000 }), 3000, 'close');
    await withTimeout(peerClosed, 2000, 'peer close');
    t.match(frames.find((f) => f.type === 'GOAWAY'), { lastId: 0, code: 'OK' }, 'spdy-transport got GOAWAY OK');
    t.ok(kube.isClosed);
  });

  t.test('200 streams in parallel echo 4 KiB each', { timeout: 20000 }, async (t) => {
    const { kube, peer, done } = await setup('kube-client');
    t.teardown(done);
    peerEchoServer(peer);
    const start = performance.now();
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const data = crypto.randomBytes(4096);
        const r = await kubeEcho(kube, data, { ':method': 'POST', ':path': `/s${i}` });
        return r.bytes === 4096 && r.sha256 === crypto.createHash('sha256').update(data).digest('hex');
      }),
    );
    t.equal(results.filter(Boolean).length, 200, 'all 200 echoed byte-exact');
    figures.push(`kube-spdy client → spdy-transport server, 200 parallel 4 KiB echoes: ${(performance.now() - start).toFixed(0)} ms`);
    t.equal(kube.openStreams, 0);
  });
});

// ---------------------------------------------------------------------------------------------------
t.test('spdy-transport client ↔ kube-spdy server', async (t) => {
  t.test('pseudo-headers: spdy-transport gets :status 200', async (t) => {
    const { kube, peer, done } = await setup('kube-server');
    t.teardown(done);
    const seen: Stream[] = [];
    kube.on('stream', (s) => {
      seen.push(s);
      s.reply({ served: 'yes' });
      s.end();
      s.resume();
    });
    const req = peer.request({ method: 'POST', path: '/p', headers: { extra: 'x' } });
    req.on('error', () => {});
    const [status, headers] = await withTimeout(
      new Promise<[number, Record<string, string>]>((r) => req.on('response', (st: number, h: Record<string, string>) => r([st, h]))),
      2000,
      'response',
    );
    t.equal(status, 200);
    t.equal(headers.served, 'yes');
    t.match(seen[0]!.headers, { ':method': 'POST', ':path': '/p', extra: 'x' });
    t.match(seen[0]!.replyHeaders, { ':status': '200', ':version': 'HTTP/1.1', served: 'yes' });
    req.end();
    req.resume();
  });

  t.test('without httpPseudoHeaders spdy-transport resets the stream (no :status)', async (t) => {
    const { kube, peer, done } = await setup('kube-server', 64 * KiB, { httpPseudoHeaders: false });
    t.teardown(done);
    const got = new Promise<Stream>((r) =>
      kube.on('stream', (s) => {
        s.on('error', () => {});
        s.reply({});
        r(s);
      }),
    );
    const req = peer.request({ method: 'POST', path: '/p', headers: {} });
    req.on('error', () => {});
    const s = await withTimeout(got, 2000, 'stream');
    await withTimeout(once(s, 'close'), 2000, 'stream close');
    t.ok(s.closeError instanceof StreamResetError);
    t.equal((s.closeError as StreamResetError).status, RstStatus.PROTOCOL_ERROR);
  });

  for (const w of WINDOWS) {
    t.test(`echo 64 MiB byte-exact, windows ${w / KiB} KiB`, { timeout: 30000 }, async (t) => {
      const { kube, peer, done } = await setup('kube-server', w);
      t.teardown(done);
      kubeEchoServer(kube);
      const r = await peerEcho(peer, echoData);
      t.equal(r.bytes, ECHO_SIZE);
      t.equal(r.sha256, echoHash, 'sha256 matches');
      rates.kubeServer.set(w, mbps(ECHO_SIZE, r.ms));
    });
  }

  t.test('PING both ways', async (t) => {
    const { kube, peer, done } = await setup('kube-server');
    t.teardown(done);
    kubeEchoServer(kube);
    await peerEcho(peer, Buffer.from('hi'));
    const pinged = once<number>(kube, 'ping');
    await withTimeout(new Promise<void>((res, rej) => peer.ping((err) => (err ? rej(err) : res()))), 2000, 'spdy-transport ping');
    t.equal((await pinged) % 2, 1, 'client ping ids are odd');
    const rtt = await kube.ping({ timeout: 2000 });
    t.ok(rtt >= 0 && rtt < 2000, `kube-spdy → spdy-transport rtt ${rtt.toFixed(2)} ms`);
  });

  t.test('RST_STREAM both ways', async (t) => {
    const { kube, peer, done } = await setup('kube-server');
    t.teardown(done);
    const streams: Stream[] = [];
    kube.on('stream', (s) => {
      s.on('error', () => {});
      streams.push(s);
      s.reply({});
      if (s.headers[':path'] === '/reset') setImmediate(() => s.reset(RstStatus.INTERNAL_ERROR));
      else s.pipe(s);
    });
    // kube-spdy resets: spdy-transport reports the status.
    const r1 = peer.request({ method: 'POST', path: '/reset', headers: {} });
    const r1err = once<Error>(r1, 'error');
    r1.write('x');
    t.match((await withTimeout(r1err, 2000, 'peer error')).message, /Got RST: INTERNAL_ERROR/);
    // spdy-transport aborts with a status: the kube-spdy stream fails with it.
    const r2 = peer.request({ method: 'POST', path: '/abort', headers: {} });
    r2.on('error', () => {});
    await withTimeout(once(r2, 'response'), 2000, 'response');
    const s2 = streams[1]!;
    r2.abort('INTERNAL_ERROR');
    const err = await withTimeout(closeReason(s2), 2000, 'stream close');
    t.ok(err instanceof StreamResetError);
    t.equal((err as StreamResetError).status, RstStatus.INTERNAL_ERROR);
    // spdy-transport cancels: the kube-spdy stream closes quietly.
    const r3 = peer.request({ method: 'POST', path: '/cancel', headers: {} });
    r3.on('error', () => {});
    await withTimeout(once(r3, 'response'), 2000, 'response');
    const s3 = streams[2]!;
    let emitted = false;
    s3.on('error', () => (emitted = true));
    r3.abort();
    const why = await withTimeout(closeReason(s3), 2000, 'close');
    t.equal((why as StreamResetError | null)?.status, RstStatus.CANCEL, 'closeError says CANCEL');
    t.equal(emitted, false, "CANCEL is not an 'error' event");
    // The connection is still fine.
    const r = await peerEcho(peer, Buffer.from('still here'));
    t.equal(r.bytes, 10);
  });

  t.test('GOAWAY from kube-spdy (close) drains the open stream', async (t) => {
    const { kube, peer, done } = await setup('kube-server');
    t.teardown(done);
    kubeEchoServer(kube);
    const frames: { type: string; lastId?: number; code?: string }[] = [];
    peer.on('frame', (f: { type: string }) => frames.push(f));
    const req = peer.request({ method: 'POST', path: '/echo', headers: {} });
    req.on('error', () => {});
    const got = hashReadable(req, performance.now());
    req.write('first ');
    await withTimeout(once(req, 'response'), 2000, 'response');
    const closing = kube.close({ timeout: 5000 });
    await withTimeout(
      new Promise<void>((r) => {
        const check = (f: { type: string }): void => {
          if (f.type === 'GOAWAY') r();
        };
        if (frames.some((f) => f.type === 'GOAWAY')) r();
        else peer.on('frame', check);
      }),
      2000,
      'GOAWAY',
    );
    t.match(frames.find((f) => f.type === 'GOAWAY'), { lastId: 1, code: 'OK' });
    req.end('second');
    const r = await withTimeout(got, 2000, 'drain');
    t.equal(r.sha256, crypto.createHash('sha256').update('first second').digest('hex'), 'the open stream completed');
    await withTimeout(closing, 3000, 'close');
    t.ok(kube.isClosed);
  });

  t.test('GOAWAY from spdy-transport (end)', async (t) => {
    const { kube, peer, done } = await setup('kube-server');
    t.teardown(done);
    kubeEchoServer(kube);
    await peerEcho(peer, Buffer.from('one'));
    const goaway = once<{ lastGoodStreamId: number; status: number }>(kube, 'goaway');
    const closed = once<Error | undefined>(kube, 'close');
    peer.end();
    t.same(await withTimeout(goaway, 2000, 'goaway'), { lastGoodStreamId: 1, status: GoawayStatus.OK });
    t.equal(await withTimeout(closed, 2000, 'close'), undefined, 'closed without error');
  });

  t.test('200 streams in parallel echo 4 KiB each', { timeout: 20000 }, async (t) => {
    const { kube, peer, done } = await setup('kube-server');
    t.teardown(done);
    kubeEchoServer(kube);
    const start = performance.now();
    const results = await Promise.all(
      Array.from({ length: 200 }, async () => {
        const data = crypto.randomBytes(4096);
        const r = await peerEcho(peer, data);
        return r.bytes === 4096 && r.sha256 === crypto.createHash('sha256').update(data).digest('hex');
      }),
    );
    t.equal(results.filter(Boolean).length, 200, 'all 200 echoed byte-exact');
    figures.push(`spdy-transport client → kube-spdy server, 200 parallel 4 KiB echoes: ${(performance.now() - start).toFixed(0)} ms`);
    t.equal(kube.openStreams, 0);
  });
});

// ---------------------------------------------------------------------------------------------------
t.test('spdy-transport negative session WINDOW_UPDATE is a session error for kube-spdy', async (t) => {
  // Without the workaround: spdy-transport (windowSize 4 KiB) sends delta 4096 - 65536 as a signed int.
  const [a, b] = await socketPair();
  t.teardown(() => {
    a.destroy();
    b.destroy();
  });
  const kube = new Connection(a, { role: 'client', flowControl: true, httpPseudoHeaders: true });
  const closed = once<Error | undefined>(kube, 'close');
  const peer = transport.connection.create(b, { protocol: 'spdy', isServer: true, autoSpdy31: true, windowSize: 4 * KiB });
  peer.on('error', () => {});
  const err = await withTimeout(closed, 2000, 'close');
  t.match(err, { code: 'ERR_SPDY_SESSION', status: GoawayStatus.PROTOCOL_ERROR });
  t.match(err?.message, /overflows the session window/);
});

t.teardown(() => {
  // Echo throughput: 64 MiB written and the same 64 MiB read back, over wall time (MB = 10^6 bytes).
  // Single runs on a shared machine (other test files may run in parallel): indicative only.
  const f = (m: Map<number, number>, w: number): string => (m.has(w) ? m.get(w)!.toFixed(1) : '-');
  const lines = ['# echo MB/s (64 MiB each way / wall time): window | kube-spdy client→spdy-transport server | spdy-transport client→kube-spdy server'];
  for (const w of WINDOWS) {
    lines.push(`#   ${w / KiB} KiB | ${f(rates.kubeClient, w)} | ${f(rates.kubeServer, w)}`);
  }
  lines.push(...figures.map((x) => `#   ${x}`));
  console.log(lines.join('\n'));
});
