// Regression tests for the session-core defects (issue 8): each one failed before its fix.
import t from 'tap';
import net from 'node:net';
import { Connection } from '../lib/session/connection.js';
import type { Stream } from '../lib/session/stream.js';
import { FrameType, GoawayStatus, RstStatus, SettingsId, FLAG_FIN } from '../lib/frames/constants.js';
import { encodeData, encodeGoaway, encodeSettings } from '../lib/frames/encoder.js';
import { InvalidArgumentError, StreamError, StreamResetError } from '../lib/errors.js';
import { connectionPair, readAll, randomBytes, socketPair } from './helpers.js';
import { RawPeer, dataBytes } from './raw-peer.js';

const KiB = 1024;
const MiB = 1024 * KiB;

function accept(server: Connection): Promise<Stream> {
  return new Promise((r) => server.once('stream', r));
}

function closed(c: Connection, ms = 5000): Promise<Error | undefined> {
  if (c.isClosed) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`connection not closed within ${ms} ms`)), ms);
    c.once('close', (err) => {
      clearTimeout(timer);
      resolve(err);
    });
  });
}

t.test('HEADERS+FIN never overtakes DATA written before it (same tick, and behind a window)', async (t) => {
  for (const [name, size, flowControl] of [
    ['same tick, compatibility mode', 100, false],
    ['same tick, flow control', 100, true],
    ['1 MiB + 1000 B behind 64 KiB windows', MiB + 1000, true],
  ] as const) {
    const { client, server, close } = await connectionPair({ flowControl }, { flowControl });
    const incoming = accept(server);
    const created = client.createStream({});
    const s = await incoming;
    s.reply({});
    const c = await created;
    const trailers = new Promise<Record<string, string>>((r) => s.once('headers', r));
    const body = readAll(s);
    const data = randomBytes(size, 7);
    c.write(data);
    c.sendHeaders({ trailer: 'yes' }, { fin: true });
    c.resume();
    const got = await body;
    t.equal(got.length, data.length, `${name}: every byte arrived before the FIN`);
    t.ok(got.equals(data), `${name}: byte-exact`);
    t.same(await trailers, { trailer: 'yes' }, `${name}: the HEADERS arrived`);
    await close();
  }
});

t.test('HEADERS without FIN keeps its place after buffered writes', async (t) => {
  const { client, server, close } = await connectionPair();
  t.teardown(close);
  const incoming = accept(server);
  const created = client.createStream({});
  const s = await incoming;
  s.reply({});
  const c = await created;
  const seen: string[] = [];
  s.on('data', (d: Buffer) => seen.push(`data:${d.length}`));
  s.on('headers', (h) => seen.push(`headers:${h.n}`));
  c.cork();
  c.write(Buffer.alloc(10));
  c.write(Buffer.alloc(20));
  c.uncork();
  c.sendHeaders({ n: '1' });
  c.write(Buffer.alloc(30));
  c.end();
  await new Promise((r) => s.on('end', r));
  const joined = seen.join(' ');
  t.ok(/^(data:\d+ )+headers:1 data:30$/.test(joined), `order kept: ${joined}`);
  t.equal(seen.slice(0, -2).reduce((n, x) => n + Number(x.slice(5)), 0), 30, '30 bytes before the HEADERS');
});

t.test('a peer that never reads while making us queue RST_STREAMs is dropped at maxQueuedControlFrames', async (t) => {
  const [a, b] = await socketPair();
  // (maxStreamErrorRate off: this pushes the queue bound, not the error rate)
  const server = new Connection(a, { role: 'server', maxQueuedControlFrames: 1000, maxStreamErrorRate: 0 });
  const errors: Error[] = [];
  server.on('error', (e) => errors.push(e));
  const done = closed(server, 30000);
  b.pause(); // the attacker never reads
  b.on('error', () => {});
  t.teardown(() => b.destroy());
  // Small DATA frames on stream ids nobody opened: each one makes the server queue a RST_STREAM.
  let id = 1;
  let sent = 0;
  const batch = (): Buffer => {
    const frames: Buffer[] = [];
    for (let i = 0; i < 5000; i++, id += 2) frames.push(...encodeData(id, 0, Buffer.alloc(1)));
    sent += 5000;
    return Buffer.concat(frames);
  };
  while (!server.isClosed && sent < 3_000_000) {
    if (!b.write(batch())) await new Promise((r) => setTimeout(r, 1));
    await new Promise((r) => setImmediate(r));
  }
  const err = await done;
  t.ok(server.isClosed, `the connection was dropped after ${sent} frames`);
  t.match(err?.message, /not reading/, 'closed because the peer does not read');
  t.equal(errors.length, 1, "one 'error' event");
});

