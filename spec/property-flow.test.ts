// Property tests (fast-check) of SPDY/3.1 flow control through the public API, against a raw peer
// (shared reference spdy31-wire.md, "Flow control (3.1)"):
// - send side: under arbitrary SETTINGS INITIAL_WINDOW_SIZE / WINDOW_UPDATE sequences and application
//   writes, kube-spdy never sends more DATA than the windows allow (a window may go negative only
//   through a SETTINGS decrease), never lets a window pass 2^31-1 (stream overflow → RST_STREAM
//   FLOW_CONTROL_ERROR, session overflow → GOAWAY PROTOCOL_ERROR), and loses no byte;
// - receive side: under arbitrary DATA sizes and reads, it never grants more than its initial window
//   beyond what was received, and DATA past the window is a FLOW_CONTROL_ERROR.
// Each command batch ends with a PING barrier (its echo proves the frames before it were processed).
import t from 'tap';
import fc from 'fast-check';
import type net from 'node:net';
import { Connection } from '../lib/session/connection.js';
import type { Stream } from '../lib/session/stream.js';
import { FrameType, RstStatus, SettingsId, MAX_WINDOW, GoawayStatus } from '../lib/frames/constants.js';
import { encodeData, encodePing, encodeSettings, encodeSynStream, encodeWindowUpdate } from '../lib/frames/encoder.js';
import type { Frame } from '../lib/frames/types.js';
import { HeaderCompressor } from '../lib/compression/index.js';
import { socketPair, FrameReader } from './helpers.js';
import { fcOptions } from './property-helpers.js';

type SendCmd =
  | { kind: 'settings'; value: number }
  | { kind: 'update'; stream: boolean; delta: number }
  | { kind: 'write'; n: number };

const sendCmd: fc.Arbitrary<SendCmd> = fc.oneof(
  fc.record({ kind: fc.constant('settings' as const), value: fc.oneof(fc.nat({ max: 200000 }), fc.constantFrom(0, 1, 65536, MAX_WINDOW - 1, MAX_WINDOW)) }),
  fc.record({ kind: fc.constant('update' as const), stream: fc.boolean(), delta: fc.oneof(fc.integer({ min: 1, max: 100000 }), fc.constantFrom(MAX_WINDOW, MAX_WINDOW - 65535, 1)) }),
  fc.record({ kind: fc.constant('write' as const), n: fc.integer({ min: 0, max: 150000 }) }),
);

/** A server Connection under test and a raw client peer; the peer opened stream 1 and it was answered. */
async function rawPeer(opts: { initialWindowSize?: number; streamHighWaterMark?: number } = {}) {
  const [a, b] = await socketPair();
  const server = new Connection(a, { role: 'server', flowControl: true, ...opts });
  const reader = new FrameReader(b as net.Socket);
  const accepted = new Promise<Stream>((r) => server.once('stream', r));
  const comp = new HeaderCompressor();
  b.write(encodeSynStream({ streamId: 1, associatedStreamId: 0, priority: 0, slot: 0, flags: 0, headerBlock: comp.compress({ a: 'b' }) }));
  const stream = await accepted;
  stream.on('error', () => {});
  stream.reply({});
  let pingId = 1;
  const seen: Frame[] = [];
  /** Sends a PING and collects every frame until its echo (each also goes to `seen` as it comes). */
  const barrier = async (): Promise<Frame[]> => {
    const id = pingId;
    pingId += 2;
    b.write(encodePing(id));
    const got: Frame[] = [];
    for (;;) {
      const f = await reader.next(5000);
      if (f.type === FrameType.PING && f.id === id) break;
      // A well-behaved peer echoes the server's PINGs at once (kube-spdy uses one to learn when its
      // SETTINGS were applied).
      if (f.type === FrameType.PING && f.id % 2 === 0) b.write(encodePing(f.id));
      got.push(f);
      seen.push(f);
    }
    return got;
  };
  const close = (): void => {
    server.destroy();
    a.destroy();
    b.destroy();
  };
  return { server, stream, peer: b, barrier, seen, close };
}

