// The DoS bounds at their DEFAULT values (issue 10): the other tests push each bound with a small option;
// these push the documented defaults themselves (README "Security"), each on loopback or in memory,
// bounded in count and time: N accepted, N + 1 refused, and what is held stays under the bound.
import t from 'tap';
import net from 'node:net';
import { PassThrough, type Duplex } from 'node:stream';
import { Connection } from '../lib/session/connection.js';
import type { ConnectionOptions } from '../lib/session/options.js';
import type { Stream } from '../lib/session/stream.js';
import { servePortForward, DEFAULT_MAX_PENDING_PAIRS, DEFAULT_MAX_FORWARDS, type PortForwardServerOptions } from '../lib/portforward/server.js';
import { PortForwardBudget, DEFAULT_SERVER_MAX_PENDING_PAIRS, DEFAULT_SERVER_MAX_FORWARDS } from '../lib/portforward/server-policy.js';
import { startFakeApiServer } from '../lib/fake-apiserver/index.js';
import { dialPortForward, portForwardUrl } from '../lib/portforward/dial.js';
import { FrameType, GoawayStatus, RstStatus } from '../lib/frames/constants.js';
import { encodeData, encodePing, encodeRstStream, encodeSettings } from '../lib/frames/encoder.js';
import { StreamError, UpgradeError } from '../lib/errors.js';
import { socketPair, duplexPair } from './helpers.js';
import { RawPeer } from './raw-peer.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Resolves with the connection's close error (or null) once it closed, at most `ms` later. */
function closed(conn: Connection, ms = 30000): Promise<Error | null> {
  return new Promise((resolve, reject) => {
    if (conn.isClosed) return resolve(null);
    const timer = setTimeout(() => reject(new Error(`connection not closed within ${ms} ms`)), ms);
    conn.once('close', (err?: Error) => {
      clearTimeout(timer);
      resolve(err ?? null);
    });
  });
}

/** Runs `n` async jobs, `width` at a time. */
async function inBatches<T>(n: number, width: number, job: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i += width) out.push(...(await Promise.all(Array.from({ length: Math.min(width, n - i) }, (_, k) => job(i + k)))));
  return out;
}

t.test('maxQueuedControlFrames (10,000): a peer that never reads while making us queue RST_STREAMs is dropped', async (t) => {
  const [a, b] = await socketPair();
  // Only the stream-error rate is off (it would drop this peer at 1,000 errors/s first, see below).
  const server = new Connection(a, { role: 'server', maxStreamErrorRate: 0 });
  const errors: Error[] = [];
  server.on('error', (e) => errors.push(e));
  const done = closed(server, 60000);
  b.pause(); // the attacker never reads
  b.on('error', () => {});
  t.teardown(() => b.destroy());
  let id = 1;
  let sent = 0;
  while (!server.isClosed && sent < 3_000_000) {
    const frames: Buffer[] = [];
    for (let i = 0; i < 5000; i++, id += 2) frames.push(...encodeData(id, 0, Buffer.alloc(1)));
    sent += 5000;
    if (!b.write(Buffer.concat(frames))) await new Promise((r) => setTimeout(r, 1));
    await new Promise((r) => setImmediate(r));
  }
  const err = await done;
  t.ok(server.isClosed, `dropped after ${sent} frames (one RST_STREAM owed for each; the socket buffers hold the first ones)`);
  t.match(err?.message, /not reading: more than 10000 control frames queued/, 'at the default bound of 10,000');
  t.equal(errors.length, 1);
});

t.test('maxStreamErrorRate (1,000/s): with every default, the same attacker gets GOAWAY PROTOCOL_ERROR', async (t) => {
  const peer = await RawPeer.open(t, 'server');
  const frames: Buffer[] = [];
  for (let i = 0, id = 1; i < 1001; i++, id += 2) frames.push(...encodeData(id, 0, Buffer.alloc(1)));
  peer.write(frames);
  t.match(await peer.goaway(), { status: GoawayStatus.PROTOCOL_ERROR }, 'the 1,001st stream error within a second');
  await closed(peer.conn);
});