t.test('createStream({ unidirectional: true }) resolves against kube-spdy and carries data one way', async (t) => {
  const { client, server, close } = await connectionPair();
  t.teardown(close);
  const incoming = accept(server);
  const c = await client.createStream({ x: '1' }, { unidirectional: true, timeout: 2000 });
  const s = await incoming;
  t.equal(s.unidirectional, true);
  s.reply({}); // a no-op on a unidirectional stream
  const got = readAll(s);
  c.end(Buffer.from('one way'));
  t.equal((await got).toString(), 'one way');
  t.equal(c.readableEnded || (await readAll(c)).length === 0, true, 'nothing comes back');
});

t.test('createStream validates options before it touches the shared compressor', async (t) => {
  const { client, server, close } = await connectionPair();
  t.teardown(close);
  const bad = [{ idleTimeout: 1.5 }, { idleTimeout: -1 }, { timeout: -5 }, { priority: 9 }, { bogus: true }, { signal: {} }];
  for (const opts of bad) {
    let err: unknown;
    try {
      await client.createStream({ secret: 'x' }, opts as never);
    } catch (e) {
      err = e;
    }
    t.type(err, InvalidArgumentError, `${JSON.stringify(opts)} → InvalidArgumentError`);
    t.equal((err as InvalidArgumentError).code, 'ERR_INVALID_ARG');
  }
  await t.rejects(client.createStream({ Bad: 'x' }), { code: 'ERR_INVALID_ARG' }, 'invalid headers → ERR_INVALID_ARG');
  const incoming = accept(server);
  const created = client.createStream({ good: 'yes' });
  const s = await incoming;
  t.same(s.headers, { good: 'yes' }, 'the next header block still decodes on the peer');
  s.reply({});
  await created;
});

t.test('after a GOAWAY from the peer the connection closes once the open streams finish', async (t) => {
  const peer = await RawPeer.open(t, 'client');
  const created = peer.conn.createStream({});
  const syn = await peer.next(FrameType.SYN_STREAM);
  peer.reply(syn.streamId);
  const s = await created;
  peer.write(encodeGoaway(syn.streamId, GoawayStatus.OK)); // stream 1 is below last-good: it goes on
  await peer.barrier();
  t.equal(peer.conn.isClosed, false, 'still open while stream 1 is');
  const done = closed(peer.conn);
  s.end('bye');
  peer.data(syn.streamId, Buffer.from('reply'), FLAG_FIN);
  t.equal((await readAll(s)).toString(), 'reply');
  await done;
  t.ok(peer.conn.isClosed, 'closed after the last stream finished');
});

t.test('reply() with invalid headers throws ERR_INVALID_ARG and leaves the stream answerable', async (t) => {
  const { client, server, close } = await connectionPair();
  t.teardown(close);
  const incoming = accept(server);
  const created = client.createStream({});
  const s = await incoming;
  t.throws(() => s.reply({ Bad: 'x' }), { code: 'ERR_INVALID_ARG' });
  s.reply({ ok: '1' });
  const c = await created;
  t.same(c.replyHeaders, { ok: '1' });
  t.throws(() => s.reply({}), { code: 'ERR_INVALID_ARG' }, 'a second reply is refused');
});

