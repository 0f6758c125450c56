// Interop with Go moby/spdystream (the SPDY library under kubectl and the kubelet), both roles.
// spec/interop/go/spdypeer.go is built once (GOPATH mode against Debian's golang-github-docker-spdystream-dev)
// and driven per scenario; it prints one JSON object per line. Loopback only. kube-spdy runs with
// flowControl: 'auto', the Kubernetes layers' default: it sends its SETTINGS and session WINDOW_UPDATE,
// spdystream ignores them and never sends either, so kube-spdy stays in compatibility mode. In CI a missing Go toolchain or spdystream
// fails this file, never skips it.
import t, { type Test } from 'tap';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { Connection } from '../lib/session/connection.js';
import type { Stream } from '../lib/session/stream.js';
import { RstStatus, GoawayStatus } from '../lib/frames/constants.js';
import { ClosedError, GoawayError, StreamResetError } from '../lib/errors.js';
import { ROOT, run, type Proc } from './e2e-helpers.js';
import { readAll, randomBytes } from './helpers.js';

const SPDYSTREAM_SRC = '/usr/share/gocode/src/github.com/docker/spdystream';
const GO_SRC = path.join(ROOT, 'spec', 'interop', 'go');
const BIN_DIR = path.join(ROOT, 'spec', 'interop', 'bin');
const PEER = path.join(BIN_DIR, 'spdypeer');
const ECHO_SIZE = 64 * 1024 * 1024;
const PARALLEL = 200;
const CHUNK = 4096;

function goEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOFLAGS: '' };
  if (!process.env.GOCACHE && !process.env.HOME && !process.env.XDG_CACHE_HOME) env.GOCACHE = path.join(os.tmpdir(), 'kube-spdy-go-cache');
  return env;
}

const goVersion = spawnSync('go', ['version'], { encoding: 'utf8', env: { ...process.env, ...goEnv() } });
const haveGo = goVersion.status === 0;
const haveSpdystream = existsSync(SPDYSTREAM_SRC);
let missing = '';
if (!haveGo) missing = '`go` not found (Debian: golang-go)';
else if (!haveSpdystream) missing = `${SPDYSTREAM_SRC} not found (Debian: golang-github-docker-spdystream-dev)`;
if (missing && process.env.CI) t.fail(`Go spdystream interop is required in CI (.ci/run installs it): ${missing}`);

let built = false;
let buildError = '';
if (!missing) {
  mkdirSync(BIN_DIR, { recursive: true });
  const b = spawnSync('go', ['build', '-o', PEER, '.'], { cwd: GO_SRC, encoding: 'utf8', env: { ...process.env, ...goEnv() }, timeout: 120_000 });
  built = b.status === 0;
  if (!built) buildError = `go build failed (status ${b.status}): ${b.stderr || b.error?.message}`;
}
const skip: string | false = !missing ? false : process.env.CI ? `required in CI, see the failure above: ${missing}` : `Go spdystream interop skipped outside CI: ${missing}`;

t.test('the Go peer builds', { skip }, async (t) => {
  t.ok(built, buildError || `built ${PEER} with ${goVersion.stdout.trim()}`);
});

// ---------------------------------------------------------------------------------------------------

type Role = 'kube-spdy client ↔ Go server' | 'Go client ↔ kube-spdy server';
const ROLES: Role[] = ['kube-spdy client ↔ Go server', 'Go client ↔ kube-spdy server'];

/** What kube-spdy's handler observed on a stream the Go side opened. */
interface Observed {
  id: number;
  action: string;
  headers: Record<string, string>;
  result: Promise<Record<string, unknown>>;
}

interface Peer {
  conn: Connection;
  proc: Proc;
  /** Streams the Go side opened, in arrival order. */
  observed: Observed[];
  goaways: { lastGoodStreamId: number; status: number }[];
  closed: Promise<Error | undefined>;
  /** The first JSON line whose "event" is `name`. */
  event(name: string, ms?: number): Promise<any>;
  /** All JSON lines so far whose "event" is `name`. */
  events(name: string): any[];
}

