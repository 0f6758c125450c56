// Every row of the stream/flow-control rules in the shared reference (spdy31-wire.md) gives the stated
// RST_STREAM or GOAWAY code. A raw TCP peer speaks to a kube-spdy Connection and reads what comes back.
import t from 'tap';
import type net from 'node:net';
import { Connection } from '../lib/session/connection.js';
import type { ConnectionOptions } from '../lib/session/options.js';
import type { Stream } from '../lib/session/stream.js';
import { FrameType, GoawayStatus, RstStatus } from '../lib/frames/constants.js';
import {
  encodeData,
  encodeRstStream,
  encodeSettings,
  encodeSynReply,
  encodeSynStream,
  encodeWindowUpdate,
  encodePing,
} from '../lib/frames/encoder.js';
import { HeaderCompressor } from '../lib/compression/index.js';
import { RawPeer } from './raw-peer.js';

/** The shared raw peer (spec/raw-peer.ts). */
const harness = RawPeer.open;

t.test('SYN_STREAM id of the wrong parity → GOAWAY PROTOCOL_ERROR', async (t) => {
  const h = await harness(t, 'server');
  h.syn(2);
  t.match(await h.goaway(), { status: GoawayStatus.PROTOCOL_ERROR, lastGoodStreamId: 0 });
});

t.test('SYN_STREAM id not greater than the previous one → GOAWAY PROTOCOL_ERROR with the last good id', async (t) => {
  const h = await harness(t, 'server');
  h.syn(5);
  await h.reader.nextOfType(FrameType.SYN_REPLY);
  h.syn(3);
  t.match(await h.goaway(), { status: GoawayStatus.PROTOCOL_ERROR, lastGoodStreamId: 5 });
  if (!h.conn.isClosed) await new Promise((r) => h.conn.once('close', r));
  t.ok(h.conn.isClosed, 'session error closes the connection');
});

t.test('second SYN_STREAM on a live id → RST_STREAM PROTOCOL_ERROR; the session lives', async (t) => {
  const h = await harness(t, 'server');
  h.syn(1);
  await h.reader.nextOfType(FrameType.SYN_REPLY);
  h.syn(1);
  t.match(await h.rst(), { streamId: 1, status: RstStatus.PROTOCOL_ERROR });
  await h.alive();
});

t.test('refusing a new stream: over maxConcurrentStreams, or after GOAWAY → RST_STREAM REFUSED_STREAM', async (t) => {
  const h = await harness(t, 'server', { maxConcurrentStreams: 1 });
  h.syn(1);
  await h.reader.nextOfType(FrameType.SYN_REPLY);
  h.syn(3);
  t.match(await h.rst(), { streamId: 3, status: RstStatus.REFUSED_STREAM });
  void h.conn.close({ timeout: 5000 });
  t.match(await h.goaway(), { status: GoawayStatus.OK, lastGoodStreamId: 1 });
  h.syn(5);
  t.match(await h.rst(), { streamId: 5, status: RstStatus.REFUSED_STREAM });
});

t.test('DATA on a stream that is not open → RST_STREAM INVALID_STREAM', async (t) => {
  const h = await harness(t, 'server');
  h.data(9, 10);
  t.match(await h.rst(), { streamId: 9, status: RstStatus.INVALID_STREAM });
  await h.alive();
});

t.test('the creator receives DATA before SYN_REPLY → RST_STREAM PROTOCOL_ERROR', async (t) => {
  const h = await harness(t, 'client');
  const p = h.conn.createStream({ x: 'y' }).catch((e) => e);
  await h.reader.nextOfType(FrameType.SYN_STREAM);
  h.data(1, 5);
  t.match(await h.rst(), { streamId: 1, status: RstStatus.PROTOCOL_ERROR });
  t.equal((await p).code, 'ERR_SPDY_STREAM');
});

t.test('DATA after the peer FIN → RST_STREAM STREAM_ALREADY_CLOSED', async (t) => {
  const h = await harness(t, 'server');
  h.syn(1, { a: 'b' }, 0x01);
  await h.reader.nextOfType(FrameType.SYN_REPLY);
  h.data(1, 3);
  t.match(await h.rst(), { streamId: 1, status: RstStatus.STREAM_ALREADY_CLOSED });
});

