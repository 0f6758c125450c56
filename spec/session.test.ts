import t from 'tap';
import { Connection } from '../lib/session/connection.js';
import type { Stream } from '../lib/session/stream.js';
import { FrameType, GoawayStatus, RstStatus } from '../lib/frames/constants.js';
import { encodeData, encodePing, encodeSynStream, encodeRstStream, encodeWindowUpdate } from '../lib/frames/encoder.js';
import { HeaderCompressor } from '../lib/compression/index.js';
import { TimeoutError, StreamResetError, GoawayError, ClosedError } from '../lib/errors.js';
import { connectionPair, socketPair, FrameReader, readAll, randomBytes } from './helpers.js';
import { barrier, dataBytes } from './raw-peer.js';

function echoServer(server: Connection): void {
  server.on('stream', (s: Stream) => {
    s.reply({ ok: 'yes' });
    s.on('error', () => {});
    s.pipe(s);
  });
}

for (const flowControl of [true, false]) {
  t.test(`stream echo, flow control ${flowControl ? 'on' : 'off'}`, async (t) => {
    const { client, server, close } = await connectionPair({ flowControl }, { flowControl });
    echoServer(server);
    const s = await client.createStream({ path: '/echo', streamtype: 'data' });
    t.same(s.replyHeaders, { ok: 'yes' });
    t.equal(s.id, 1);
    const payload = randomBytes(3 * 1024 * 1024 + 17, 1);
    const got = readAll(s);
    s.end(payload);
    const back = await got;
    t.equal(back.length, payload.length);
    t.ok(back.equals(payload), 'echoed byte-exact');
    const s2 = await client.createStream({ n: '2' });
    t.equal(s2.id, 3, 'client ids are odd and increase');
    s2.end();
    await readAll(s2);
    await close();
  });
}

t.test('many streams in parallel', async (t) => {
  const { client, server, close } = await connectionPair({}, {});
  echoServer(server);
  const n = 200;
  const results = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const s = await client.createStream({ i: String(i) });
      const data = randomBytes(4096, i);
      const p = readAll(s);
      s.end(data);
      return (await p).equals(data);
    }),
  );
  t.equal(results.filter(Boolean).length, n);
  t.equal(client.openStreams, 0);
  await close();
});

t.test('server-initiated stream and headers of both sides', async (t) => {
  const { client, server, close } = await connectionPair();
  client.on('stream', (s) => {
    t.same(s.headers, { from: 'server' });
    s.reply({});
    s.end('hi from client');
    s.resume();
  });
  const s = await server.createStream({ from: 'server' });
  t.equal(s.id % 2, 0, 'server ids are even');
  s.end();
  t.equal((await readAll(s)).toString(), 'hi from client');
  await close();
});

t.test('createStream times out with RST_STREAM CANCEL', async (t) => {
  const [a, b] = await socketPair();
  const client = new Connection(a, { role: 'client', flowControl: false });
  const reader = new FrameReader(b);
  const err = await client.createStream({ x: 'y' }, { timeout: 100 }).catch((e) => e);
  t.ok(err instanceof TimeoutError, 'TimeoutError');
  t.equal(err.code, 'ERR_SPDY_TIMEOUT');
  const syn = await reader.next();
  t.equal(syn.type, FrameType.SYN_STREAM);
  const rst = await reader.next();
  t.equal(rst.type, FrameType.RST_STREAM);
  t.match(rst, { streamId: 1, status: RstStatus.CANCEL });
  client.destroy();
  b.destroy();
});

t.test('abort signal cancels createStream', async (t) => {
  const [a, b] = await socketPair();
  const client = new Connection(a, { role: 'client' });
  const ac = new AbortController();
  const p = client.createStream({}, { signal: ac.signal });
  ac.abort();
  const err = await p.catch((e) => e);
  t.equal(err.code, 'ERR_ABORTED');
  client.destroy();
  b.destroy();
});