t.test('maxPingRate (200/s) and maxSettingsRate (50/s): floods at the defaults get GOAWAY PROTOCOL_ERROR', async (t) => {
  const ok = await RawPeer.open(t, 'server');
  const pings = (n: number, first: number): Buffer => Buffer.concat(Array.from({ length: n }, (_, i) => encodePing(first + 2 * i)));
  ok.write(pings(150, 1001)); // under the bound: all answered
  await ok.alive();
  t.equal(ok.conn.isClosed, false, '150 PINGs in a second are answered');
  const flood = await RawPeer.open(t, 'server');
  flood.write(pings(201, 1));
  t.match(await flood.goaway(), { status: GoawayStatus.PROTOCOL_ERROR }, 'the 201st PING within a second');
  const settings = await RawPeer.open(t, 'server');
  settings.write(Buffer.concat(Array.from({ length: 51 }, () => encodeSettings(0, [{ id: 4, flags: 0, value: 100 }]))));
  t.match(await settings.goaway(), { status: GoawayStatus.PROTOCOL_ERROR }, 'the 51st SETTINGS within a second');
});

t.test('maxResetRate (10,000/s): a RST_STREAM flood at the default gets GOAWAY PROTOCOL_ERROR', async (t) => {
  // Every RST_STREAM counts (on a live stream or not): each burst goes in one write, so the server reads it
  // within one of its one-second windows however loaded the machine is.
  const resets = (n: number): Buffer => Buffer.concat(Array.from({ length: n }, (_, i) => encodeRstStream(2 * i + 1, RstStatus.CANCEL)));
  const ok = await RawPeer.open(t, 'server');
  ok.write(resets(9000));
  await ok.alive();
  t.equal(ok.conn.isClosed, false, '9,000 in a burst are accepted');
  const flood = await RawPeer.open(t, 'server');
  flood.write(resets(10_001));
  t.match(await flood.next(FrameType.GOAWAY, 10000), { status: GoawayStatus.PROTOCOL_ERROR }, 'the 10,001st within a second: GOAWAY');
});

t.test('maxConcurrentStreams (1,000): the 1,001st stream a peer opens is refused', async (t) => {
  // Compatibility mode: no SETTINGS is sent, so the client does not hold back and the server must refuse.
  const [a, b] = await socketPair();
  const server = new Connection(a, { role: 'server', flowControl: false });
  const client = new Connection(b, { role: 'client', flowControl: false });
  t.teardown(() => (client.destroy(), server.destroy()));
  server.on('stream', (s) => s.reply({}));
  const open = await inBatches(1000, 100, () => client.createStream({}));
  t.equal(server.openStreams, 1000);
  const err = await client.createStream({}).catch((e) => e);
  t.type(err, StreamError);
  t.match(err, { status: RstStatus.REFUSED_STREAM, fromPeer: true }, 'REFUSED_STREAM from the peer');
  open[0]!.destroy();
  await client.ping();
  t.ok(await client.createStream({}), 'a stream that closed gives its place back');
});

t.test('sessionWindowSize (16 MiB): a reader that never reads holds at most 1.5 × the session window', async (t) => {
  const [a, b] = await socketPair();
  const server = new Connection(a, { role: 'server' });
  const client = new Connection(b, { role: 'client' });
  t.teardown(() => (client.destroy(), server.destroy()));
  const got: Stream[] = [];
  server.on('stream', (s) => {
    got.push(s);
    s.reply({});
  });
  // 448 streams × their 64 KiB window = 28 MiB offered: more than 1.5 × the 16 MiB session window.
  // (Session window comes back at once while under half of it is unread, then only as the reader reads.)
  const streams = await inBatches(448, 64, () => client.createStream({}));
  for (const s of streams) s.write(Buffer.alloc(64 * KiB));
  for (let i = 0; i < 20 && client.stats().sendWindow > 0; i++) {
    await client.ping();
    await server.ping();
  }
  await client.ping();
  const held = got.reduce((n, s) => n + s.readableLength, 0);
  t.ok(held >= 16 * MiB, `the server holds ${(held / MiB).toFixed(2)} MiB unread (over the 16 MiB window: its first half came back at once)`);
  t.ok(held <= 1.5 * 16 * MiB, `${(held / MiB).toFixed(2)} MiB ≤ 1.5 × 16 MiB of the 28 MiB offered`);
  t.equal(client.stats().sendWindow, 0, "the client's session window is used up: the rest waits");
});