t.test('second SYN_REPLY → RST_STREAM STREAM_IN_USE', async (t) => {
  const h = await harness(t, 'client');
  const p = h.conn.createStream({});
  await h.reader.nextOfType(FrameType.SYN_STREAM);
  h.socket.write(encodeSynReply(1, 0, h.comp.compress({})));
  await p;
  h.socket.write(encodeSynReply(1, 0, h.comp.compress({})));
  t.match(await h.rst(), { streamId: 1, status: RstStatus.STREAM_IN_USE });
});

t.test('a control frame larger than supported → GOAWAY PROTOCOL_ERROR (checked from its header)', async (t) => {
  const h = await harness(t, 'server', { maxControlFrameSize: 8192 });
  const big = Buffer.alloc(8 + 9000);
  big.writeUInt32BE(0x80030001, 0);
  big.writeUInt32BE(9000, 4);
  h.socket.write(big.subarray(0, 8)); // only the header: rejected before the payload is read
  t.match(await h.goaway(), { status: GoawayStatus.PROTOCOL_ERROR });
});

t.test('a header block over the header-count limit → RST_STREAM, the shared zlib context stays in sync', async (t) => {
  const h = await harness(t, 'server', { maxHeaderCount: 4 });
  const many: Record<string, string> = {};
  for (let i = 0; i < 10; i++) many[`h${i}`] = 'v';
  h.syn(1, many);
  const r = await h.rst();
  t.equal(r.streamId, 1);
  t.ok(r.status === RstStatus.FRAME_TOO_LARGE || r.status === RstStatus.PROTOCOL_ERROR, `status ${r.status}`);
  h.syn(3, { ok: 'yes' });
  t.match(await h.reader.nextOfType(FrameType.SYN_REPLY), { streamId: 3 }, 'the next block still inflates');
  t.same(h.streams.map((s) => s.headers), [{ ok: 'yes' }]);
});

t.test('an upper-case header name → RST_STREAM PROTOCOL_ERROR; the session lives', async (t) => {
  const h = await harness(t, 'server');
  const block = Buffer.alloc(4 + 4 + 4 + 4 + 1);
  block.writeUInt32BE(1, 0);
  block.writeUInt32BE(4, 4);
  block.write('Port', 8);
  block.writeUInt32BE(1, 12);
  block.write('1', 16);
  h.socket.write(encodeSynStream({ streamId: 1, associatedStreamId: 0, priority: 0, slot: 0, flags: 0, headerBlock: h.comp.compressBlock(block) }));
  t.match(await h.rst(), { streamId: 1, status: RstStatus.PROTOCOL_ERROR });
  h.syn(3);
  t.match(await h.reader.nextOfType(FrameType.SYN_REPLY), { streamId: 3 });
});

t.test('a header block that inflates past the limit → GOAWAY PROTOCOL_ERROR', async (t) => {
  const h = await harness(t, 'server', { maxHeaderBlockSize: 4096 });
  h.syn(1, { big: 'x'.repeat(100000) });
  t.match(await h.goaway(), { status: GoawayStatus.PROTOCOL_ERROR });
});

t.test('a RST_STREAM received is never answered', async (t) => {
  const h = await harness(t, 'server');
  h.syn(1);
  await h.reader.nextOfType(FrameType.SYN_REPLY);
  h.socket.write(encodeRstStream(1, RstStatus.CANCEL));
  h.socket.write(encodeRstStream(77, RstStatus.CANCEL)); // unknown stream too
  t.same(await h.barrier(), [], 'nothing but the PING echoes was sent');
});

t.test('flow control: DATA beyond the stream window → RST_STREAM FLOW_CONTROL_ERROR', async (t) => {
  const h = await harness(t, 'server', { flowControl: true, sessionWindowSize: 1 << 20 });
  h.syn(1);
  await h.reader.nextOfType(FrameType.SYN_REPLY);
  h.data(1, 65536);
  h.data(1, 1);
  t.match(await h.rst(), { streamId: 1, status: RstStatus.FLOW_CONTROL_ERROR });
  await h.alive();
});

