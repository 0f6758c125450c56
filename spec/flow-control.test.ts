// SPDY/3.1 flow control, kube-spdy ↔ kube-spdy: a slow reader on one stream must not hold back another
// stream, and what is buffered for the slow stream stays within its receive window. Plus unit tests of
// lib/session/flow.ts and of SETTINGS INITIAL_WINDOW_SIZE shifting existing stream windows.
import t from 'tap';
import type net from 'node:net';
import { Connection } from '../lib/session/connection.js';
import type { Stream } from '../lib/session/stream.js';
import { SendWindow, RecvWindow } from '../lib/session/flow.js';
import { FrameType, RstStatus, SettingsId, MAX_WINDOW } from '../lib/frames/constants.js';
import { encodeData, encodePing, encodeSettings, encodeSynReply, encodeSynStream, encodeWindowUpdate } from '../lib/frames/encoder.js';
import type { DataFrame, Frame, PingFrame, SettingsFrame } from '../lib/frames/types.js';
import { HeaderCompressor } from '../lib/compression/index.js';
import { connectionPair, socketPair, FrameReader, randomBytes } from './helpers.js';
import { barrier, dataBytes } from './raw-peer.js';

const KiB = 1024;
const MiB = 1024 * KiB;

// ---------------------------------------------------------------------------------------------------
// The slow reader (the requirement).
//
// What is bounded, from the code: onDataFrame takes every DATA payload from the stream's RecvWindow
// before pushing it into the stream's readable buffer, and the window is given back (WINDOW_UPDATE) only
// for bytes the application has taken out of that buffer (Stream.accountConsumed: pushed - readableLength).
// The session window is released at once, so it never holds anyone back. Hence, with W the window the
// receiver granted, at every moment:
//     buffered (receiver readableLength) + in flight (sender bytesOut - receiver bytesIn)
//         = W - sender sendWindow - (updates consumed but not yet sent or not yet received)  ≤  W
// No readable high-water mark appears in the bound: the readable buffer is allowed to exceed its mark
// (push() returning false is ignored with flow control on), and the window alone stops the sender.
// The test checks both `buffered + inFlight ≤ W` and the tighter `buffered + inFlight + sendWindow ≤ W`.

const BLOCK = randomBytes(MiB, 42);
const FAST_TOTAL = 256 * MiB;
const SLOW_RATE = MiB; // bytes per second
const SLOW_MIN_MS = 2000; // keep the slow reader going at least this long

/** Checks that `chunk`, found at stream offset `pos`, is the BLOCK pattern repeated. */
function matchesPattern(chunk: Buffer, pos: number): boolean {
  let off = 0;
  while (off < chunk.length) {
    const b = (pos + off) % BLOCK.length;
    const n = Math.min(chunk.length - off, BLOCK.length - b);
    if (!chunk.subarray(off, off + n).equals(BLOCK.subarray(b, b + n))) return false;
    off += n;
  }
  return true;
}

