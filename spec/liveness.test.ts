import t from 'tap';
import { Connection } from '../lib/session/connection.js';
import { FrameType, GoawayStatus } from '../lib/frames/constants.js';
import { encodePing, encodeSettings } from '../lib/frames/encoder.js';
import { LivenessError } from '../lib/errors.js';
import { RateLimit } from '../lib/session/limits.js';
import { connectionPair, socketPair, FrameReader, readAll, randomBytes } from './helpers.js';
import { peerExcused } from '../lib/session/liveness.js';

t.test('a peer that stops answering is declared dead within interval + timeout', async (t) => {
  const [a, b] = await socketPair();
  const client = new Connection(a, { role: 'client', pingInterval: 100, pingTimeout: 150 });
  const reader = new FrameReader(b); // reads, never answers: a silently dropped connection
  const start = Date.now();
  const err = await new Promise<Error | undefined>((r) => client.once('close', r));
  const ms = Date.now() - start;
  t.ok(err instanceof LivenessError, `closed with ${err?.constructor.name}`);
  t.equal((err as LivenessError).code, 'ERR_SPDY_LIVENESS');
  t.ok(ms >= 240 && ms < 1500, `declared dead after ${ms} ms (interval 100 + timeout 150, plus scheduling slack)`);
  const ping = await reader.nextOfType(FrameType.PING);
  t.equal(ping.type === FrameType.PING && ping.id % 2, 1, 'client pings carry odd ids');
  b.destroy();
});

t.test('a live peer keeps the connection up; pings do not defeat the idle timeout', async (t) => {
  const { client, server, close } = await connectionPair({ pingInterval: 30, pingTimeout: 500, idleTimeout: 300 }, {});
  let pings = 0;
  server.on('ping', () => pings++);
  const start = Date.now();
  const err = await new Promise<Error | undefined>((r) => client.once('close', r));
  const ms = Date.now() - start;
  t.equal(err, undefined, 'idle close is graceful');
  t.ok(pings >= 3, `${pings} pings answered meanwhile`);
  t.ok(ms >= 300 && ms < 2000, `closed after ${ms} ms idle (timeout 300, checked every 75 ms)`);
  await close();
});

t.test('open streams keep an idle connection open', async (t) => {
  const { client, server, close } = await connectionPair({ idleTimeout: 100 }, {});
  server.on('stream', (s) => s.reply({}));
  const s = await client.createStream({});
  await new Promise((r) => setTimeout(r, 350));
  t.equal(client.isClosed, false, 'still open with a stream open');
  s.destroy();
  const err = await new Promise<Error | undefined>((r) => client.once('close', r));
  t.equal(err, undefined);
  await close();
});

t.test('PING flood → GOAWAY PROTOCOL_ERROR', async (t) => {
  const [a, b] = await socketPair();
  const server = new Connection(a, { role: 'server', maxPingRate: 50 });
  server.on('error', () => {});
  const reader = new FrameReader(b);
  const pings = [];
  for (let i = 0; i < 60; i++) pings.push(encodePing(2 * i + 1));
  b.write(Buffer.concat(pings));
  const g = await reader.nextOfType(FrameType.GOAWAY);
  t.match(g, { status: GoawayStatus.PROTOCOL_ERROR });
  b.destroy();
});

t.test('SETTINGS flood → GOAWAY PROTOCOL_ERROR', async (t) => {
  const [a, b] = await socketPair();
  const server = new Connection(a, { role: 'server', maxSettingsRate: 10 });
  server.on('error', () => {});
  const reader = new FrameReader(b);
  const frames = [];
  for (let i = 0; i < 20; i++) frames.push(encodeSettings(0, [{ id: 4, flags: 0, value: 100 }]));
  b.write(Buffer.concat(frames));
  t.match(await reader.nextOfType(FrameType.GOAWAY), { status: GoawayStatus.PROTOCOL_ERROR });
  b.destroy();
});

t.test('RateLimit counts per one-second window', async (t) => {
  const r = new RateLimit(3);
  t.same([r.hit(0), r.hit(1), r.hit(2), r.hit(3)], [true, true, true, false]);
  t.equal(r.hit(1000), true, 'a new window');
  t.equal(new RateLimit(0).hit(), true, '0 disables');
});

t.test('a slow local reader is not a dead peer: no liveness failure while reading is paused', async (t) => {
  // Compatibility mode: the unread stream pauses the socket, so the server's PING replies queue behind
  // its DATA. The server is alive; liveness must not fire.
  const { client, server, close } = await connectionPair({ flowControl: false, pingInterval: 50, pingTimeout: 300, streamHighWaterMark: 65536 }, { flowControl: false });
  const payload = randomBytes(16 * 1024 * 1024, 7);
  server.on('stream', (s) => {
    s.reply({});
    s.resume();
    s.end(payload);
  });
  const stream = await client.createStream({});
  stream.end();
  stream.pause();
  let closed: Error | undefined | null = null;
  client.once('close', (e) => (closed = e ?? new Error('closed')));
  await new Promise((r) => setTimeout(r, 1500)); // many ping intervals and timeouts (300 ms: slack for a loaded CI machine)
  t.equal(client.readPaused, true, 'reading is paused for the slow reader');
  t.equal(closed, null, 'the connection was not declared dead');
  t.ok((await readAll(stream)).equals(payload), 'the stream resumes byte-exact');
  t.notOk(client.isClosed);
  t.ok(Number.isFinite(await client.ping({ timeout: 2000 })), 'and PINGs are answered again');
  await close();
});

t.test('peerExcused: a timeout counts only if reading never paused and nothing arrived', async (t) => {
  const h = (paused: boolean, pauses: number, bytesIn: number) => ({ paused, pauses, bytesIn });
  t.equal(peerExcused(h(false, 0, 10), h(false, 0, 10)), false, 'silent and reading: the peer is to blame');
  t.equal(peerExcused(h(true, 1, 10), h(true, 1, 10)), true, 'paused throughout');
  t.equal(peerExcused(h(false, 1, 10), h(false, 2, 10)), true, 'paused meanwhile');
  t.equal(peerExcused(h(false, 1, 10), h(false, 1, 20)), true, 'bytes arrived');
});