function parseLine(line: string): any {
  try {
    return JSON.parse(line);
  } catch {
    return null;
  }
}

/** Hashes a readable to its end. */
async function hashAll(s: NodeJS.ReadableStream): Promise<{ bytes: number; sha256: string }> {
  const h = crypto.createHash('sha256');
  let bytes = 0;
  for await (const c of s) {
    h.update(c as Buffer);
    bytes += (c as Buffer).length;
  }
  return { bytes, sha256: h.digest('hex') };
}

const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');

/** kube-spdy's side of streams the Go peer opens, by their "action" header (mirrors spdypeer's handler). */
function handleGoStream(s: Stream, observed: Observed[]): void {
  const headers = { ...s.headers };
  const action = headers.action ?? '';
  s.on('error', () => {});
  let result: Promise<Record<string, unknown>>;
  switch (action) {
    case 'echo': {
      s.reply({ 'x-ts-reply': 'echo', 'x-got-id': headers['x-id'] ?? '' });
      const h = crypto.createHash('sha256');
      let bytes = 0;
      s.on('data', (c: Buffer) => {
        h.update(c);
        bytes += c.length;
      });
      result = new Promise((resolve) => {
        s.once('end', () => resolve({ bytes, sha256: h.digest('hex') }));
        s.once('close', () => resolve({ bytes, closedEarly: true }));
      });
      s.pipe(s);
      break;
    }
    case 'headers':
      s.reply({ 'x-reply-from': 'ts', 'x-multi': 'p\0q' });
      s.sendHeaders({ 'x-extra': 'ts-headers' });
      // Not readAll(): a for-await loop destroys the Duplex at its end, and we still write after the peer's FIN.
      result = new Promise((resolve) => {
        const chunks: Buffer[] = [];
        s.on('data', (c: Buffer) => chunks.push(c));
        s.once('end', () => {
          s.end('hello from ts');
          resolve({ text: Buffer.concat(chunks).toString() });
        });
      });
      break;
    case 'expect-reset':
      s.reply({});
      result = new Promise((resolve) => {
        let bytes = 0;
        s.on('data', (c: Buffer) => (bytes += c.length));
        s.once('close', () => resolve({ bytes, readableEnded: s.readableEnded, state: s.state, closeError: s.closeError }));
      });
      break;
    case 'refuse':
      s.reset(RstStatus.REFUSED_STREAM);
      result = Promise.resolve({ refused: true });
      break;
    default:
      s.reset(RstStatus.PROTOCOL_ERROR);
      result = Promise.resolve({ unknownAction: action });
  }
  observed.push({ id: s.id, action, headers, result });
}