for (const W of [64 * KiB, MiB]) {
  t.test(`slow reader (1 MiB/s) and a 256 MiB stream share a connection, windows ${W / KiB} KiB`, { timeout: 30000 }, async (t) => {
    const opts = { flowControl: true, initialWindowSize: W };
    const { client, server, close } = await connectionPair(opts, opts);
    t.teardown(close);
    const accepted = new Map<string, (s: Stream) => void>();
    const slowIn = new Promise<Stream>((r) => accepted.set('slow', r));
    const fastIn = new Promise<Stream>((r) => accepted.set('fast', r));
    server.on('stream', (s) => {
      s.reply({});
      accepted.get(s.headers.kind!)!(s);
    });
    const slowOut = await client.createStream({ kind: 'slow' });
    const fastOut = await client.createStream({ kind: 'fast' });
    const slow = await slowIn;
    const fast = await fastIn;
    for (const s of [slowOut, fastOut, slow, fast]) s.on('error', () => {});

    // Sample the slow stream's accounting at every point where one of its numbers changes.
    let samples = 0;
    let maxHeld = 0; // buffered + in flight
    let maxHeldPlusWindow = 0; // buffered + in flight + sender window
    let maxBufferedPlusAvailable = 0; // receiver: buffered + recvWindow.available
    let minSendWindow = Infinity;
    const sample = (): void => {
      const r = slow.stats();
      const w = slowOut.stats();
      const held = r.buffered + (w.bytesOut - r.bytesIn);
      samples++;
      maxHeld = Math.max(maxHeld, held);
      maxHeldPlusWindow = Math.max(maxHeldPlusWindow, held + w.sendWindow);
      maxBufferedPlusAvailable = Math.max(maxBufferedPlusAvailable, r.buffered + r.recvWindow);
      minSendWindow = Math.min(minSendWindow, w.sendWindow);
    };
    // Sender: after every DATA frame of the slow stream is handed to the socket, and after every read of
    // the client socket (WINDOW_UPDATEs). Receiver: after every DATA payload is pushed.
    const written = slowOut.onDataWritten.bind(slowOut);
    slowOut.onDataWritten = (bytes, fin) => {
      written(bytes, fin);
      sample();
    };
    const pushed = slow.pushData.bind(slow);
    slow.pushData = (data) => {
      const more = pushed(data);
      sample();
      return more;
    };
    client.socket.on('data', sample);
    server.socket.on('data', sample);

    // Slow sender: always has data queued (write until backpressure, continue on 'drain').
    let slowWritten = 0;
    const pumpSlow = (): void => {
      while (!slowOut.destroyed) {
        slowWritten += BLOCK.length;
        if (!slowOut.write(BLOCK)) {
          slowOut.once('drain', pumpSlow);
          return;
        }
      }
    };
    pumpSlow();

    // Slow reader: paused mode, reads what a 1 MiB/s budget allows every 20 ms (at most one
    // high-water mark per read(), so Node never raises the mark).
    let slowRead = 0;
    let slowOk = true;
    let budget = 0;
    const t0 = performance.now();
    let last = t0;
    const reader = setInterval(() => {
      const now = performance.now();
      budget += ((now - last) / 1000) * SLOW_RATE;
      last = now;
      for (;;) {
        const n = Math.floor(Math.min(budget, slow.readableLength, slow.readableHighWaterMark));
        if (n <= 0) break;
        const chunk = slow.read(n) as Buffer | null;
        if (!chunk) break;
        if (!matchesPattern(chunk, slowRead)) slowOk = false;
        slowRead += chunk.length;
        budget -= chunk.length;
        sample();
      }
    }, 20);

    // Fast stream: 256 MiB, read as fast as it comes.
    let fastRead = 0;
    let fastOk = true;
    fast.on('data', (d: Buffer) => {
      if (!matchesPattern(d, fastRead)) fastOk = false;
      fastRead += d.length;
    });
    const fastEnded = new Promise<void>((r) => fast.once('end', r));
    const fastStart = performance.now();
    void (async () => {
      for (let sent = 0; sent < FAST_TOTAL; sent += BLOCK.length) {
        if (!fastOut.write(BLOCK)) await new Promise((r) => fastOut.once('drain', r));
      }
      fastOut.end();
    })();
    await fastEnded;
    const fastMs = performance.now() - fastStart;
    const leftMs = SLOW_MIN_MS - (performance.now() - t0);
    if (leftMs > 0) await new Promise((r) => setTimeout(r, leftMs));
    clearInterval(reader);
    const slowMs = performance.now() - t0;
    sample();

    t.equal(fastRead, FAST_TOTAL, 'the fast stream finished: 256 MiB');
    t.ok(fastOk, 'fast stream byte-exact');
    t.ok(slowOk, 'slow stream byte-exact');
    const rate = slowRead / (slowMs / 1000);
    t.ok(rate > 0.5 * SLOW_RATE && rate < 1.5 * SLOW_RATE, `slow reader ran at ${(rate / MiB).toFixed(2)} MiB/s`);
    t.ok(samples > 1000, `${samples} samples`);
    t.ok(maxHeld <= W, `slow stream: buffered + in flight ≤ window (max ${maxHeld} of ${W})`);
    t.ok(maxHeldPlusWindow <= W, `slow stream: buffered + in flight + sender window ≤ window (max ${maxHeldPlusWindow})`);
    t.ok(maxBufferedPlusAvailable <= W, `receiver: buffered + recvWindow ≤ window (max ${maxBufferedPlusAvailable})`);
    t.equal(minSendWindow, 0, 'the slow stream was held by its window (sender window reached 0)');
    t.ok(maxHeld >= W / 2, 'and the window was actually used');
    t.ok(slowOut.writableLength > 0, 'the slow sender still had data queued');
    t.ok(slowWritten > slowRead, 'more was written than read');
    t.comment(
      `window ${W / KiB} KiB: fast stream ${(FAST_TOTAL / 1e6 / (fastMs / 1000)).toFixed(0)} MB/s (${fastMs.toFixed(0)} ms) ` +
        `beside a 1 MiB/s reader; max slow-stream bytes held ${maxHeld}`,
    );
    t.ok(client.stats().sendWindow > 0, 'session window not exhausted');
    slowOut.destroy();
  });
}