t.test('ping measures the round trip and answers the peer', async (t) => {
  const { client, server, close } = await connectionPair();
  const rtt = await client.ping();
  t.ok(rtt >= 0 && rtt < 1000, `rtt ${rtt} ms`);
  const rtt2 = await server.ping();
  t.ok(rtt2 >= 0);
  t.ok(client.stats().rtt >= 0);
  await close();
});

t.test('ping times out when nobody answers', async (t) => {
  const [a, b] = await socketPair();
  const client = new Connection(a, { role: 'client' });
  b.resume();
  const err = await client.ping({ timeout: 50 }).catch((e) => e);
  t.ok(err instanceof TimeoutError);
  client.destroy();
  b.destroy();
});

t.test('close() sends GOAWAY and the peer stops opening streams', async (t) => {
  const { client, server, close } = await connectionPair();
  echoServer(server);
  const s = await client.createStream({});
  const goaway = new Promise((r) => client.once('goaway', r));
  const closed = server.close({ timeout: 2000 });
  t.same(await goaway, { lastGoodStreamId: 1, status: GoawayStatus.OK });
  const err = await client.createStream({}).catch((e) => e);
  t.ok(err instanceof GoawayError, 'no new streams after GOAWAY');
  // The open stream still completes (graceful drain).
  const back = readAll(s);
  s.end('drain me');
  t.equal((await back).toString(), 'drain me');
  await closed;
  t.ok(server.isClosed);
  await close();
});

t.test('GOAWAY fails streams above last-good with a retryable error', async (t) => {
  const [a, b] = await socketPair();
  const client = new Connection(a, { role: 'client' });
  const reader = new FrameReader(b);
  const p1 = client.createStream({});
  const p2 = client.createStream({});
  await reader.nextOfType(FrameType.SYN_STREAM);
  await reader.nextOfType(FrameType.SYN_STREAM);
  const { encodeGoaway, encodeSynReply } = await import('../lib/frames/encoder.js');
  const comp = new HeaderCompressor();
  b.write(encodeSynReply(1, 0, comp.compress({})));
  b.write(encodeGoaway(1, GoawayStatus.OK));
  const s1 = await p1;
  t.equal(s1.id, 1);
  const err = await p2.catch((e) => e);
  t.ok(err instanceof GoawayError);
  t.equal(err.retryable, true);
  t.equal(err.lastGoodStreamId, 1);
  client.destroy();
  b.destroy();
});

t.test('peer RST_STREAM rejects createStream with the status', async (t) => {
  const [a, b] = await socketPair();
  const client = new Connection(a, { role: 'client' });
  const reader = new FrameReader(b);
  const p = client.createStream({});
  await reader.nextOfType(FrameType.SYN_STREAM);
  b.write(encodeRstStream(1, RstStatus.REFUSED_STREAM));
  const err = await p.catch((e) => e);
  t.ok(err instanceof StreamResetError);
  t.equal(err.status, RstStatus.REFUSED_STREAM);
  t.equal(err.retryable, true);
  // never answer a RST_STREAM with a RST_STREAM
  t.same(await barrier(b, reader, 0), [], 'nothing sent back');
  client.destroy();
  b.destroy();
});

t.test('a malformed frame gets GOAWAY PROTOCOL_ERROR and no crash', async (t) => {
  const [a, b] = await socketPair();
  const server = new Connection(a, { role: 'server' });
  const errors: Error[] = [];
  server.on('error', (e) => errors.push(e));
  const closed = new Promise<Error | undefined>((r) => server.once('close', r));
  const reader = new FrameReader(b);
  // PING with length 5
  b.write(Buffer.from('80030006000000051234567800', 'hex'));
  const g = await reader.nextOfType(FrameType.GOAWAY);
  t.match(g, { type: FrameType.GOAWAY, status: GoawayStatus.PROTOCOL_ERROR, lastGoodStreamId: 0 });
  const err = await closed;
  t.equal((err as { code?: string })?.code, 'ERR_SPDY_SESSION');
  t.equal(errors.length, 1);
  b.destroy();
});

