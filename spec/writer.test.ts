// The write scheduler: control frames first, DATA by priority, round-robin among equal priorities,
// payloads never copied, windows honoured when flow control is on.
import t from 'tap';
import { FrameWriter, type Sendable, type WriteItem } from '../lib/session/writer.js';
import { SendWindow } from '../lib/session/flow.js';
import { FrameDecoder } from '../lib/frames/decoder.js';
import { FrameType } from '../lib/frames/constants.js';
import { encodePing } from '../lib/frames/encoder.js';
import { HeaderCompressor, HeaderDecompressor, parseHeaderBlock, serializeHeaderBlock } from '../lib/compression/index.js';
import type { HeaderFrame } from '../lib/session/writer.js';
import type { Frame } from '../lib/frames/types.js';
import { MemSocket } from './fuzz-corpus.js';

function sendable(id: number, priority: number, window = 1 << 30): Sendable & { written: number } {
  return {
    id,
    priority,
    pending: [] as WriteItem[],
    sendWindow: new SendWindow(window),
    scheduled: false,
    written: 0,
    onDataWritten(bytes: number) {
      this.written += bytes;
    },
  };
}

function frames(sock: MemSocket): Frame[] {
  const d = new FrameDecoder();
  for (const c of sock.out) d.push(c);
  const out: Frame[] = [];
  for (let f = d.next(); f; f = d.next()) out.push(f);
  return out;
}

const tick = () => new Promise((r) => setImmediate(r));
/** The compressor of these tests: one shared context, fed in the order blocks leave the queues. */
let comp = new HeaderCompressor();
const compressBlock = (b: Buffer): Buffer => comp.compressBlock(b);

t.test('control frames go first, then DATA by priority', async (t) => {
  const sock = new MemSocket();
  const w = new FrameWriter(sock, { compressBlock, flowControl: false, maxDataFrameSize: 1024, sessionWindow: new SendWindow(1 << 30) });
  const low = sendable(1, 7);
  const high = sendable(3, 0);
  w.enqueue(low, { data: Buffer.alloc(4096), offset: 0, fin: false, cb: null });
  w.enqueue(high, { data: Buffer.alloc(4096), offset: 0, fin: false, cb: null });
  w.writeControl(encodePing(1));
  await tick();
  const fs = frames(sock);
  t.equal(fs[0]!.type, FrameType.PING, 'control first');
  const ids = fs.filter((f) => f.type === FrameType.DATA).map((f) => (f as { streamId: number }).streamId);
  t.same(ids, [3, 3, 3, 3, 1, 1, 1, 1], 'priority 0 before priority 7');
});

t.test('round-robin among equal priorities, one frame per turn', async (t) => {
  const sock = new MemSocket();
  const w = new FrameWriter(sock, { compressBlock, flowControl: false, maxDataFrameSize: 1000, sessionWindow: new SendWindow(1 << 30) });
  const a = sendable(1, 3);
  const b = sendable(3, 3);
  const c = sendable(5, 3);
  for (const s of [a, b, c]) w.enqueue(s, { data: Buffer.alloc(3000), offset: 0, fin: false, cb: null });
  await tick();
  const ids = frames(sock).map((f) => (f as { streamId: number }).streamId);
  t.same(ids, [1, 3, 5, 1, 3, 5, 1, 3, 5]);
});

t.test('payloads are not copied: a frame carries a view of the caller buffer', async (t) => {
  const sock = new MemSocket();
  const w = new FrameWriter(sock, { compressBlock, flowControl: false, maxDataFrameSize: 100, sessionWindow: new SendWindow(1 << 30) });
  const s = sendable(1, 0);
  const payload = Buffer.alloc(250, 7);
  let done = false;
  w.enqueue(s, { data: payload, offset: 0, fin: true, cb: () => (done = true) });
  await tick();
  const views = sock.out.filter((b) => b.length !== 8);
  t.equal(views.length, 3);
  t.ok(views.every((v) => v.buffer === payload.buffer), 'every payload shares the caller memory');
  t.ok(done, 'callback after the last frame');
  const last = frames(sock).at(-1)!;
  t.equal((last as { flags: number }).flags & 1, 1, 'FIN on the last frame');
});

t.test('flow control: a stream without window waits, others go on; wake() resumes it', async (t) => {
  const sock = new MemSocket();
  const session = new SendWindow(1 << 30);
  const w = new FrameWriter(sock, { compressBlock, flowControl: true, maxDataFrameSize: 1 << 20, sessionWindow: session });
  const blocked = sendable(1, 0, 100);
  const free = sendable(3, 0);
  w.enqueue(blocked, { data: Buffer.alloc(1000), offset: 0, fin: false, cb: null });
  w.enqueue(free, { data: Buffer.alloc(5000), offset: 0, fin: false, cb: null });
  await tick();
  t.equal(blocked.written, 100, 'only its window');
  t.equal(free.written, 5000, 'the other stream is not held back');
  blocked.sendWindow.add(900);
  w.wake(blocked);
  await tick();
  t.equal(blocked.written, 1000);
  t.equal(session.size, (1 << 30) - 6000, 'the session window counts every byte');
});

t.test('an empty DATA frame with FIN needs no window', async (t) => {
  const sock = new MemSocket();
  const w = new FrameWriter(sock, { compressBlock, flowControl: true, maxDataFrameSize: 1024, sessionWindow: new SendWindow(0) });
  const s = sendable(1, 0, 0);
  w.enqueue(s, { data: Buffer.alloc(0), offset: 0, fin: true, cb: null });
  await tick();
  const fs = frames(sock);
  t.equal(fs.length, 1);
  t.match(fs[0], { type: FrameType.DATA, streamId: 1, flags: 1 });
});