/** One run of the send-side property; false when kube-spdy broke a rule. */
async function sendRun(batches: SendCmd[][], counts = { runs: 0, overflows: 0 }): Promise<boolean> {
  const p = await rawPeer();
  try {
    counts.runs++;
    // Model of what the peer granted: stream credit = current INITIAL_WINDOW_SIZE + Σ stream deltas,
    // session credit = 65536 + Σ session deltas. The DATA sent in all may not exceed the largest
    // credit ever granted (the sender may have sent under a credit that a later SETTINGS lowered,
    // and DATA it queued may reach the wire after a PING echo).
    let initial = 65536;
    let streamDeltas = 0;
    let sessionCredit = 65536;
    let sent = 0;
    let written = 0;
    // Overflow is certain when even with every written byte already sent the window passes 2^31-1,
    // possible when it passes with only the bytes seen sent so far (timing decides): then either
    // outcome is accepted.
    let streamOverflow = false;
    let sessionOverflow = false;
    let streamMaybe = false;
    let sessionMaybe = false;
    let maxStreamCredit = initial + streamDeltas;
    let maxSessionCredit = sessionCredit;
    for (const batch of batches) {
      const credits: [number, number][] = [];
      for (const c of batch) {
        if (c.kind === 'settings') {
          initial = c.value;
          p.peer.write(encodeSettings(0, [{ id: SettingsId.INITIAL_WINDOW_SIZE, flags: 0, value: c.value }]));
        } else if (c.kind === 'update') {
          p.peer.write(encodeWindowUpdate(c.stream ? 1 : 0, c.delta));
          if (c.stream) streamDeltas += c.delta;
          else sessionCredit += c.delta;
        } else if (!p.stream.writableEnded && !p.stream.destroyed) {
          p.stream.write(Buffer.alloc(c.n, 7));
          written += c.n;
        }
        // The window the sender holds is credit - sent: past 2^31-1 it must react.
        credits.push([initial + streamDeltas, sessionCredit]);
        maxStreamCredit = Math.max(maxStreamCredit, initial + streamDeltas);
        maxSessionCredit = Math.max(maxSessionCredit, sessionCredit);
      }
      // Writes are local and immediate, peer frames arrive later: by the time a credit is processed
      // every byte written in this batch may already be sent (certain overflow), or only those seen
      // sent before the batch (possible overflow).
      for (const [sc, ss] of credits) {
        if (sc - written > MAX_WINDOW) streamOverflow = true;
        if (ss - written > MAX_WINDOW) sessionOverflow = true;
        if (sc - sent > MAX_WINDOW) streamMaybe = true;
        if (ss - sent > MAX_WINDOW) sessionMaybe = true;
      }
      let frames: Frame[];
      try {
        frames = await p.barrier();
      } catch {
        // The connection was closed (GOAWAY then close): checked below from what was seen.
        break;
      }
      for (const f of frames) if (f.type === FrameType.DATA && f.streamId === 1) sent += f.data.length;
      if (sent > maxStreamCredit || sent > maxSessionCredit) return false;
      if (p.seen.some((f) => f.type === FrameType.GOAWAY || (f.type === FrameType.RST_STREAM && f.streamId === 1))) break;
      const st = p.stream.destroyed ? null : p.stream.stats();
      if (st && st.sendWindow > MAX_WINDOW) return false;
      if (st && st.sendWindow < 0 && initial >= 65536 && streamDeltas >= 0 && batches.every((b) => b.every((c) => c.kind !== 'settings'))) return false;
    }
    const goaway = p.seen.find((f) => f.type === FrameType.GOAWAY);
    const rst = p.seen.find((f) => f.type === FrameType.RST_STREAM && f.streamId === 1);
    if (sessionOverflow) {
      counts.overflows++;
      // §2.6.8: session window overflow → GOAWAY (3.1 names FLOW_CONTROL_ERROR, has no code: PROTOCOL_ERROR).
      if (!goaway || goaway.type !== FrameType.GOAWAY || goaway.status !== GoawayStatus.PROTOCOL_ERROR) return false;
    } else if (streamOverflow) {
      counts.overflows++;
      if (!rst || rst.type !== FrameType.RST_STREAM || rst.status !== RstStatus.FLOW_CONTROL_ERROR) return false;
    } else if (sessionMaybe || streamMaybe) {
      // Timing decided; whatever happened must be the right answer to an overflow.
      if (goaway && (goaway.type !== FrameType.GOAWAY || goaway.status !== GoawayStatus.PROTOCOL_ERROR)) return false;
      if (rst && (rst.type !== FrameType.RST_STREAM || rst.status !== RstStatus.FLOW_CONTROL_ERROR)) return false;
    } else {
      if (goaway || rst) return false; // nothing else may fail
      if (sent > written) return false;
    }
    return true;
  } finally {
    p.close();
  }
}

