// flowControl: 'auto' — compatibility mode until the peer shows it implements SPDY/3.1 windows
// (SETTINGS INITIAL_WINDOW_SIZE or a WINDOW_UPDATE), then windows both ways.
import t from 'tap';
import { Connection } from '../lib/session/connection.js';
import type { Stream } from '../lib/session/stream.js';
import { FrameType, SettingsId } from '../lib/frames/constants.js';
import { encodeData, encodeSettings, encodeSynStream, encodeWindowUpdate } from '../lib/frames/encoder.js';
import { HeaderCompressor } from '../lib/compression/index.js';
import { connectionPair, socketPair, FrameReader, readAll, randomBytes } from './helpers.js';

async function echoServer(server: Connection): Promise<void> {
  server.on('stream', (s) => {
    s.reply({});
    s.pipe(s);
  });
}

async function roundTrip(client: Connection, n: number, seed: number): Promise<boolean> {
  const s = await client.createStream({});
  const data = randomBytes(n, seed);
  s.end(data);
  const got = await readAll(s);
  return got.equals(data);
}

t.test("'auto' ↔ 'auto': both switch to flow control after the first exchange", async (t) => {
  const { client, server, close } = await connectionPair({ flowControl: 'auto' }, { flowControl: 'auto' });
  await echoServer(server);
  t.equal(client.flowControlActive, false, 'starts in compatibility mode');
  t.ok(await roundTrip(client, 3 * 1024 * 1024, 1), '3 MiB echoed byte-exact');
  t.equal(client.flowControlActive, true, 'client switched on');
  t.equal(server.flowControlActive, true, 'server switched on');
  t.equal(client.stats().flowControl, true, 'stats() shows it');
  t.ok((client.stats().framesByType.in.WINDOW_UPDATE ?? 0) > 0, 'the client received WINDOW_UPDATEs');
  await close();
});

t.test("'auto' ↔ compatibility-mode peer: stays off, nothing waits on a window", async (t) => {
  const { client, server, close } = await connectionPair({ flowControl: 'auto' }, { flowControl: false });
  await echoServer(server);
  t.ok(await roundTrip(client, 2 * 1024 * 1024, 2), '2 MiB (32 × the default window) echoed byte-exact');
  t.equal(client.flowControlActive, false, 'client stays in compatibility mode');
  t.equal(client.stats().framesByType.out.WINDOW_UPDATE ?? 0, 1, 'only the session WINDOW_UPDATE of the start was sent');
  await close();
});

t.test("'auto' client ↔ flow-control server (true): switches", async (t) => {
  const { client, server, close } = await connectionPair({ flowControl: 'auto' }, { flowControl: true });
  await echoServer(server);
  t.ok(await roundTrip(client, 1024 * 1024, 3));
  t.equal(client.flowControlActive, true);
  await close();
});

t.test("'auto' server ↔ flow-control client (true): switches on the client's SETTINGS", async (t) => {
  const { client, server, close } = await connectionPair({ flowControl: true }, { flowControl: 'auto' });
  await echoServer(server);
  t.ok(await roundTrip(client, 1024 * 1024, 4));
  t.equal(server.flowControlActive, true);
  await close();
});

t.test("'auto' announces its window in SETTINGS even at the default size, and a WINDOW_UPDATE", async (t) => {
  const [a, b] = await socketPair();
  const client = new Connection(a, { role: 'client', flowControl: 'auto' });
  const reader = new FrameReader(b);
  const s = await reader.nextOfType(FrameType.SETTINGS);
  t.ok(s.type === FrameType.SETTINGS && s.entries.some((e) => e.id === SettingsId.INITIAL_WINDOW_SIZE && e.value === 65536), 'INITIAL_WINDOW_SIZE 65536');
  t.match(await reader.nextOfType(FrameType.WINDOW_UPDATE), { streamId: 0 });
  client.destroy();
  b.destroy();
});

t.test("with flow control on, an unread stream holds back neither the socket nor the other streams", async (t) => {
  const { client, server, close } = await connectionPair({ flowControl: 'auto', initialWindowSize: 65536 }, { flowControl: 'auto' });
  // The server sends 4 MiB on every stream as fast as the windows let it.
  const big = randomBytes(4 * 1024 * 1024, 5);
  server.on('stream', (s) => {
    s.reply({});
    s.resume();
    s.end(big);
  });
  const stalled = await client.createStream({});
  stalled.pause(); // never read
  // Meanwhile ten more streams are read to the end, byte-exact.
  for (let i = 0; i < 10; i++) {
    const s = await client.createStream({});
    s.end();
    t.ok((await readAll(s)).equals(big), `stream ${s.id} complete while stream ${stalled.id} is unread`);
  }
  t.equal(client.readPaused, false, 'the socket was never paused');
  t.ok(stalled.readableLength <= 65536, `the unread stream buffers ${stalled.readableLength} bytes (its window)`);
  // The stalled one resumes byte-exact.
  t.ok((await readAll(stalled)).equals(big), 'the unread stream resumes byte-exact');
  await close();
});

t.test("'auto': DATA beyond the window sent before the peer saw our SETTINGS is buffered, not reset", async (t) => {
  const [a, b] = await socketPair();
  const client = new Connection(a, { role: 'client', flowControl: 'auto', streamHighWaterMark: 1 << 20 });
  const reader = new FrameReader(b);
  await reader.nextOfType(FrameType.SETTINGS);
  const comp = new HeaderCompressor();
  const p = client.createStream({});
  const syn = await reader.nextOfType(FrameType.SYN_STREAM);
  b.write(encodeWindowUpdate(0, 1 << 20)); // the peer speaks flow control…
  const { encodeSynReply } = await import('../lib/frames/encoder.js');
  b.write(encodeSynReply(syn.type === FrameType.SYN_STREAM ? syn.streamId : 0, 0, comp.compress({})));
  const stream: Stream = await p;
  // …but its first 200 KiB overrun our 64 KiB window (it had not applied our SETTINGS yet).
  const payload = randomBytes(200 * 1024, 6);
  for (let off = 0; off < payload.length; off += 16384) b.write(Buffer.concat(encodeData(stream.id, 0, payload.subarray(off, off + 16384))));
  b.write(Buffer.concat(encodeData(stream.id, 1, Buffer.alloc(0))));
  t.ok((await readAll(stream)).equals(payload), 'delivered byte-exact, no RST_STREAM');
  t.equal(client.flowControlActive, true);
  t.notOk(client.isClosed);
  client.destroy();
  b.destroy();
});

t.test('flowControl must be true, false or auto', async (t) => {
  const [a, b] = await socketPair();
  t.throws(() => new Connection(a, { role: 'client', flowControl: 'yes' as never }), { code: 'ERR_INVALID_ARG' });
  a.destroy();
  b.destroy();
});