t.test('setEncoding(): windows count bytes, not characters', async (t) => {
  const { client, server, close } = await connectionPair();
  t.teardown(close);
  const incoming = accept(server);
  const created = client.createStream({});
  const s = await incoming;
  s.setEncoding('utf8');
  s.reply({});
  const c = await created;
  const euro = Buffer.from('€'.repeat(20 * 1024)); // 60 KiB, 20 Ki characters
  c.write(euro);
  await client.ping();
  await server.ping();
  await new Promise((r) => setImmediate(r));
  t.equal(s.stats().buffered, 20 * 1024, 'nothing read: 20 Ki characters buffered');
  t.equal(c.stats().sendWindow, 64 * KiB - euro.length, 'no WINDOW_UPDATE for unread bytes');
  let text = '';
  s.on('data', (d: string) => (text += d));
  c.end();
  await new Promise((r) => s.on('end', r));
  t.equal(text, '€'.repeat(20 * 1024), 'decoded text intact');
});

t.test('close() resets streams still open at its timeout with RST_STREAM CANCEL', async (t) => {
  const peer = await RawPeer.open(t, 'server');
  peer.syn(1);
  await peer.next(FrameType.SYN_REPLY);
  await peer.conn.close({ timeout: 50 });
  const rst = await peer.rst();
  t.match(rst, { streamId: 1, status: RstStatus.CANCEL });
});

t.test('a DATA frame larger than maxReceivedDataFrameSize is refused from its header', async (t) => {
  const peer = await RawPeer.open(t, 'server');
  peer.syn(1);
  await peer.next(FrameType.SYN_REPLY);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(1, 0);
  header.writeUInt32BE(0xffffff, 4); // 16 MiB - 1 announced, no payload sent
  peer.write(header);
  t.match(await peer.goaway(), { status: GoawayStatus.PROTOCOL_ERROR }, 'GOAWAY before any payload byte');
});

t.test('flow control: what a connection holds unread is bounded by its session window, not streams × windows', async (t) => {
  const { client, server, close } = await connectionPair({}, { sessionWindowSize: 128 * KiB });
  t.teardown(close);
  const got: Stream[] = [];
  server.on('stream', (s) => {
    got.push(s);
    s.reply({});
  });
  const streams = await Promise.all([1, 2, 3, 4, 5, 6].map(() => client.createStream({})));
  for (const c of streams) c.write(Buffer.alloc(64 * KiB));
  for (let i = 0; i < 3; i++) {
    await client.ping();
    await server.ping();
  }
  const buffered = got.reduce((n, s) => n + s.readableLength, 0);
  t.ok(buffered <= 1.5 * 128 * KiB, `the server holds ${buffered / KiB} KiB unread: at most 1.5 × its 128 KiB session window (6 × 64 KiB were sent)`);
  t.equal(client.stats().sendWindow, 0, "the client's session window is used up");
  for (const s of got) s.resume();
  for (const c of streams) c.end();
  await Promise.all(got.map((s) => new Promise((r) => s.on('end', r))));
  t.equal(got.reduce((n, s) => n + s.stats().bytesIn, 0), 6 * 64 * KiB, 'reading lets the rest through');
});

t.test('flow control: a reply written after the request FIN, behind the window, is delivered in full', async (t) => {
  const { client, server, close } = await connectionPair();
  t.teardown(close);
  const body = randomBytes(MiB, 11);
  server.on('stream', (s) => {
    s.reply({});
    s.resume();
    s.on('end', () => s.end(body));
  });
  const c = await client.createStream({}, { fin: true });
  const got = await readAll(c);
  t.equal(got.length, body.length);
  t.ok(got.equals(body));
});

t.test("a local refusal (the peer's MAX_CONCURRENT_STREAMS) is a StreamError, not a peer reset", async (t) => {
  const peer = await RawPeer.open(t, 'client');
  peer.write(encodeSettings(0, [{ id: SettingsId.MAX_CONCURRENT_STREAMS, flags: 0, value: 1 }]));
  await peer.barrier();
  void peer.conn.createStream({}).catch(() => {});
  const err = await peer.conn.createStream({}).catch((e) => e);
  t.type(err, StreamError);
  t.notOk(err instanceof StreamResetError, 'not a StreamResetError');
  t.match(err, { fromPeer: false, status: RstStatus.REFUSED_STREAM, retryable: true, code: 'ERR_SPDY_STREAM' });
  peer.write(encodeGoaway(0, 0));
});