t.test('send side: DATA never exceeds the windows; windows never pass 2^31-1; overflow is answered as the spec says', async (t) => {
  const counts = { runs: 0, overflows: 0 };
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(sendCmd, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 6 }), (batches) => sendRun(batches, counts)),
    fcOptions(40),
  );
  t.ok(counts.runs >= 40, `${counts.runs} runs, ${counts.overflows} with an overflow`);
});

t.test('fixtures found by the send-side property stay fixed (fixtures/property/flow-*.json)', async (t) => {
  const { readdir, readFile } = await import('node:fs/promises');
  const dir = new URL('../fixtures/property/', import.meta.url);
  for (const f of (await readdir(dir)).filter((n) => n.startsWith('flow-'))) {
    const fixture = JSON.parse(await readFile(new URL(f, dir), 'utf8')) as { batches: SendCmd[][] };
    t.ok(await sendRun(fixture.batches), f);
  }
});

t.test('receive side: kube-spdy never grants more than its window beyond what it received; DATA past it is FLOW_CONTROL_ERROR', async (t) => {
  let runs = 0;
  let violations = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(1024, 16384, 65536),
      fc.array(fc.oneof(fc.record({ kind: fc.constant('data' as const), n: fc.nat({ max: 40000 }) }), fc.record({ kind: fc.constant('read' as const) })), { minLength: 1, maxLength: 14 }),
      async (W, cmds) => {
        const p = await rawPeer({ initialWindowSize: W });
        try {
          runs++;
          // The peer tracks the window it was granted: W (from SETTINGS) + Σ WINDOW_UPDATE - sent.
          // Until the server's SETTINGS arrives the peer may assume 64 KiB (SPDY has no SETTINGS ack), so
          // the first barrier is taken before any DATA.
          // Two barriers: the echo of kube-spdy's own PING (sent after its SETTINGS) ends its grace for peers
          // still on the default window; that takes effect once the echo is processed.
          await p.barrier();
          await p.barrier();
          let window = p.seen.some((f) => f.type === FrameType.SETTINGS) ? W : 65536;
          let received = 0;
          let granted = window;
          for (const c of cmds) {
            if (c.kind === 'read') p.stream.read();
            else {
              const [h, d] = encodeData(1, 0, Buffer.alloc(c.n, 1));
              p.peer.write(Buffer.concat([h, d]));
              window -= c.n;
              received += c.n;
            }
            let frames: Frame[];
            try {
              frames = await p.barrier();
            } catch {
              break;
            }
            for (const f of frames) {
              if (f.type === FrameType.WINDOW_UPDATE && f.streamId === 1) {
                window += f.delta;
                granted += f.delta;
              }
            }
            // Never more granted beyond what was received than the initial window.
            if (granted - received > W) return false;
            if (window > MAX_WINDOW) return false;
            const rst = frames.find((f) => f.type === FrameType.RST_STREAM && f.streamId === 1);
            if (window < 0) {
              violations++;
              return rst !== undefined && rst.type === FrameType.RST_STREAM && rst.status === RstStatus.FLOW_CONTROL_ERROR;
            }
            if (rst || frames.some((f) => f.type === FrameType.GOAWAY)) return false;
          }
          return true;
        } finally {
          p.close();
        }
      },
    ),
    fcOptions(40),
  );
  t.ok(runs >= 40, `${runs} runs, ${violations} sent past the window`);
});