/** Starts spdypeer for one scenario and connects kube-spdy to it in `role`. */
async function startPeer(t: Test, role: Role, scenario: string, args: string[] = []): Promise<Peer> {
  const observed: Observed[] = [];
  const goaways: { lastGoodStreamId: number; status: number }[] = [];
  let proc: Proc;
  let socket: net.Socket;
  const env = { DEBUG: '' }; // spdystream logs every frame when DEBUG is set
  if (role === 'kube-spdy client ↔ Go server') {
    proc = run(PEER, ['-mode', 'server', '-addr', '127.0.0.1:0', '-scenario', scenario, ...args], env);
    t.teardown(() => proc.kill());
    const m = await proc.waitFor(/"event":"listening"/, 10_000);
    const { addr } = JSON.parse(m.input!) as { addr: string };
    const i = addr.lastIndexOf(':');
    socket = net.connect({ host: addr.slice(0, i), port: Number(addr.slice(i + 1)), allowHalfOpen: true });
    await once(socket, 'connect');
  } else {
    const server = net.createServer({ allowHalfOpen: true });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    const accepted = once(server, 'connection') as Promise<[net.Socket]>;
    proc = run(PEER, ['-mode', 'client', '-addr', `127.0.0.1:${port}`, '-scenario', scenario, ...args], env);
    t.teardown(() => proc.kill());
    const timer = setTimeout(() => server.emit('error', new Error('the Go client did not connect within 10 s')), 10_000);
    try {
      [socket] = await accepted;
    } finally {
      clearTimeout(timer);
      server.close();
    }
  }
  const conn = new Connection(socket, { role: role === 'kube-spdy client ↔ Go server' ? 'client' : 'server', flowControl: 'auto' });
  // Attached in the same tick as the constructor: no frame is processed before.
  conn.on('stream', (s) => handleGoStream(s, observed));
  conn.on('goaway', (g) => goaways.push(g));
  const closed = new Promise<Error | undefined>((resolve) => conn.once('close', (err) => resolve(err)));
  t.teardown(() => {
    conn.destroy();
    socket.destroy();
  });
  return {
    conn,
    proc,
    observed,
    goaways,
    closed,
    async event(name, ms = 20_000) {
      const m = await proc.waitFor(new RegExp(`"event":"${name}"`), ms);
      return parseLine(m.input!);
    },
    events(name) {
      return proc.out.map(parseLine).filter((o) => o && o.event === name);
    },
  };
}

/** Closes kube-spdy's side (GOAWAY) and checks that spdystream saw a graceful close. */
async function closeAndCheck(t: Test, p: Peer): Promise<void> {
  t.equal(p.conn.flowControlActive, false, "'auto' stayed in compatibility mode with spdystream");
  await p.conn.close({ timeout: 5000 });
  t.equal(await p.closed, undefined, "kube-spdy's 'close' has no error");
  const end = await p.event('end', 10_000);
  t.match(end, { goaway: true, graceful: true }, 'spdystream received the GOAWAY and shut down gracefully');
  t.equal(await p.proc.exited, 0, 'spdypeer exits 0');
  const errors = p.events('error');
  t.same(errors, [], 'spdypeer reported no error');
}

/** Parity of a stream id opened by the client (odd) or the server (even). */
const parity = (id: number): 'odd' | 'even' => (id % 2 === 1 ? 'odd' : 'even');

const figures: Record<string, number> = {};
const fmt = (n: number | undefined, unit: string): string => (n === undefined ? 'n/a' : `${n.toFixed(1)} ${unit}`);