t.test('a peer reset is a StreamError with fromPeer', async (t) => {
  const peer = await RawPeer.open(t, 'client');
  const created = peer.conn.createStream({});
  const syn = await peer.next(FrameType.SYN_STREAM);
  const { encodeRstStream } = await import('../lib/frames/encoder.js');
  peer.write(encodeRstStream(syn.streamId, RstStatus.REFUSED_STREAM));
  const err = await created.catch((e) => e);
  t.type(err, StreamError);
  t.match(err, { fromPeer: true, status: RstStatus.REFUSED_STREAM, retryable: true, code: 'ERR_SPDY_RESET' });
});

t.test('unknown and invalid connection options are ERR_INVALID_ARG', async (t) => {
  const sock = new net.Socket();
  for (const opts of [{ role: 'client', bogus: 1 }, { role: 'x' }, { role: 'client', initialWindowSize: 0 }, { role: 'client', flowControl: 'yes' }]) {
    t.throws(() => new Connection(sock, opts as never), InvalidArgumentError, JSON.stringify(opts));
  }
  sock.destroy();
});

t.test("an exception in the application's 'stream' listener is not a GOAWAY for the peer", async (t) => {
  const peer = await RawPeer.open(t, 'server', {}, { accept: false });
  const thrown: unknown[] = [];
  const saved = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
  const catcher = (e: unknown): void => void thrown.push(e);
  process.on('uncaughtException', catcher);
  t.teardown(() => {
    process.off('uncaughtException', catcher);
    for (const l of saved) process.on('uncaughtException', l);
  });
  peer.conn.on('stream', (s) => {
    s.reply({});
    throw new Error('application bug');
  });
  peer.syn(1);
  const frames = await peer.barrier();
  t.notOk(frames.some((f) => f.type === FrameType.GOAWAY), 'no GOAWAY');
  t.ok(frames.some((f) => f.type === FrameType.SYN_REPLY), 'the stream was answered');
  t.equal(peer.conn.isClosed, false, 'the connection goes on');
  t.match(thrown, [{ message: 'application bug' }], 'the exception surfaced as uncaught');
  peer.syn(3);
  t.ok((await peer.barrier()).some((f) => f.type === FrameType.SYN_REPLY), 'later streams are served');
});

t.test('DATA after our RST_STREAM is dropped silently; DATA on a stream never opened is INVALID_STREAM', async (t) => {
  const peer = await RawPeer.open(t, 'server');
  peer.syn(1);
  await peer.next(FrameType.SYN_REPLY);
  peer.streams[0]!.reset(RstStatus.CANCEL);
  t.match(await peer.rst(), { streamId: 1, status: RstStatus.CANCEL });
  peer.data(1, 100);
  t.equal(dataBytes(await peer.barrier(), 1), 0);
  t.notOk((await peer.barrier()).some((f) => f.type === FrameType.RST_STREAM), 'no RST_STREAM for data in flight');
  peer.data(7, 10);
  t.match(await peer.rst(), { streamId: 7, status: RstStatus.INVALID_STREAM });
});

t.test('a peer causing more than maxStreamErrorRate stream errors per second gets GOAWAY PROTOCOL_ERROR', async (t) => {
  const peer = await RawPeer.open(t, 'server', { maxStreamErrorRate: 50 });
  for (let id = 1; id <= 49; id += 2) peer.data(id, 1); // 25 errors: answered one by one
  const first = await peer.barrier();
  t.equal(first.filter((f) => f.type === FrameType.RST_STREAM).length, 25, 'RST_STREAM INVALID_STREAM each');
  t.equal(peer.conn.isClosed, false);
  for (let id = 51; id <= 151; id += 2) peer.data(id, 1); // 51 more within the same second
  t.match(await peer.goaway(), { status: GoawayStatus.PROTOCOL_ERROR });
  await closed(peer.conn);
});