// ---------------------------------------------------------------------------------------------------
t.test('flow.ts: SendWindow', async (t) => {
  const w = new SendWindow(65536);
  t.equal(w.size, 65536);
  t.equal(w.add(1000), true);
  t.equal(w.size, 66536);
  t.equal(w.add(MAX_WINDOW - 66536), true, 'up to 2^31-1 is fine');
  t.equal(w.size, MAX_WINDOW);
  t.equal(w.add(1), false, 'past 2^31-1 is refused');
  t.equal(w.size, MAX_WINDOW, 'and leaves the window unchanged');
  const n = new SendWindow(-49152); // after SETTINGS shrank it
  t.equal(n.add(40000), true);
  t.equal(n.size, -9152, 'negative windows are allowed');
  t.equal(n.add(MAX_WINDOW), true, 'a negative window can take a full delta');
  t.equal(n.size, MAX_WINDOW - 9152);
});

t.test('flow.ts: RecvWindow', async (t) => {
  const w = new RecvWindow(1000);
  t.equal(w.take(600), true);
  t.equal(w.available, 400);
  t.equal(w.take(401), false, 'overrun refused');
  t.equal(w.available, 400, 'and not counted');
  t.equal(w.consume(300), 0, 'updates are batched below half the window');
  t.equal(w.consume(200), 500, 'due once half the window is owed');
  t.equal(w.available, 900);
  t.equal(w.take(900), true);
  t.equal(w.available, 0);
  t.equal(w.consume(10), 10, 'an exhausted window is updated at once (no deadlock)');
  t.equal(w.available, 10);
  // slack: bytes the peer may send before it has seen our SETTINGS
  const s = new RecvWindow(4096);
  t.equal(s.take(65536, 61440), true, 'within window + slack');
  t.equal(s.available, -61440, 'the window goes negative');
  t.equal(s.take(1, 61440), false, 'past window + slack');
  t.equal(s.consume(8192), 8192);
  t.equal(s.available, -53248);
  t.equal(s.take(1), false, 'without slack a negative window takes nothing');
});

