/**
 * lib/frames: reference vectors (decode + byte-exact re-encode), split-input fuzzing, every decoder
 * error rule, encoder argument checks, and random round trips.
 */
import { readFileSync, readdirSync } from 'node:fs';
import t, { type Test } from 'tap';
import { SessionError } from '../lib/errors.js';
import {
  FLAG_FIN,
  FrameDecoder,
  FrameType,
  GoawayStatus,
  encodeData,
  encodeDataHeader,
  encodeFrame,
  encodeGoaway,
  encodeHeaders,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeSynReply,
  encodeSynStream,
  encodeWindowUpdate,
  type Frame,
  type FrameDecoderOptions,
} from '../lib/frames/index.js';

const VECTORS = new URL('../fixtures/vectors/', import.meta.url);
const vector = (name: string): Buffer => Buffer.from(readFileSync(new URL(`${name}.hex`, VECTORS), 'utf8').trim(), 'hex');
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** mulberry32: a small fixed-seed PRNG so every run sees the same "random" input. */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return Math.floor((((x ^ (x >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/** Frames with their Buffers as hex, for deep comparison. */
function norm(f: Frame): Record<string, unknown> {
  const o: Record<string, unknown> = { ...f };
  for (const k of ['data', 'headerBlock']) if (Buffer.isBuffer(o[k])) o[k] = (o[k] as Buffer).toString('hex');
  return o;
}

/** Decodes everything in `chunks`, pulling frames after each push like the session does. */
function decodeAll(chunks: Buffer[], options?: FrameDecoderOptions): Frame[] {
  const dec = new FrameDecoder(options);
  const out: Frame[] = [];
  for (const c of chunks) {
    dec.push(c);
    for (let f = dec.next(); f !== null; f = dec.next()) out.push(f);
  }
  if (dec.bufferedBytes !== 0) throw new Error(`${dec.bufferedBytes} bytes left over`);
  return out;
}

const expected: Record<string, Frame> = {
  'data-hello': { type: FrameType.DATA, streamId: 1, flags: 0, data: Buffer.from('hello') },
  'rst-stream': { type: FrameType.RST_STREAM, streamId: 1, flags: 0, status: 1 },
  settings: { type: FrameType.SETTINGS, flags: 0, entries: [{ id: 7, flags: 1, value: 256 }] },
  ping: { type: FrameType.PING, flags: 0, id: 0x12345678 },
  goaway: { type: FrameType.GOAWAY, flags: 0, lastGoodStreamId: 1, status: 2 },
  'window-update': { type: FrameType.WINDOW_UPDATE, streamId: 1, flags: 0, delta: 0xabca },
  'syn-stream': {
    type: FrameType.SYN_STREAM,
    streamId: 1,
    associatedStreamId: 0,
    priority: 0,
    slot: 0,
    flags: 0,
    headerBlock: hex('78f9e3c6a7c2 02e50e507ab442a45a77d7105006b32a4804974d8cfa 00000000ffff'),
  },
  'syn-reply-stored': { type: FrameType.SYN_REPLY, streamId: 1, flags: 0, headerBlock: vector('syn-reply-stored').subarray(12) },
  'headers-after-syn-reply': { type: FrameType.HEADERS, streamId: 1, flags: 0, headerBlock: vector('headers-after-syn-reply').subarray(12) },
};

t.test('fixture files: every frame vector is covered', async (t) => {
  const files = readdirSync(VECTORS).filter((f) => f.endsWith('.hex')).map((f) => f.slice(0, -4));
  t.same(files.filter((f) => f !== 'chromium-wb11-block').sort(), Object.keys(expected).sort());
});

t.test('reference vectors decode to their fields and re-encode byte-exact', async (t) => {
  for (const [name, want] of Object.entries(expected)) {
    const bytes = vector(name);
    const frames = decodeAll([bytes]);
    t.equal(frames.length, 1, `${name}: one frame`);
    t.same(norm(frames[0]!), norm(want), `${name}: fields`);
    t.equal(Buffer.concat(encodeFrame(frames[0]!)).toString('hex'), bytes.toString('hex'), `${name}: re-encoded`);
  }
  t.equal(Buffer.concat(encodeData(1, 0, Buffer.from('hello'))).toString('hex'), vector('data-hello').toString('hex'));
  t.equal(encodeRstStream(1, 1).toString('hex'), vector('rst-stream').toString('hex'));
  t.equal(encodeSettings(0, [{ id: 7, flags: 1, value: 256 }]).toString('hex'), vector('settings').toString('hex'));
  t.equal(encodePing(0x12345678).toString('hex'), vector('ping').toString('hex'));
  t.equal(encodeGoaway(1, GoawayStatus.INTERNAL_ERROR).toString('hex'), vector('goaway').toString('hex'));
  t.equal(encodeWindowUpdate(1, 0xabca).toString('hex'), vector('window-update').toString('hex'));
});

t.test('DATA payloads are views inside one chunk, copies across chunks', async (t) => {
  const bytes = vector('data-hello');
  const [f] = decodeAll([bytes]) as [Frame & { data: Buffer }];
  t.equal(f.data.buffer, bytes.buffer, 'same ArrayBuffer');
  t.equal(f.data.byteOffset, bytes.byteOffset + 8, 'payload offset');
  bytes[8] = 0x48;
  t.equal(f.data.toString(), 'Hello', 'a view: sees the input change');
  const [g] = decodeAll([bytes.subarray(0, 10), bytes.subarray(10)]) as [Frame & { data: Buffer }];
  bytes[8] = 0x68;
  t.equal(g.data.toString(), 'Hello', 'a copy when split: does not see the input change');
  const [e] = decodeAll([encodeDataHeader(3, FLAG_FIN, 0)]) as [Frame & { data: Buffer }];
  t.same(norm(e), { type: FrameType.DATA, streamId: 3, flags: FLAG_FIN, data: '' }, 'zero-length DATA with FIN');
});

/** A random valid frame of any known type (flags 0 where the spec defines none). */
function randomFrame(r: (n: number) => number): Frame {
  const id = () => (r(4) === 0 ? 0x7fffffff : 1 + r(1000));
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => r(256)));
  const u32 = () => (r(4) === 0 ? 0xffffffff : r(0x100000000));
  switch (r(9)) {
    case 0: {
      const len = r(8) === 0 ? 1000 + r(3000) : r(64);
      return { type: FrameType.DATA, streamId: id(), flags: r(2), data: bytes(len) };
    }
    case 1:
      return { type: FrameType.SYN_STREAM, streamId: id(), associatedStreamId: r(3) === 0 ? id() : 0, priority: r(8), slot: r(256), flags: r(4), headerBlock: bytes(r(80)) };
    case 2:
      return { type: FrameType.SYN_REPLY, streamId: id(), flags: r(2), headerBlock: bytes(r(80)) };
    case 3:
      return { type: FrameType.RST_STREAM, streamId: id(), flags: 0, status: u32() };
    case 4:
      return { type: FrameType.SETTINGS, flags: r(2), entries: Array.from({ length: r(10) }, () => ({ id: r(0x1000000), flags: r(256), value: u32() })) };
    case 5:
      return { type: FrameType.PING, flags: 0, id: u32() };
    case 6:
      return { type: FrameType.GOAWAY, flags: 0, lastGoodStreamId: r(2) ? 0 : id(), status: u32() };
    case 7:
      return { type: FrameType.HEADERS, streamId: id(), flags: r(2), headerBlock: bytes(r(80)) };
    default:
      return { type: FrameType.WINDOW_UPDATE, streamId: r(3) === 0 ? 0 : id(), flags: 0, delta: 1 + r(0x7fffffff) };
  }
}

/** An unknown / NOOP / CREDENTIAL control frame with a random payload. */
function randomSkipped(r: (n: number) => number): { bytes: Buffer; frame: Frame } {
  const frameType = [FrameType.NOOP, FrameType.CREDENTIAL, 11, 0xffff][r(4)]!;
  const length = r(5) === 0 ? 3000 : r(40);
  const bytes = Buffer.alloc(8 + length, r(256));
  bytes.writeUInt32BE((0x80030000 | frameType) >>> 0, 0);
  bytes.writeUInt32BE(((r(256) << 24) | length) >>> 0, 4);
  return { bytes, frame: { type: -1, frameType, version: 3, flags: bytes[4]!, length } };
}

t.test('round trip: random frames of every type', async (t) => {
  const r = prng(7);
  let bad = 0;
  for (let i = 0; i < 2000; i++) {
    const f = randomFrame(r);
    const got = decodeAll(encodeFrame(f));
    if (got.length !== 1 || JSON.stringify(norm(got[0]!)) !== JSON.stringify(norm(f))) {
      bad++;
      t.same(got.map(norm), [norm(f)], `frame ${i}`);
    }
  }
  t.equal(bad, 0, '2000 random frames round-trip');
});

t.test('split input: the same frames whatever the chunking (500 iterations)', async (t) => {
  const r = prng(0x5bd1e995);
  const parts: Buffer[] = [];
  const want: Frame[] = [];
  for (const name of Object.keys(expected)) {
    parts.push(vector(name));
    want.push(expected[name]!);
  }
  for (let i = 0; i < 300; i++) {
    if (r(10) === 0) {
      const s = randomSkipped(r);
      parts.push(s.bytes);
      want.push(s.frame);
    } else {
      const f = randomFrame(r);
      parts.push(...encodeFrame(f));
      want.push(f);
    }
  }
  const stream = Buffer.concat(parts);
  const wantJson = JSON.stringify(want.map(norm));
  t.equal(JSON.stringify(decodeAll([stream]).map(norm)), wantJson, 'whole input');
  let bad = 0;
  for (let iter = 0; iter < 500; iter++) {
    const chunks: Buffer[] = [];
    const mode = iter % 10; // 0: all 1-byte chunks; else mixed sizes, a third of them 1 byte
    for (let pos = 0; pos < stream.length; ) {
      const n = mode === 0 ? 1 : r(3) === 0 ? 1 : 1 + r(mode < 4 ? 16 : mode < 7 ? 300 : 9000);
      chunks.push(stream.subarray(pos, pos + n));
      pos += n;
    }
    if (JSON.stringify(decodeAll(chunks).map(norm)) !== wantJson) bad++;
  }
  t.equal(bad, 0, `${want.length} frames, ${stream.length} bytes, 500 splittings`);
});

t.test('unknown, NOOP and CREDENTIAL frames are skipped without buffering', async (t) => {
  const payload = Buffer.alloc(100000, 0xab);
  const head = hex('8003000a 00000000');
  head.writeUInt32BE(payload.length, 4); // CREDENTIAL, flags 0
  const dec = new FrameDecoder({ maxControlFrameSize: 8192 }); // exempt: skipped frames are not held
  dec.push(head);
  t.equal(dec.next(), null);
  let maxBuffered = 0;
  for (let i = 0; i < payload.length; i += 1000) {
    dec.push(payload.subarray(i, i + 1000));
    maxBuffered = Math.max(maxBuffered, dec.bufferedBytes);
    if (i + 1000 < payload.length) t.equal(dec.next(), null);
  }
  t.equal(maxBuffered, 0, 'nothing buffered while skipping');
  dec.push(vector('ping'));
  t.same(dec.next(), { type: -1, frameType: 10, version: 3, flags: 0, length: 100000 });
  t.same(dec.next(), expected.ping);
  t.equal(dec.next(), null);
  t.same(decodeAll([hex('80030005 ff000000')]), [{ type: -1, frameType: 5, version: 3, flags: 0xff, length: 0 }], 'empty NOOP');
});

t.test('values are decoded as they are; reserved X bits are masked', async (t) => {
  const frames = decodeAll([
    hex('80030009 00000008 80000000 80000000'), // WINDOW_UPDATE stream 0 (session), X bits set, delta 0
    hex('80030003 00000008 80000005 00000000'), // RST_STREAM status 0
    hex('80030001 0000000a 80000003 80000001 e0ff'), // SYN_STREAM pri 7, slot 255, X bits, empty block
    hex('80030007 00000008 ffffffff 0000000b'), // GOAWAY last-good X-masked, status 11
    hex('80030006 00000004 ffffffff'),
    hex('80030004 00000014 00000002 00000007 00000001 01000007 00000002'), // duplicate ids, wire order
  ]);
  t.same(frames.map(norm), [
    { type: FrameType.WINDOW_UPDATE, streamId: 0, flags: 0, delta: 0 },
    { type: FrameType.RST_STREAM, streamId: 5, flags: 0, status: 0 },
    { type: FrameType.SYN_STREAM, streamId: 3, associatedStreamId: 1, priority: 7, slot: 255, flags: 0, headerBlock: '' },
    { type: FrameType.GOAWAY, flags: 0, lastGoodStreamId: 0x7fffffff, status: 11 },
    { type: FrameType.PING, flags: 0, id: 0xffffffff },
    { type: FrameType.SETTINGS, flags: 0, entries: [{ id: 7, flags: 0, value: 1 }, { id: 7, flags: 1, value: 2 }] },
  ]);
});

/** Asserts that decoding `bytes` (pushed at once) throws a PROTOCOL_ERROR SessionError matching `re`. */
function rejects(t: Test, bytes: Buffer, re: RegExp, options?: FrameDecoderOptions): void {
  const dec = new FrameDecoder(options);
  dec.push(bytes);
  let err: unknown;
  try {
    while (dec.next() !== null);
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof SessionError, `${re}: SessionError`);
  const se = err as SessionError;
  t.equal(se.status, GoawayStatus.PROTOCOL_ERROR, `${re}: PROTOCOL_ERROR`);
  t.equal(se.code, 'ERR_SPDY_SESSION');
  t.match(se.message, re);
}

t.test('decoder errors', async (t) => {
  rejects(t, hex('80020006 00000004 00000001'), /version 2/);
  rejects(t, hex('80040004 00000004 00000000'), /version 4/);
  rejects(t, hex('8002000a 00000000'), /version 2/, undefined); // even for types that are skipped
  // Limits are checked from the 8-byte header alone: no payload was pushed.
  rejects(t, hex('80030002 00100001'), /SYN_REPLY frame length 1048577 exceeds the limit of 1048576/);
  rejects(t, hex('80030001 00002001'), /length 8193 exceeds the limit of 8192/, { maxControlFrameSize: 8192 });
  rejects(t, hex('00000001 00001001'), /DATA frame length 4097 exceeds the limit of 4096/, { maxDataFrameSize: 4096 });
  for (const [type, len] of [['03', 7], ['03', 9], ['06', 8], ['07', 4], ['07', 12], ['09', 4]] as const) {
    const h = hex(`800300${type} 00000000`);
    h.writeUInt32BE(len, 4);
    rejects(t, h, new RegExp(`frame length ${len}, must be \\d`));
  }
  rejects(t, hex('80030004 00000002'), /SETTINGS frame length 2/);
  rejects(t, hex('80030004 0000000a'), /SETTINGS frame length 10/);
  rejects(t, hex('80030004 00000204'), /SETTINGS frame with 64 entries exceeds the limit of 63/, { maxSettingsEntries: 63 });
  rejects(t, hex('80030004 0000000c 00000002 00000007 00000001'), /count 2 does not match/);
  rejects(t, hex('80030004 0000000c ffffffff 00000007 00000001'), /count 4294967295 does not match/);
  rejects(t, hex('80030001 00000009 000000010000000000'), /SYN_STREAM frame length 9, must be at least 10/);
  rejects(t, hex('80030002 00000003 000000'), /SYN_REPLY frame length 3, must be at least 4/);
  rejects(t, hex('80030008 00000003 000000'), /HEADERS frame length 3, must be at least 4/);
  rejects(t, hex('80030001 0000000a 80000000 00000000 0000'), /SYN_STREAM with stream id 0/);
  rejects(t, hex('80030002 00000004 00000000'), /SYN_REPLY with stream id 0/);
  rejects(t, hex('80030008 00000004 80000000'), /HEADERS with stream id 0/);
  rejects(t, hex('80030003 00000008 00000000 00000001'), /RST_STREAM with stream id 0/);
  rejects(t, hex('00000000 00000000'), /DATA frame with stream id 0/);
  // A frame before the bad one is still returned.
  const dec = new FrameDecoder();
  dec.push(Buffer.concat([vector('ping'), hex('80020006 00000004 00000001'), vector('ping')]));
  t.same(dec.next(), expected.ping);
  let first: unknown;
  try {
    dec.next();
  } catch (e) {
    first = e;
  }
  t.ok(first instanceof SessionError);
  dec.push(vector('ping'));
  t.throws(() => dec.next(), first as Error, 'the same error again');
  try {
    dec.next();
  } catch (e) {
    t.equal(e, first, 'the very same error object');
  }
});

t.test('decoder options', async (t) => {
  t.throws(() => new FrameDecoder({ maxControlFrameSize: 8191 }), { code: 'ERR_INVALID_ARG' });
  t.throws(() => new FrameDecoder({ maxControlFrameSize: 0x1000000 }), { code: 'ERR_INVALID_ARG' });
  t.throws(() => new FrameDecoder({ maxDataFrameSize: -1 }), { code: 'ERR_INVALID_ARG' });
  t.throws(() => new FrameDecoder({ maxSettingsEntries: 1.5 }), { code: 'ERR_INVALID_ARG' });
  t.doesNotThrow(() => new FrameDecoder({ maxControlFrameSize: 8192 }));
  const big = encodeSynReply(1, 0, Buffer.alloc(8188)); // length 8192: the spec's minimum is accepted
  t.equal(decodeAll([big], { maxControlFrameSize: 8192 }).length, 1);
  const settings = encodeSettings(0, Array.from({ length: 64 }, (_, i) => ({ id: i, flags: 0, value: i })));
  t.equal(decodeAll([settings]).length, 1, '64 entries by default');
  rejects(t, encodeSettings(0, Array.from({ length: 65 }, () => ({ id: 1, flags: 0, value: 1 }))), /65 entries/);
});

t.test('encoder', async (t) => {
  const syn = encodeSynStream({ streamId: 5, associatedStreamId: 0, priority: 3, slot: 0, flags: FLAG_FIN, headerBlock: Buffer.from('abc') });
  t.equal(syn.toString('hex'), '80030001' + '0100000d' + '00000005' + '00000000' + '6000' + '616263');
  t.equal(encodeHeaders(7, 1, Buffer.alloc(0)).toString('hex'), '80030008' + '01000004' + '00000007');
  t.equal(encodeDataHeader(0x7fffffff, 1, 0xffffff).toString('hex'), '7fffffff01ffffff');
  const payload = Buffer.from('xyz');
  t.equal(encodeData(1, 0, payload)[1], payload, 'DATA payload is not copied');
  const bad: [string, () => unknown][] = [
    ['stream id 2^31', () => encodeDataHeader(0x80000000, 0, 0)],
    ['stream id -1', () => encodeRstStream(-1, 1)],
    ['stream id 1.5', () => encodeSynReply(1.5, 0, Buffer.alloc(0))],
    ['DATA length 2^24', () => encodeDataHeader(1, 0, 0x1000000)],
    ['flags 256', () => encodeDataHeader(1, 256, 0)],
    ['priority 8', () => encodeSynStream({ streamId: 1, associatedStreamId: 0, priority: 8, slot: 0, flags: 0, headerBlock: Buffer.alloc(0) })],
    ['priority -1', () => encodeSynStream({ streamId: 1, associatedStreamId: 0, priority: -1, slot: 0, flags: 0, headerBlock: Buffer.alloc(0) })],
    ['assoc 2^31', () => encodeSynStream({ streamId: 1, associatedStreamId: 0x80000000, priority: 0, slot: 0, flags: 0, headerBlock: Buffer.alloc(0) })],
    ['slot 256', () => encodeSynStream({ streamId: 1, associatedStreamId: 0, priority: 0, slot: 256, flags: 0, headerBlock: Buffer.alloc(0) })],
    ['delta 2^31', () => encodeWindowUpdate(1, 0x80000000)],
    ['last-good 2^31', () => encodeGoaway(0x80000000, 0)],
    ['status 2^32', () => encodeRstStream(1, 0x100000000)],
    ['ping id 2^32', () => encodePing(0x100000000)],
    ['settings id 2^24', () => encodeSettings(0, [{ id: 0x1000000, flags: 0, value: 0 }])],
    ['settings value -1', () => encodeSettings(0, [{ id: 1, flags: 0, value: -1 }])],
    ['SYN_REPLY over 2^24-1', () => encodeSynReply(1, 0, Buffer.alloc(0xffffff - 3))],
    ['unknown frame', () => encodeFrame({ type: -1, frameType: 5, version: 3, flags: 0, length: 0 })],
  ];
  for (const [name, fn] of bad) t.throws(fn, { code: 'ERR_INVALID_ARG' }, name);
  t.equal(encodeSynReply(1, 0, Buffer.alloc(0xffffff - 4)).length, 8 + 0xffffff, 'largest frame');
});