/** A server Connection serving port-forward in memory (as the fake API server does, 100,000 streams) and its client. */
function pfPair(opts: Omit<PortForwardServerOptions, 'dial'>, client: Omit<ConnectionOptions, 'role'> = {}) {
  const [a, b] = duplexPair();
  const server = new Connection(b, { role: 'server', maxConcurrentStreams: 100000 });
  const targets: Duplex[] = [];
  servePortForward(server, {
    ...opts,
    dial: async () => {
      const s = new PassThrough();
      targets.push(s);
      return s;
    },
  });
  return { client: new Connection(a, { role: 'client', ...client }), server, targets };
}

const streamOf = (c: Connection, type: 'data' | 'error', requestId: number): Promise<Stream> =>
  c.createStream({ streamtype: type, port: '80', requestid: String(requestId) });

/** Opens `n` forwards (error + data stream pairs) and waits until each was dialed. */
async function forwards(c: Connection, targets: Duplex[], from: number, n: number): Promise<void> {
  const before = targets.length;
  await inBatches(n, 128, async (i) => {
    const [e, d] = await Promise.all([streamOf(c, 'error', from + i), streamOf(c, 'data', from + i)]);
    e.resume();
    d.resume();
  });
  for (let i = 0; i < 200 && targets.length < before + n; i++) await new Promise((r) => setTimeout(r, 10));
}

t.test(`maxPendingPairs (${DEFAULT_MAX_PENDING_PAIRS} per connection): the next unpaired request is refused`, async (t) => {
  t.equal(DEFAULT_MAX_PENDING_PAIRS, 1000);
  const { client, server } = pfPair({});
  t.teardown(() => (client.destroy(), server.destroy()));
  const waiting = await inBatches(1000, 128, (i) => streamOf(client, 'data', i));
  const err = await streamOf(client, 'data', 1000).catch((e) => e);
  t.match(err, { status: RstStatus.REFUSED_STREAM, fromPeer: true }, 'the 1,001st waiting request: REFUSED_STREAM');
  waiting[0]!.destroy();
  await client.ping();
  await client.ping();
  t.ok(await streamOf(client, 'data', 1001), 'one that leaves frees its place');
});

t.test(`maxForwards (${DEFAULT_MAX_FORWARDS} per connection): the next request is refused while they are open`, async (t) => {
  t.equal(DEFAULT_MAX_FORWARDS, 1024);
  const { client, server, targets } = pfPair({});
  t.teardown(() => (client.destroy(), server.destroy()));
  await forwards(client, targets, 0, 1024);
  t.equal(targets.length, 1024, '1,024 forwards dialed and open');
  const err = await streamOf(client, 'data', 5000).catch((e) => e);
  t.match(err, { status: RstStatus.REFUSED_STREAM, fromPeer: true }, 'the 1,025th: REFUSED_STREAM');
  targets[0]!.destroy();
  for (let i = 0; i < 100; i++) await client.ping();
  const [e, d] = await Promise.all([streamOf(client, 'error', 5001), streamOf(client, 'data', 5001)]);
  t.ok(e && d, 'a forward that ended gives its place back');
});