for (const role of ROLES) {
  const tsClient = role === 'kube-spdy client ↔ Go server';
  const tsIds = tsClient ? 'odd' : 'even';
  const goIds = tsClient ? 'even' : 'odd';
  const short = tsClient ? 'ts-client' : 'ts-server';

  t.test(role, { skip }, async (t) => {
    if (!built) {
      t.fail(buildError || 'the Go peer was not built');
      return;
    }

    t.test('streams opened from each side, headers checked', { timeout: 20_000 }, async (t) => {
      const p = await startPeer(t, role, 'open-headers');
      // kube-spdy opens a stream to Go.
      const s = await p.conn.createStream({ action: 'headers', 'x-from': 'ts', 'x-multi': 'a\0b' }, { timeout: 10_000 });
      t.equal(parity(s.id), tsIds, `kube-spdy's stream id ${s.id} is ${tsIds}`);
      t.same({ ...s.replyHeaders }, { 'x-reply-from': 'go', 'x-multi': 'x\0y' }, "Go's SYN_REPLY headers (two values joined by NUL)");
      const back = readAll(s);
      s.end('hello from ts');
      t.equal((await back).toString(), 'hello from go', 'data both ways on a kube-spdy stream');
      const seen = await p.event('stream');
      t.same(seen.headers, { action: ['headers'], 'x-from': ['ts'], 'x-multi': ['a', 'b'] }, 'Go saw our SYN_STREAM headers');
      t.equal(seen.id, s.id);
      const data = await p.event('stream-data');
      t.match(data, { id: s.id, text: 'hello from ts', err: '' }, 'Go read our data to FIN');
      // Go opens a stream to kube-spdy.
      const opened = await p.event('open-headers');
      t.equal(opened.err, '', 'Go: CreateStream, WaitTimeout, ReceiveHeader, Write, Close, Read all fine');
      t.same(opened.headers, { 'x-extra': ['ts-headers'] }, 'Go received our HEADERS frame');
      t.equal(opened.text, 'hello from ts', 'Go read our data');
      t.equal(p.observed.length, 1, 'one stream from Go');
      const o = p.observed[0]!;
      t.equal(o.id, opened.id);
      t.equal(parity(o.id), goIds, `Go's stream id ${o.id} is ${goIds}`);
      t.same(o.headers, { action: 'headers', 'x-from': 'go', 'x-multi': 'a\0b' }, "Go's SYN_STREAM headers (lower-cased names, values joined by NUL)");
      t.same(await o.result, { text: 'hello from go' }, 'kube-spdy read Go data to FIN');
      await closeAndCheck(t, p);
    });

    t.test('64 MiB echoed by Go (kube-spdy opens and sends)', { timeout: 40_000 }, async (t) => {
      const p = await startPeer(t, role, 'none');
      const data = crypto.randomBytes(ECHO_SIZE);
      const sent = sha(data);
      const start = performance.now();
      const s = await p.conn.createStream({ action: 'echo' }, { timeout: 10_000 });
      t.same({ ...s.replyHeaders }, { 'x-go-reply': 'echo', 'x-got-id': '' });
      const back = hashAll(s);
      s.end(data);
      const got = await back;
      const ms = performance.now() - start;
      t.equal(got.bytes, ECHO_SIZE, '64 MiB came back');
      t.equal(got.sha256, sent, 'byte-exact (sha256)');
      const echoed = await p.event('echoed');
      t.match(echoed, { id: s.id, bytes: ECHO_SIZE, sha256: sent, err: '' }, 'Go received exactly what we sent');
      figures[`echo ${short} kube-spdy→Go→kube-spdy MB/s`] = ECHO_SIZE / 1e6 / (ms / 1000);
      t.comment(`64 MiB kube-spdy → Go echo → kube-spdy: ${(ms / 1000).toFixed(2)} s, ${(ECHO_SIZE / 1e6 / (ms / 1000)).toFixed(1)} MB/s`);
      await closeAndCheck(t, p);
    });

    t.test('64 MiB echoed by kube-spdy (Go opens and sends)', { timeout: 40_000 }, async (t) => {
      const p = await startPeer(t, role, 'open-echo', ['-size', String(ECHO_SIZE)]);
      const r = await p.event('open-echo', 35_000);
      t.equal(r.err, '', 'Go wrote in 1 MiB writes and read everything back without error');
      t.equal(r.received, ECHO_SIZE, '64 MiB came back to Go');
      t.equal(r.recvSha, r.sentSha, 'byte-exact (sha256)');
      t.equal(p.observed.length, 1);
      const mine = await p.observed[0]!.result;
      t.same(mine, { bytes: ECHO_SIZE, sha256: r.sentSha }, 'kube-spdy received exactly what Go sent');
      figures[`echo ${short} Go→kube-spdy→Go MB/s`] = r.mbps;
      t.comment(`64 MiB Go → kube-spdy echo → Go: ${(r.ms / 1000).toFixed(2)} s, ${r.mbps.toFixed(1)} MB/s`);
      await closeAndCheck(t, p);
    });

    t.test('PING both ways', { timeout: 20_000 }, async (t) => {
      const p = await startPeer(t, role, 'ping');
      let pinged = 0;
      p.conn.on('ping', () => pinged++);
      const rtts: number[] = [];
      for (let i = 0; i < 5; i++) rtts.push(await p.conn.ping({ timeout: 5000 }));
      t.ok(rtts.every((r) => Number.isFinite(r) && r > 0), `kube-spdy ping() resolved 5 times, rtt ms ${rtts.map((r) => r.toFixed(2)).join(', ')}`);
      const goPing = await p.event('ping');
      t.notOk(goPing.err, "Go's Ping() returned without error");
      t.equal(goPing.rttsMs.length, 5, "Go's Ping() returned 5 times");
      t.equal(pinged, 5, "kube-spdy answered Go's 5 PINGs");
      t.ok(Number.isFinite(p.conn.stats().rtt), 'stats().rtt is set');
      await closeAndCheck(t, p);
    });

    t.test('RST_STREAM both ways', { timeout: 20_000 }, async (t) => {
      const p = await startPeer(t, role, 'open-reset,open-refused');
      const kb = randomBytes(1024, 5);

      // kube-spdy resets a stream Go accepted: Go sees the stream reset (not finished).
      const a = await p.conn.createStream({ action: 'sink' }, { timeout: 10_000 });
      await new Promise<void>((resolve, reject) => a.write(kb, (err) => (err ? reject(err) : resolve())));
      a.reset(RstStatus.CANCEL);
      t.equal(a.destroyed, true, 'our stream is destroyed after reset()');
      // Control: a stream that ends with FIN is not seen as reset.
      const b = await p.conn.createStream({ action: 'sink' }, { timeout: 10_000 });
      b.resume();
      b.end(kb);
      const sinks = await (async () => {
        for (let i = 0; i < 100 && p.events('sink-end').length < 2; i++) await new Promise((r) => setTimeout(r, 50));
        return p.events('sink-end');
      })();
      t.match(
        sinks.find((e) => e.id === a.id),
        { bytes: 1024, reset: true, err: '' },
        'Go: our RST_STREAM ended its read (after the 1 KiB sent before it) and removed the stream',
      );
      t.match(sinks.find((e) => e.id === b.id), { bytes: 1024, reset: false, err: '' }, 'Go: a FIN is not a reset (control)');

      // Go resets a stream kube-spdy opened: our stream is destroyed without a clean end.
      const c = await p.conn.createStream({ action: 'go-reset' }, { timeout: 10_000 });
      c.write(kb);
      const cClosed = once(c, 'close');
      const cRead = readAll(c).then(
        () => 'ended',
        (err: NodeJS.ErrnoException) => err.code ?? err.message,
      );
      await cClosed;
      t.equal(c.readableEnded, false, "Go's RST_STREAM CANCEL destroyed our stream without a FIN");
      t.equal(await cRead, 'ERR_STREAM_PREMATURE_CLOSE', 'a reader sees a premature close');
      t.match(await p.event('go-reset-sent'), { id: c.id, bytes: 1024, err: '' });

      // Go refuses a stream kube-spdy opens: createStream rejects with a retryable reset.
      const refused = await p.conn.createStream({ action: 'refuse' }, { timeout: 10_000 }).then(
        () => null,
        (err: unknown) => err,
      );
      t.type(refused, StreamResetError, "Go's Refuse() rejects createStream with StreamResetError");
      t.match(refused, { status: RstStatus.REFUSED_STREAM, retryable: true });

      // Go resets a stream it opened; kube-spdy sees the reset.
      const goReset = await p.event('open-reset');
      t.equal(goReset.err, '', 'Go: Write then Reset()');
      const mine = p.observed.find((o) => o.id === goReset.id);
      t.ok(mine, 'kube-spdy accepted the stream Go reset');
      const r = await mine!.result;
      t.match(r, { readableEnded: false, state: 'closed' }, "kube-spdy: Go's RST_STREAM closed the stream without a FIN");
      t.ok((r.bytes as number) <= 1024);

      // kube-spdy refuses a stream Go opens: Go's WaitTimeout returns ErrReset.
      const goRefused = await p.event('open-refused');
      t.match(goRefused, { isReset: true, waitErr: 'Stream reset' }, "Go's WaitTimeout fails with ErrReset after our REFUSED_STREAM");
      await closeAndCheck(t, p);
    });

    t.test('GOAWAY from kube-spdy: close() is a graceful close for Go', { timeout: 20_000 }, async (t) => {
      const p = await startPeer(t, role, 'none');
      const s = await p.conn.createStream({ action: 'echo' }, { timeout: 10_000 });
      const back = readAll(s);
      s.end('before goaway');
      t.equal((await back).toString(), 'before goaway');
      await closeAndCheck(t, p);
      t.equal(p.conn.isClosed, true);
      t.equal(p.conn.openStreams, 0);
    });

    // Regression: spdystream stops reading at the first GOAWAY and closes the TCP connection as soon as its
    // workers are drained, killing every stream still in flight. kube-spdy's close() used to send GOAWAY
    // first and drain afterwards: the streams it meant to let finish were cut (0 bytes echoed, ECONNRESET).
    // In compatibility mode (flowControl: false) close() now drains first and sends GOAWAY last.
    t.test('close() while streams are in flight lets them finish before the GOAWAY', { timeout: 30_000 }, async (t) => {
      const size = 8 * 1024 * 1024;
      const p = await startPeer(t, role, 'open-echo', ['-size', String(size)]);
      // A Go stream in flight: close() as soon as it arrives.
      for (let i = 0; i < 200 && p.observed.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      t.equal(p.observed.length, 1, 'Go opened its echo stream');
      // And one of ours, written and not yet echoed.
      const s = await p.conn.createStream({ action: 'echo' }, { timeout: 10_000 });
      const data = randomBytes(size, 9);
      const back = hashAll(s);
      s.end(data);
      const closing = p.conn.close({ timeout: 20_000 });
      const refused = await p.conn.createStream({ action: 'echo' }).then(
        () => null,
        (err: unknown) => err,
      );
      t.type(refused, ClosedError, 'no new stream while closing');
      t.same(await back, { bytes: size, sha256: sha(data) }, 'our stream was echoed completely');
      const goEcho = await p.event('open-echo', 20_000);
      t.match(goEcho, { err: '', received: size }, "Go's stream was echoed completely");
      t.equal(goEcho.recvSha, goEcho.sentSha);
      await closing;
      t.equal(await p.closed, undefined, "kube-spdy's 'close' has no error");
      const end = await p.event('end', 10_000);
      t.match(end, { goaway: true, graceful: true }, 'then spdystream got the GOAWAY and shut down gracefully');
      t.equal(await p.proc.exited, 0);
      t.same(p.events('error'), []);
    });

    t.test("GOAWAY from Go: Close() is a graceful close for kube-spdy", { timeout: 20_000 }, async (t) => {
      const p = await startPeer(t, role, 'go-close');
      const s = await p.conn.createStream({ action: 'echo' }, { timeout: 10_000 });
      const back = readAll(s);
      s.end('before goaway');
      t.equal((await back).toString(), 'before goaway');
      t.equal(await p.closed, undefined, "kube-spdy emits 'close' with no error");
      t.same(p.goaways, [{ lastGoodStreamId: s.id, status: GoawayStatus.OK }], "kube-spdy emitted 'goaway' with Go's last-good-stream-id (our stream) and OK");
      t.equal(p.conn.isClosed, true);
      const after = await p.conn.createStream({ action: 'echo' }).then(
        () => null,
        (err: unknown) => err,
      );
      t.ok(after instanceof GoawayError || after instanceof ClosedError, `no new stream after GOAWAY: ${(after as Error)?.message}`);
      t.match(await p.event('go-close'), { err: '' });
      const end = await p.event('end', 10_000);
      t.match(end, { graceful: true }, "spdystream's shutdown finished");
      t.equal(await p.proc.exited, 0);
      t.same(p.events('error'), []);
    });

    t.test(`${PARALLEL} parallel streams opened by kube-spdy, each echoing 4 KiB`, { timeout: 30_000 }, async (t) => {
      const p = await startPeer(t, role, 'none');
      const start = performance.now();
      const results = await Promise.all(
        Array.from({ length: PARALLEL }, async (_, i) => {
          const s = await p.conn.createStream({ action: 'echo', quiet: '1', 'x-id': String(i) }, { timeout: 15_000 });
          const data = randomBytes(CHUNK, 1000 + i);
          const back = readAll(s);
          s.end(data);
          return (await back).equals(data) && s.replyHeaders?.['x-got-id'] === String(i);
        }),
      );
      const ms = performance.now() - start;
      t.equal(results.filter(Boolean).length, PARALLEL, `${PARALLEL} streams echoed byte-exact`);
      t.equal(p.conn.openStreams, 0, 'all closed both ways');
      figures[`parallel ${short} opened by kube-spdy ms`] = ms;
      t.comment(`${PARALLEL} parallel streams × 4 KiB opened by kube-spdy: ${ms.toFixed(1)} ms`);
      await closeAndCheck(t, p);
    });

    t.test(`${PARALLEL} parallel streams opened by Go, each echoing 4 KiB`, { timeout: 30_000 }, async (t) => {
      const p = await startPeer(t, role, 'open-parallel', ['-n', String(PARALLEL), '-chunk', String(CHUNK)]);
      const r = await p.event('open-parallel', 25_000);
      t.match(r, { n: PARALLEL, ok: PARALLEL, errors: null }, `Go: ${PARALLEL} streams echoed byte-exact`);
      t.equal(p.observed.length, PARALLEL);
      const ids = p.observed.map((o) => o.id);
      t.ok(ids.every((id) => parity(id) === goIds), `Go's ids are ${goIds}`);
      const results = await Promise.all(p.observed.map((o) => o.result));
      t.equal(results.filter((x) => x.bytes === CHUNK).length, PARALLEL, 'kube-spdy echoed 4 KiB on each');
      figures[`parallel ${short} opened by Go ms`] = r.ms;
      t.comment(`${PARALLEL} parallel streams × 4 KiB opened by Go: ${r.ms.toFixed(1)} ms`);
      await closeAndCheck(t, p);
    });
  });
}

t.test('Go client ↔ Go server baseline (same program, same run)', { skip, timeout: 40_000 }, async (t) => {
  if (!built) {
    t.fail(buildError || 'the Go peer was not built');
    return;
  }
  const proc = run(PEER, ['-mode', 'pair', '-scenario', 'open-echo,open-parallel', '-size', String(ECHO_SIZE), '-n', String(PARALLEL)], { DEBUG: '' });
  t.teardown(() => proc.kill());
  const echo = parseLine((await proc.waitFor(/"event":"open-echo"/, 35_000)).input!);
  t.match(echo, { err: '', received: ECHO_SIZE }, 'Go ↔ Go 64 MiB echo');
  t.equal(echo.recvSha, echo.sentSha);
  const par = parseLine((await proc.waitFor(/"event":"open-parallel"/, 20_000)).input!);
  t.match(par, { ok: PARALLEL }, `Go ↔ Go ${PARALLEL} parallel streams`);
  t.equal(await proc.exited, 0);
  figures['baseline Go↔Go echo MB/s'] = echo.mbps;
  figures['baseline Go↔Go parallel ms'] = par.ms;

  const base = echo.mbps as number;
  const lines = [`Go ↔ Go (same run): 64 MiB echo ${fmt(base, 'MB/s')}, ${PARALLEL} parallel ${fmt(par.ms, 'ms')} (reference: ~91 MB/s, ~27 ms)`];
  for (const [k, v] of Object.entries(figures)) {
    if (k.startsWith('baseline')) continue;
    if (k.endsWith('MB/s')) lines.push(`${k}: ${fmt(v, 'MB/s')} (${(v / base).toFixed(2)}× Go↔Go)`);
    else lines.push(`${k}: ${fmt(v, 'ms')} (${(v / (par.ms as number)).toFixed(2)}× Go↔Go time)`);
  }
  for (const l of lines) t.comment(l);
});