t.test('a corrupt header block is a session error', async (t) => {
  const [a, b] = await socketPair();
  const server = new Connection(a, { role: 'server' });
  server.on('stream', () => t.fail('no stream expected'));
  const reader = new FrameReader(b);
  b.write(encodeSynStream({ streamId: 1, associatedStreamId: 0, priority: 0, slot: 0, flags: 0, headerBlock: Buffer.from('78f9e3c6a7c2ffffffffffff', 'hex') }));
  const g = await reader.nextOfType(FrameType.GOAWAY);
  t.match(g, { status: GoawayStatus.PROTOCOL_ERROR });
  b.destroy();
});

t.test('stream rules from the reference table', async (t) => {
  const [a, b] = await socketPair();
  const server = new Connection(a, { role: 'server' });
  const streams: Stream[] = [];
  server.on('stream', (s) => {
    s.on('error', () => {});
    streams.push(s);
    s.reply({});
  });
  const reader = new FrameReader(b);
  const comp = new HeaderCompressor();
  const syn = (id: number, headers: Record<string, string> = {}, flags = 0): Buffer =>
    encodeSynStream({ streamId: id, associatedStreamId: 0, priority: 0, slot: 0, flags, headerBlock: comp.compress(headers) });

  // DATA on a stream that is not open → RST INVALID_STREAM
  b.write(Buffer.concat(encodeData(5, 0, Buffer.from('x'))));
  t.match(await reader.nextOfType(FrameType.RST_STREAM), { streamId: 5, status: RstStatus.INVALID_STREAM });

  // open stream 1 with FIN; DATA after FIN → STREAM_ALREADY_CLOSED
  b.write(syn(1, { a: 'b' }, 0x01));
  t.match(await reader.nextOfType(FrameType.SYN_REPLY), { streamId: 1 });
  b.write(Buffer.concat(encodeData(1, 0, Buffer.from('late'))));
  t.match(await reader.nextOfType(FrameType.RST_STREAM), { streamId: 1, status: RstStatus.STREAM_ALREADY_CLOSED });

  // second SYN_STREAM on a live id → stream error PROTOCOL_ERROR
  b.write(syn(3));
  t.match(await reader.nextOfType(FrameType.SYN_REPLY), { streamId: 3 });
  b.write(syn(3));
  t.match(await reader.nextOfType(FrameType.RST_STREAM), { streamId: 3, status: RstStatus.PROTOCOL_ERROR });

  // WINDOW_UPDATE delta 0 on a stream → RST FLOW_CONTROL_ERROR
  b.write(syn(7));
  t.match(await reader.nextOfType(FrameType.SYN_REPLY), { streamId: 7 });
  b.write(encodeWindowUpdateRaw(7, 0));
  t.match(await reader.nextOfType(FrameType.RST_STREAM), { streamId: 7, status: RstStatus.FLOW_CONTROL_ERROR });

  // a PING of the peer's parity is echoed
  b.write(encodePing(11));
  t.match(await reader.nextOfType(FrameType.PING), { id: 11 });

  // unknown control frame type is skipped, not fatal
  b.write(Buffer.from('8003ffff00000003aabbcc', 'hex'));
  b.write(encodePing(13));
  t.match(await reader.nextOfType(FrameType.PING), { id: 13 });

  // SYN_STREAM id not greater than the previous → GOAWAY PROTOCOL_ERROR
  b.write(syn(5));
  t.match(await reader.nextOfType(FrameType.GOAWAY), { status: GoawayStatus.PROTOCOL_ERROR, lastGoodStreamId: 7 });
  b.destroy();
});

function encodeWindowUpdateRaw(streamId: number, delta: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(0x80030009, 0);
  b.writeUInt32BE(8, 4);
  b.writeUInt32BE(streamId, 8);
  b.writeUInt32BE(delta, 12);
  return b;
}