t.test(`PortForwardBudget (${DEFAULT_SERVER_MAX_PENDING_PAIRS} waiting, ${DEFAULT_SERVER_MAX_FORWARDS} forwards per server): connections add up to the server-wide bound`, async (t) => {
  t.equal(DEFAULT_SERVER_MAX_PENDING_PAIRS, 4096);
  t.equal(DEFAULT_SERVER_MAX_FORWARDS, 4096);
  // Waiting requests: 4 connections × 1,000 + 96 on a fifth reach 4,096; the fifth's own bound is far.
  const budget = new PortForwardBudget();
  const pairs = Array.from({ length: 5 }, () => pfPair({ budget }));
  t.teardown(() => pairs.forEach((p) => (p.client.destroy(), p.server.destroy())));
  for (let k = 0; k < 4; k++) await inBatches(1000, 128, (i) => streamOf(pairs[k]!.client, 'data', i));
  await inBatches(96, 96, (i) => streamOf(pairs[4]!.client, 'data', i));
  t.equal(budget.pendingPairs, 4096);
  const err = await streamOf(pairs[4]!.client, 'data', 96).catch((e) => e);
  t.match(err, { status: RstStatus.REFUSED_STREAM, fromPeer: true }, 'the 4,097th waiting request of the server: REFUSED_STREAM');
  for (const p of pairs) (p.client.destroy(), p.server.destroy());
  // Forwards: 4 connections × 1,024 open reach 4,096.
  const fwd = new PortForwardBudget();
  const conns = Array.from({ length: 5 }, () => pfPair({ budget: fwd }));
  t.teardown(() => conns.forEach((p) => (p.client.destroy(), p.server.destroy())));
  for (let k = 0; k < 4; k++) await forwards(conns[k]!.client, conns[k]!.targets, 0, 1024);
  t.equal(fwd.forwards, 4096, '4,096 forwards open across 4 connections');
  const refused = await streamOf(conns[4]!.client, 'data', 0).catch((e) => e);
  t.match(refused, { status: RstStatus.REFUSED_STREAM, fromPeer: true }, 'the 4,097th forward of the server: REFUSED_STREAM');
});

t.test('fake API server maxConnections (1,024): the 1,025th SPDY upgrade is answered 503', async (t) => {
  const api = await startFakeApiServer({ pods: [{ namespace: 'default', name: 'web', ports: [80] }] });
  t.teardown(() => api.close());
  const url = portForwardUrl(api.url, 'default', 'web');
  const conns = await inBatches(1024, 64, () => dialPortForward(url, { transport: 'spdy' }));
  t.teardown(() => conns.forEach((c) => c.destroy()));
  t.equal(api.connections.size, 1024);
  const err = await dialPortForward(url, { transport: 'spdy' }).catch((e) => e);
  t.ok(err instanceof UpgradeError, String(err));
  t.equal(err.statusCode, 503, 'the 1,025th: 503');
  conns[0]!.destroy();
  for (let i = 0; i < 100 && api.connections.size > 1023; i++) await new Promise((r) => setTimeout(r, 20));
  const again = await dialPortForward(url, { transport: 'spdy' });
  t.teardown(() => again.destroy());
  t.ok(again, 'a closed connection gives its place back');
});

t.test('fake API server headersTimeout (10 s): a slowloris upgrade request is dropped', async (t) => {
  const api = await startFakeApiServer({ pods: [{ namespace: 'default', name: 'web', ports: [80] }] });
  t.teardown(() => api.close());
  const s = net.connect(api.port, '127.0.0.1');
  s.on('error', () => {});
  await new Promise((r) => s.once('connect', r));
  s.write('POST /api/v1/namespaces/default/pods/web/portforward HTTP/1.1\r\nHost: x\r\nUpgrade: SPDY/3.1\r\n');
  const t0 = Date.now();
  const drip = setInterval(() => s.write('X-Slow: 1\r\n'), 500); // a header line now and then, never the end
  await new Promise((r) => s.once('close', r));
  clearInterval(drip);
  const ms = Date.now() - t0;
  t.ok(ms >= 9000 && ms < 30000, `dropped after ${ms} ms (10 s, checked every second; generous slack)`);
});

