// Property tests (fast-check): every frame type round-trips through the encoder and the incremental
// decoder with arbitrary field values, in arbitrary sequences, split into arbitrary chunks (as TCP may
// deliver them); and arbitrary bytes never make the decoder throw anything but a SessionError.
import t from 'tap';
import fc from 'fast-check';
import { FrameDecoder, encodeFrame, FrameType, MAX_STREAM_ID } from '../lib/frames/index.js';
import type { Frame } from '../lib/frames/index.js';
import { SessionError } from '../lib/errors.js';
import { fcOptions, splits } from './property-helpers.js';

const id31 = fc.integer({ min: 1, max: MAX_STREAM_ID });
const u32 = fc.nat({ max: 0xffffffff });
const u8 = fc.nat({ max: 0xff });
const block = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));

/** Any encodable frame of a known type, with the fields the decoder gives back. */
export const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({ type: fc.constant(FrameType.DATA), streamId: id31, flags: u8, data: fc.uint8Array({ maxLength: 2000 }).map((a) => Buffer.from(a)) }),
  fc.record({
    type: fc.constant(FrameType.SYN_STREAM),
    streamId: id31,
    associatedStreamId: fc.nat({ max: MAX_STREAM_ID }),
    priority: fc.nat({ max: 7 }),
    slot: u8,
    flags: u8,
    headerBlock: block,
  }),
  fc.record({ type: fc.constant(FrameType.SYN_REPLY), streamId: id31, flags: u8, headerBlock: block }),
  fc.record({ type: fc.constant(FrameType.RST_STREAM), streamId: id31, flags: fc.constant(0), status: u32 }),
  fc.record({
    type: fc.constant(FrameType.SETTINGS),
    flags: u8,
    entries: fc.array(fc.record({ id: fc.nat({ max: 0xffffff }), flags: u8, value: u32 }), { maxLength: 64 }),
  }),
  fc.record({ type: fc.constant(FrameType.PING), flags: fc.constant(0), id: u32 }),
  fc.record({ type: fc.constant(FrameType.GOAWAY), flags: fc.constant(0), lastGoodStreamId: fc.nat({ max: MAX_STREAM_ID }), status: u32 }),
  fc.record({ type: fc.constant(FrameType.HEADERS), streamId: id31, flags: u8, headerBlock: block }),
  fc.record({ type: fc.constant(FrameType.WINDOW_UPDATE), streamId: fc.nat({ max: MAX_STREAM_ID }), flags: fc.constant(0), delta: fc.nat({ max: MAX_STREAM_ID }) }),
) as fc.Arbitrary<Frame>;

/** Decodes `chunks` with a fresh decoder; returns every frame (copied out of the decoder's views). */
function decodeAll(chunks: Buffer[]): Frame[] {
  const dec = new FrameDecoder({ maxControlFrameSize: 0xffffff });
  const out: Frame[] = [];
  for (const c of chunks) {
    dec.push(c);
    for (let f = dec.next(); f !== null; f = dec.next()) out.push(f);
  }
  if (dec.bufferedBytes !== 0) throw new Error(`${dec.bufferedBytes} bytes left in the decoder`);
  return out;
}

/** Buffers compared by content (the decoder hands out views or copies). */
const plain = (f: Frame): unknown => JSON.parse(JSON.stringify(f, (_k, v) => (v && v.type === 'Buffer' ? Buffer.from(v.data).toString('hex') : v)));

t.test('every frame type round-trips, in sequences, through arbitrary splits', async (t) => {
  let checked = 0;
  fc.assert(
    fc.property(fc.array(frameArb, { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 16 }), (frames, cuts) => {
      const wire = Buffer.concat(frames.flatMap((f) => encodeFrame(f)));
      const got = decodeAll(splits(wire, cuts));
      checked += frames.length;
      return JSON.stringify(got.map(plain)) === JSON.stringify(frames.map(plain));
    }),
    fcOptions(300),
  );
  t.ok(checked > 300, `${checked} frames round-tripped`);
});

t.test('a frame split into 1-byte chunks decodes the same', async (t) => {
  fc.assert(
    fc.property(frameArb, (f) => {
      const wire = Buffer.concat(encodeFrame(f));
      const bytes = [...wire].map((b) => Buffer.from([b]));
      const [got] = decodeAll(bytes);
      return JSON.stringify(plain(got!)) === JSON.stringify(plain(f));
    }),
    fcOptions(200),
  );
  t.pass('1-byte splits');
});

t.test('arbitrary bytes: the decoder returns frames or throws a SessionError, never anything else, and never buffers past one frame', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), fc.array(fc.nat(), { maxLength: 8 }), fc.boolean(), (bytes, cuts, controlish) => {
      const b = Buffer.from(bytes);
      if (controlish && b.length >= 2) b.writeUInt16BE(0x8003, 0); // reach the control-frame parsers
      const dec = new FrameDecoder({ maxControlFrameSize: 8192, maxSettingsEntries: 16, maxDataFrameSize: 4096 });
      try {
        for (const c of splits(b, cuts)) {
          dec.push(c);
          for (let f = dec.next(); f !== null; f = dec.next()) {
            if (f.type === FrameType.SETTINGS && f.entries.length > 16) return false;
          }
          // Never more buffered than one frame of the largest allowed size and its header.
          if (dec.bufferedBytes > 8 + 8192 + b.length) return false;
        }
      } catch (err) {
        return err instanceof SessionError && err.status === 1;
      }
      return true;
    }),
    fcOptions(500),
  );
  t.pass('no unexpected exception');
});