t.test('flow control: DATA beyond the session window → GOAWAY PROTOCOL_ERROR', async (t) => {
  const h = await harness(t, 'server', { flowControl: true, sessionWindowSize: 65536, initialWindowSize: 1 << 20 });
  h.syn(1);
  await h.reader.nextOfType(FrameType.SYN_REPLY);
  // Our SETTINGS raised the stream window to 1 MiB; the session window stays 64 KiB. (The session window
  // is given back as DATA is received, so only a single frame larger than it can overrun it.)
  h.data(1, 100000);
  t.match(await h.goaway(), { status: GoawayStatus.PROTOCOL_ERROR });
});

t.test('WINDOW_UPDATE: delta 0 and overflow past 2^31-1', async (t) => {
  const h = await harness(t, 'server', { flowControl: true });
  h.syn(1);
  await h.reader.nextOfType(FrameType.SYN_REPLY);
  h.socket.write(encodeWindowUpdate(1, 0x7fffffff));
  t.match(await h.rst(), { streamId: 1, status: RstStatus.FLOW_CONTROL_ERROR }, 'stream window overflow');
  h.syn(3);
  await h.reader.nextOfType(FrameType.SYN_REPLY);
  h.socket.write(encodeWindowUpdate(0, 0x7fffffff));
  t.match(await h.goaway(), { status: GoawayStatus.PROTOCOL_ERROR }, 'session window overflow');
});

t.test('SETTINGS INITIAL_WINDOW_SIZE above 2^31-1 → GOAWAY PROTOCOL_ERROR', async (t) => {
  const h = await harness(t, 'server', { flowControl: true });
  h.socket.write(encodeSettings(0, [{ id: 7, flags: 0, value: 0x80000000 }]));
  t.match(await h.goaway(), { status: GoawayStatus.PROTOCOL_ERROR });
});

t.test('unknown control frame types are skipped, not fatal', async (t) => {
  const h = await harness(t, 'server');
  h.socket.write(Buffer.from('8003002a00000004deadbeef', 'hex'));
  h.socket.write(Buffer.from('8003000a00000002abcd', 'hex')); // CREDENTIAL: skipped in 3.1
  await h.alive();
  t.equal(h.conn.isClosed, false);
});

t.test('stream idle timeout: RST_STREAM CANCEL and a TimeoutError', async (t) => {
  const h = await harness(t, 'server', { streamIdleTimeout: 80 });
  h.syn(1);
  await h.reader.nextOfType(FrameType.SYN_REPLY);
  const s = h.streams[0]!;
  const err = await new Promise<Error>((r) => s.once('error', r));
  t.equal((err as { code?: string }).code, 'ERR_SPDY_TIMEOUT');
  t.match(await h.rst(), { streamId: 1, status: RstStatus.CANCEL });
});

t.test('SETTINGS advertises MAX_CONCURRENT_STREAMS when flow control is on; compatibility mode stays quiet', async (t) => {
  const h = await harness(t, 'client', { flowControl: true, maxConcurrentStreams: 7 });
  const f = await h.reader.nextOfType(FrameType.SETTINGS);
  t.match(f.type === FrameType.SETTINGS && f.entries.find((e) => e.id === 4), { value: 7 });
  const q = await harness(t, 'client', { flowControl: false });
  t.same(await q.barrier(), [], 'nothing but the PING echoes');
});

t.test('RST_STREAM flood ("rapid reset") → GOAWAY PROTOCOL_ERROR', async (t) => {
  const h = await harness(t, 'server', { maxResetRate: 20 });
  for (let i = 0; i < 30; i++) {
    h.syn(2 * i + 1);
    h.socket.write(encodeRstStream(2 * i + 1, RstStatus.CANCEL));
  }
  t.match(await h.goaway(), { status: GoawayStatus.PROTOCOL_ERROR });
});