t.test('frame and header-block bounds at their defaults: 1 MiB control frame, 1 MiB DATA frame, 256 KiB inflated block, 128 headers', async (t) => {
  const header = (word0: number, length: number): Buffer => {
    const b = Buffer.alloc(8);
    b.writeUInt32BE(word0 >>> 0, 0);
    b.writeUInt32BE(length, 4);
    return b;
  };
  const control = await RawPeer.open(t, 'server');
  control.write(header(0x80030001, MiB + 1)); // a SYN_STREAM of 1 MiB + 1 announced: only its header is sent
  t.match(await control.goaway(), { status: GoawayStatus.PROTOCOL_ERROR }, 'maxControlFrameSize: refused from the header of a 1 MiB + 1 control frame');

  const data = await RawPeer.open(t, 'server', { flowControl: false });
  data.syn(1);
  await data.next(FrameType.SYN_REPLY);
  data.data(1, MiB); // exactly 1 MiB: accepted (compatibility mode, no window in the way)
  await data.alive();
  t.equal(data.streams[0]!.readableLength, MiB, 'maxReceivedDataFrameSize: a 1 MiB DATA frame is delivered');
  data.streams[0]!.resume(); // (an unread stream over its high-water mark pauses reading the socket)
  data.write(header(1, MiB + 1));
  t.match(await data.goaway(), { status: GoawayStatus.PROTOCOL_ERROR }, 'a DATA frame of 1 MiB + 1 is refused from its header');

  const blocks = await RawPeer.open(t, 'server');
  blocks.syn(1, { big: 'x'.repeat(256 * KiB - 64) }); // serialized: 4 + 4 + 3 + 4 + 262,080 bytes, under 256 KiB
  t.match(await blocks.next(FrameType.SYN_REPLY), { streamId: 1 }, 'maxHeaderBlockSize: a block just under 256 KiB inflated is accepted');
  const many: Record<string, string> = {};
  for (let i = 0; i < 128; i++) many[`h${i}`] = 'v';
  blocks.syn(3, many);
  t.match(await blocks.next(FrameType.SYN_REPLY), { streamId: 3 }, 'maxHeaderCount: 128 headers are accepted');
  blocks.syn(5, { ...many, h128: 'v' });
  const r = await blocks.rst();
  t.equal(r.streamId, 5, '129 headers: RST_STREAM');
  blocks.syn(7, { big: 'x'.repeat(256 * KiB) });
  t.match(await blocks.goaway(), { status: GoawayStatus.PROTOCOL_ERROR }, 'a block inflating past 256 KiB: GOAWAY');
});

t.test('stream ids near 2^31: the last id works, then the peer may not go back and we open no more', async (t) => {
  const peer = await RawPeer.open(t, 'server');
  peer.syn(0x7fffffff);
  t.match(await peer.next(FrameType.SYN_REPLY), { streamId: 0x7fffffff }, 'a peer stream with id 2^31 - 1 is accepted');
  peer.syn(1);
  t.match(await peer.goaway(), { status: GoawayStatus.PROTOCOL_ERROR, lastGoodStreamId: 0x7fffffff }, 'a lower id after it: GOAWAY PROTOCOL_ERROR');

  const [a, b] = await socketPair();
  const server = new Connection(a, { role: 'server' });
  const client = new Connection(b, { role: 'client' });
  t.teardown(() => (client.destroy(), server.destroy()));
  server.on('stream', (s) => s.reply({}));
  (client as unknown as { table: { nextLocalId: number } }).table.nextLocalId = 0x7ffffffd; // as after 2^30 - 2 streams
  t.equal((await client.createStream({})).id, 0x7ffffffd);
  t.equal((await client.createStream({})).id, 0x7fffffff, 'the last id');
  await t.rejects(client.createStream({}), { code: 'ERR_SPDY_CLOSED', message: /stream ids exhausted/ }, 'then createStream rejects: open a new connection');
  t.equal(client.isClosed, false, 'the streams already open go on');
});

t.test('fake API server: a 1 MiB upgrade request header is refused (431, Node maxHeaderSize 16 KiB) and others are served', async (t) => {
  const api = await startFakeApiServer({ pods: [{ namespace: 'default', name: 'web', ports: [80] }] });
  t.teardown(() => api.close());
  const s = net.connect(api.port, '127.0.0.1');
  s.on('error', () => {});
  await new Promise((r) => s.once('connect', r));
  let answer = '';
  s.on('data', (c: Buffer) => (answer += c.toString('latin1')));
  s.write('POST /api/v1/namespaces/default/pods/web/portforward HTTP/1.1\r\nHost: x\r\nUpgrade: SPDY/3.1\r\nConnection: Upgrade\r\n');
  s.write(`X-Big: ${'a'.repeat(MiB)}\r\n\r\n`);
  await new Promise((r) => s.once('close', r));
  t.match(answer, /^HTTP\/1\.1 431 /, `answered ${JSON.stringify(answer.split('\r\n')[0])}`);
  const c = await dialPortForward(portForwardUrl(api.url, 'default', 'web'), { transport: 'spdy' });
  t.teardown(() => c.destroy());
  t.ok(c, 'the next client is served');
});