t.test('incoming streams are refused when nobody listens', async (t) => {
  const { client, close } = await connectionPair();
  const err = await client.createStream({}).catch((e) => e);
  t.ok(err instanceof StreamResetError);
  t.equal(err.status, RstStatus.REFUSED_STREAM);
  await close();
});

t.test('flow control: a peer that never sends WINDOW_UPDATE does not stall compatibility mode', async (t) => {
  const [a, b] = await socketPair();
  const client = new Connection(a, { role: 'client', flowControl: false });
  const reader = new FrameReader(b);
  const p = client.createStream({});
  await reader.next();
  const comp = new HeaderCompressor();
  const { encodeSynReply } = await import('../lib/frames/encoder.js');
  b.write(encodeSynReply(1, 0, comp.compress({})));
  const s = await p;
  const data = randomBytes(1024 * 1024, 9);
  s.end(data);
  const got: Buffer[] = [];
  let n = 0;
  while (n < data.length) {
    const f = await reader.next(5000);
    if (f.type === FrameType.DATA) {
      got.push(Buffer.from(f.data));
      n += f.data.length;
    }
  }
  t.ok(Buffer.concat(got).equals(data), '1 MiB sent without any WINDOW_UPDATE');
  client.destroy();
  b.destroy();
});

t.test('flow control on: sender waits for WINDOW_UPDATE and DATA beyond the window is an error', async (t) => {
  const [a, b] = await socketPair();
  const client = new Connection(a, { role: 'client', flowControl: true });
  const reader = new FrameReader(b);
  const p = client.createStream({});
  await reader.nextOfType(FrameType.SYN_STREAM);
  const comp = new HeaderCompressor();
  const { encodeSynReply } = await import('../lib/frames/encoder.js');
  b.write(encodeSynReply(1, 0, comp.compress({})));
  const s = await p;
  s.write(randomBytes(200 * 1024, 3));
  const n = dataBytes(await barrier(b, reader, 0), 1);
  t.equal(n, 65536, 'exactly one initial window sent');
  b.write(encodeWindowUpdate(1, 1000));
  b.write(encodeWindowUpdate(0, 1000));
  const m = dataBytes(await barrier(b, reader, 0), 1);
  t.equal(m, 1000, 'the update let 1000 more bytes through');
  client.destroy();
  b.destroy();
});

t.test('destroying a stream sends RST_STREAM CANCEL; peer sees it closed', async (t) => {
  const { client, server, close } = await connectionPair();
  const gotStream = new Promise<Stream>((r) =>
    server.on('stream', (s) => {
      s.reply({});
      r(s);
    }),
  );
  const s = await client.createStream({});
  const peer = await gotStream;
  const closed = new Promise((r) => peer.once('close', r));
  s.destroy();
  await closed;
  t.equal(server.openStreams, 0);
  t.equal((peer.closeError as { status?: number } | null)?.status, RstStatus.CANCEL, 'closeError tells the peer reset it with CANCEL');
  await close();
});

t.test('connection loss fails streams and pending calls', async (t) => {
  const { client, server, close } = await connectionPair();
  server.on('stream', () => {}); // never replies
  const p = client.createStream({});
  await new Promise((r) => setTimeout(r, 50));
  server.socket.destroy();
  const err = await p.catch((e) => e);
  t.ok(err instanceof ClosedError, err?.message);
  await close();
});

t.test('stats count frames and bytes', async (t) => {
  const { client, server, close } = await connectionPair();
  echoServer(server);
  const s = await client.createStream({});
  const back = readAll(s);
  s.end(Buffer.alloc(1000, 1));
  await back;
  const st = client.stats();
  t.ok(st.bytesOut > 1000 && st.bytesIn > 1000);
  t.ok(st.framesOut >= 3 && st.framesIn >= 2);
  await close();
});