// ---------------------------------------------------------------------------------------------------
/** The DATA bytes of `streamId` the client sent in response to what the raw server side wrote (a PING barrier). */
async function drainData(reader: FrameReader, socket: net.Socket, streamId: number): Promise<number> {
  return dataBytes(await barrier(socket, reader, 0), streamId);
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

t.test('SETTINGS INITIAL_WINDOW_SIZE shifts existing stream windows (negative allowed), sender resumes', async (t) => {
  const [a, b] = await socketPair();
  const client = new Connection(a, { role: 'client', flowControl: true });
  t.teardown(() => {
    client.destroy();
    b.destroy();
  });
  const reader = new FrameReader(b);
  const comp = new HeaderCompressor();
  const p1 = client.createStream({ n: '1' });
  const p3 = client.createStream({ n: '3' });
  await reader.nextOfType(FrameType.SYN_STREAM);
  await reader.nextOfType(FrameType.SYN_STREAM);
  b.write(encodeSynReply(1, 0, comp.compress({})));
  b.write(encodeSynReply(3, 0, comp.compress({})));
  const s1 = await p1;
  const s3 = await p3;
  b.write(encodeWindowUpdate(0, 16 * MiB)); // only the stream windows matter here
  await until(() => client.stats().sendWindow === 65536 + 16 * MiB);

  const data = randomBytes(200 * KiB, 5);
  s1.write(data);
  t.equal(await drainData(reader, b, 1), 65536, 'one default window sent');
  t.equal(s1.stats().sendWindow, 0);

  // Shrink: every existing stream window moves by 16384 - 65536 = -49152.
  b.write(encodeSettings(0, [{ id: SettingsId.INITIAL_WINDOW_SIZE, flags: 0, value: 16384 }]));
  await until(() => s1.stats().sendWindow === -49152);
  t.equal(s3.stats().sendWindow, 16384, 'an idle stream shrinks too');
  t.equal(client.stats().sendWindow, 65536 + 16 * MiB - 65536, 'the session window is not changed by SETTINGS');
  const p5 = client.createStream({ n: '5' });
  await reader.nextOfType(FrameType.SYN_STREAM);
  b.write(encodeSynReply(5, 0, comp.compress({})));
  t.equal((await p5).stats().sendWindow, 16384, 'a new stream starts with the new initial window');

  // Still negative after an update: nothing is sent.
  b.write(encodeWindowUpdate(1, 40000));
  t.equal(await drainData(reader, b, 1), 0, 'nothing sent while the window is negative');
  t.equal(s1.stats().sendWindow, -9152);
  // Positive again: exactly the window is sent.
  b.write(encodeWindowUpdate(1, 10000));
  t.equal(await drainData(reader, b, 1), 848, 'sender resumes with exactly the positive window');
  t.equal(s1.stats().sendWindow, 0);
  // Grow: SETTINGS back up shifts by +49152 and wakes the sender.
  b.write(encodeSettings(0, [{ id: SettingsId.INITIAL_WINDOW_SIZE, flags: 0, value: 65536 }]));
  t.equal(await drainData(reader, b, 1), 49152, 'a SETTINGS increase alone resumes the sender');
  t.equal(s3.stats().sendWindow, 65536);
  // The rest after a final update.
  b.write(encodeWindowUpdate(1, 1 << 20));
  t.equal(await drainData(reader, b, 1), data.length - 65536 - 848 - 49152, 'everything else follows');
});

t.test('SETTINGS INITIAL_WINDOW_SIZE above 2^31-1 is a session error', async (t) => {
  const [a, b] = await socketPair();
  const client = new Connection(a, { role: 'client', flowControl: true });
  t.teardown(() => {
    client.destroy();
    b.destroy();
  });
  client.on('error', () => {});
  const reader = new FrameReader(b);
  b.write(encodeSettings(0, [{ id: SettingsId.INITIAL_WINDOW_SIZE, flags: 0, value: 0x80000000 }]));
  t.match(await reader.nextOfType(FrameType.GOAWAY), { status: 1 });
});

// ---------------------------------------------------------------------------------------------------
// Regression: a server granting less than 64 KiB sends its SETTINGS only once the client spoke, so a
// client that writes at once (spdy-transport does) uses the default 64 KiB window until it sees them.
// That was reset with FLOW_CONTROL_ERROR; it is now tolerated up to the default window until the echo
// of a PING sent right after the SETTINGS proves the peer has applied them.
t.test('a window below 64 KiB tolerates the default window until the peer has seen the SETTINGS', async (t) => {
  const [a, b] = await socketPair();
  const server = new Connection(a, { role: 'server', flowControl: true, initialWindowSize: 4096 });
  t.teardown(() => {
    server.destroy();
    b.destroy();
  });
  const streams: Stream[] = [];
  server.on('stream', (s) => {
    s.on('error', () => {});
    streams.push(s);
    s.reply({});
  });
  const reader = new FrameReader(b);
  const comp = new HeaderCompressor();
  const syn = (id: number): Buffer => encodeSynStream({ streamId: id, associatedStreamId: 0, priority: 0, slot: 0, flags: 0, headerBlock: comp.compress({}) });
  const data = (id: number, n: number): Buffer => Buffer.concat(encodeData(id, 0, Buffer.alloc(n, 7)));

  // The client writes a whole default window before it has read anything.
  b.write(Buffer.concat([syn(1), data(1, 32768), data(1, 32768)]));
  const seen = await barrier(b, reader, 1);
  const settings = seen.find((f) => f.type === FrameType.SETTINGS) as SettingsFrame | undefined;
  t.match(settings?.entries?.find((e) => e.id === SettingsId.INITIAL_WINDOW_SIZE), { value: 4096 }, 'SETTINGS INITIAL_WINDOW_SIZE 4096');
  const ping = seen.find((f) => f.type === FrameType.PING) as PingFrame | undefined;
  t.ok(ping && ping.id % 2 === 0, 'a server PING follows the SETTINGS');
  t.notOk(seen.some((f) => f.type === FrameType.RST_STREAM), 'no RST_STREAM for the default window');
  t.equal(streams[0]!.stats().bytesIn, 65536, 'all 64 KiB delivered');
  t.equal(streams[0]!.stats().recvWindow, 4096 - 65536, 'the window is negative, as the peer will see it');

  // Even before the PING echo, more than the default window is an overrun.
  b.write(data(1, 1));
  t.match(await reader.nextOfType(FrameType.RST_STREAM), { streamId: 1, status: RstStatus.FLOW_CONTROL_ERROR });

  // After the echo the peer has the SETTINGS: the 4 KiB window is strict.
  b.write(encodePing(ping!.id));
  b.write(syn(3));
  await reader.nextOfType(FrameType.SYN_REPLY);
  b.write(data(3, 4096));
  t.notOk((await barrier(b, reader, 1)).some((f) => f.type === FrameType.RST_STREAM), '4096 bytes are fine');
  b.write(data(3, 1));
  t.match(await reader.nextOfType(FrameType.RST_STREAM), { streamId: 3, status: RstStatus.FLOW_CONTROL_ERROR });
});

t.test('compatibility mode bounds what an unread stream buffers by pausing the socket', async (t) => {
  const [a, b] = await socketPair();
  const hwm = 65536;
  const server = new Connection(a, { role: 'server', flowControl: false, streamHighWaterMark: hwm });
  let stream: Stream | null = null;
  server.on('stream', (s) => {
    stream = s;
    s.reply({});
    s.pause(); // an application that does not read
  });
  const comp = new HeaderCompressor();
  b.write(encodeSynStream({ streamId: 1, associatedStreamId: 0, priority: 0, slot: 0, flags: 0, headerBlock: comp.compress({}) }));
  // A spdystream-like peer: no flow control, it just writes 32 MiB as fast as the socket takes it.
  const frame = Buffer.concat(encodeData(1, 0, Buffer.alloc(16384, 1)));
  let written = 0;
  const target = 32 * 1024 * 1024;
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      while (written < target) {
        written += 16384;
        if (!b.write(frame)) {
          b.once('drain', pump);
          return;
        }
      }
      resolve();
    };
    pump();
    setTimeout(resolve, 1500); // the writer stalls once the kernel buffers fill: that is the point
  });
  await new Promise((r) => setTimeout(r, 200));
  const buffered = stream!.readableLength;
  t.ok(buffered <= hwm + 16384, `the unread stream buffers ${buffered} bytes (high-water mark ${hwm} + one frame)`);
  t.ok(written < target, `the peer was held back by TCP after ${(written / 1048576).toFixed(1)} MiB`);
  // Reading resumes the socket and everything arrives.
  let got = 0;
  stream!.on('data', (c: Buffer) => (got += c.length));
  stream!.resume();
  await new Promise((r) => setTimeout(r, 300));
  t.ok(got > buffered, `reading resumed the flow (${got} bytes read)`);
  server.destroy();
  b.destroy();
});