function headerItem(type: number, streamId: number, headers: Record<string, string>, fin = false): WriteItem {
  const header: HeaderFrame = { type, streamId, flags: fin ? 1 : 0, block: serializeHeaderBlock(headers) };
  return { data: Buffer.alloc(0), offset: 0, fin, cb: null, header };
}

t.test("a stream's SYN_REPLY, DATA and HEADERS+FIN leave in the order queued, whatever the window", async (t) => {
  comp = new HeaderCompressor();
  const sock = new MemSocket();
  const session = new SendWindow(1 << 30);
  const w = new FrameWriter(sock, { compressBlock, flowControl: true, maxDataFrameSize: 1 << 20, sessionWindow: session });
  const s = sendable(2, 0, 100);
  w.enqueue(s, headerItem(FrameType.SYN_REPLY, 2, { a: '1' }));
  w.enqueue(s, { data: Buffer.alloc(300), offset: 0, fin: false, cb: null });
  w.enqueue(s, headerItem(FrameType.HEADERS, 2, { trailer: 'x' }, true));
  await tick();
  t.same(frames(sock).map((f) => f.type), [FrameType.SYN_REPLY, FrameType.DATA], 'HEADERS waits behind the DATA that waits for window');
  s.sendWindow.add(200);
  w.wake(s);
  await tick();
  const fs = frames(sock);
  t.same(fs.map((f) => f.type), [FrameType.SYN_REPLY, FrameType.DATA, FrameType.DATA, FrameType.HEADERS]);
  t.equal((fs[3] as { flags: number }).flags, 1, 'FIN on the HEADERS');
});

t.test('header blocks are compressed as their frames leave, so the peer inflates them in wire order', async (t) => {
  comp = new HeaderCompressor();
  const sock = new MemSocket();
  const w = new FrameWriter(sock, { compressBlock, flowControl: false, maxDataFrameSize: 1 << 20, sessionWindow: new SendWindow(1 << 30) });
  const low = sendable(2, 7);
  const high = sendable(4, 0);
  w.enqueue(low, headerItem(FrameType.SYN_REPLY, 2, { n: 'first queued' })); // queued first, leaves last
  w.enqueue(high, headerItem(FrameType.SYN_REPLY, 4, { n: 'second queued' }));
  w.writeControl({ type: FrameType.SYN_STREAM, streamId: 1, flags: 0, block: serializeHeaderBlock({ n: 'control' }), priority: 3 });
  await tick();
  const inflater = new HeaderDecompressor();
  const got = frames(sock).map((f) => parseHeaderBlock(inflater.decompress((f as { headerBlock: Buffer }).headerBlock), { maxHeaderCount: 10 }).n);
  t.same(got, ['control', 'second queued', 'first queued'], 'every block decodes, in wire order');
});

t.test('the control queue is bounded: past maxQueuedControlFrames writeControl refuses', async (t) => {
  const sock = new MemSocket();
  sock.cork(); // nothing drains: as if the peer does not read
  const w = new FrameWriter(sock, { compressBlock, flowControl: false, maxDataFrameSize: 1024, sessionWindow: new SendWindow(1 << 30), maxQueuedControlFrames: 3 });
  t.equal(w.writeControl(encodePing(1)), true);
  t.equal(w.writeControl(encodePing(3)), true);
  t.equal(w.writeControl(encodePing(5)), true);
  t.equal(w.writeControl(encodePing(7)), false, 'the fourth is refused');
  t.equal(w.controlQueued, 3);
  await tick();
  t.equal(w.controlQueued, 0, 'written when the socket takes them');
  t.equal(w.writeControl(encodePing(9)), true, 'room again');
});

t.test('our own SYN_STREAMs do not count towards maxQueuedControlFrames (many createStream calls in one tick are not a peer that stopped reading)', async (t) => {
  comp = new HeaderCompressor();
  const sock = new MemSocket();
  sock.cork();
  const w = new FrameWriter(sock, { compressBlock, flowControl: false, maxDataFrameSize: 1024, sessionWindow: new SendWindow(1 << 30), maxQueuedControlFrames: 2 });
  for (let i = 0; i < 50; i++) {
    t.equal(w.writeControl({ type: FrameType.SYN_STREAM, streamId: 2 * i + 1, flags: 0, block: serializeHeaderBlock({ n: String(i) }), priority: 3 }), true);
  }
  t.equal(w.controlQueued, 0, 'SYN_STREAMs are not counted');
  t.equal(w.writeControl(encodePing(1)), true);
  t.equal(w.writeControl(encodePing(3)), true);
  t.equal(w.writeControl(encodePing(5)), false, 'encoded frames are still bounded');
  await tick();
  t.equal(w.controlQueued, 0);
  sock.uncork();
  await tick();
  const inflater = new HeaderDecompressor();
  const syn = frames(sock).filter((f) => f.type === FrameType.SYN_STREAM);
  t.equal(syn.length, 50, 'every SYN_STREAM written');
  t.same(syn.map((f) => parseHeaderBlock(inflater.decompress((f as { headerBlock: Buffer }).headerBlock), { maxHeaderCount: 10 }).n), Array.from({ length: 50 }, (_, i) => String(i)), 'in order, every block decodes');
});
