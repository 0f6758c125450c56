// 100,000 valid, mutated and random frames fed to server sessions (fixed seed). No crash, no hang, no
// unbounded memory; every session that fails sends GOAWAY PROTOCOL_ERROR (never INTERNAL_ERROR, which
// would mean a handler threw), and every RST_STREAM carries a defined status.
import t from 'tap';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Connection } from '../lib/session/connection.js';
import { FrameDecoder } from '../lib/frames/decoder.js';
import { FrameType, GoawayStatus } from '../lib/frames/constants.js';
import { HeaderCompressor } from '../lib/compression/index.js';
import { SessionError } from '../lib/errors.js';
import { prng } from './helpers.js';
import { MemSocket, validFrame, mutate, randomFrame } from './fuzz-corpus.js';

export async function fuzz(seed: number, total: number): Promise<{ sessions: number; goaways: number; rsts: number; internal: number; badRst: number; maxBuffered: number; pieces: number; frames: number }> {
  const r = prng(seed);
  let sent = 0;
  const stats = { sessions: 0, goaways: 0, rsts: 0, internal: 0, badRst: 0, maxBuffered: 0, pieces: 0, frames: 0 };
  while (sent < total) {
    stats.sessions++;
    const sock = new MemSocket();
    const conn = new Connection(sock, { role: 'server', maxControlFrameSize: 65536, maxConcurrentStreams: 100, maxPingRate: 0, maxSettingsRate: 0, maxResetRate: 0 });
    let failure: Error | undefined;
    conn.on('error', (e) => (failure = e));
    conn.on('stream', (s) => {
      s.on('error', () => {});
      if (r() < 0.5) s.reply({});
      else if (r() < 0.5) s.reset();
      s.resume();
    });
    const comp = new HeaderCompressor();
    const nextId = { v: 1 };
    const perSession = 1 + Math.floor(r() * 400);
    for (let i = 0; i < perSession && sent < total && !conn.isClosed; i++, sent++) {
      const roll = r();
      const frame = roll < 0.6 ? validFrame(r, comp, nextId) : roll < 0.9 ? mutate(r, validFrame(r, comp, nextId)) : randomFrame(r);
      // Split the frame at 0–3 random points (inside the header too), as TCP may.
      const cuts = Array.from({ length: Math.floor(r() * 4) }, () => Math.floor(r() * (frame.length + 1))).sort((x, y) => x - y);
      let from = 0;
      for (const cut of cuts) {
        sock.feed(frame.subarray(from, cut));
        from = cut;
      }
      sock.feed(frame.subarray(from));
      stats.pieces += cuts.length + 1;
      stats.frames++;
      if (i % 50 === 49) await new Promise((res) => setImmediate(res));
    }
    await new Promise((res) => setImmediate(res));
    const dec = new FrameDecoder({ maxControlFrameSize: 0xffffff });
    for (const c of sock.out) dec.push(c);
    let lastGoaway: number | null = null;
    for (let f = dec.next(); f; f = dec.next()) {
      if (f.type === FrameType.RST_STREAM) {
        stats.rsts++;
        if (f.status < 1 || f.status > 11 || f.status === 10) stats.badRst++;
      }
      if (f.type === FrameType.GOAWAY) lastGoaway = f.status;
    }
    if (failure) {
      if (!(failure instanceof SessionError) || failure.status === GoawayStatus.INTERNAL_ERROR) {
        stats.internal++;
        if (stats.internal < 5) console.error('internal failure:', failure);
      } else if (lastGoaway === GoawayStatus.PROTOCOL_ERROR) stats.goaways++;
      else stats.internal++;
    }
    stats.maxBuffered = Math.max(stats.maxBuffered, sock.outBytes);
    conn.destroy();
  }
  return stats;
}

// FUZZ_FRAMES / FUZZ_SEED run it longer (bench/README.md): e.g. FUZZ_FRAMES=2000000 npx tap spec/fuzz.test.ts
const FRAMES = Number(process.env.FUZZ_FRAMES ?? 100_000);
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);

t.test(`${FRAMES} frames, seed ${SEED}`, async (t) => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  const before = process.memoryUsage().heapUsed;
  const start = Date.now();
  const s = await fuzz(SEED, FRAMES);
  const ms = Date.now() - start;
  t.comment(`${s.sessions} sessions, ${s.goaways} GOAWAY PROTOCOL_ERROR, ${s.rsts} RST_STREAM, ${s.pieces} pieces, most output of one session ${s.maxBuffered} B, ${ms} ms`);
  t.equal(s.frames, FRAMES, 'every frame was fed');
  t.ok(s.sessions >= FRAMES / 400 && s.sessions <= FRAMES, `${s.sessions} sessions (1–400 frames each)`);
  t.ok(s.pieces > FRAMES * 2, `frames were split at several points (${(s.pieces / FRAMES).toFixed(2)} pieces per frame)`);
  t.ok(s.goaways <= s.sessions, 'at most one GOAWAY per session');
  t.ok(s.maxBuffered > 0 && s.maxBuffered < 1024 * 1024, `what one session wrote stays bounded (${s.maxBuffered} B of at most 400 frames in)`);
  t.equal(s.internal, 0, 'no handler threw (no INTERNAL_ERROR, no non-session failure)');
  t.equal(s.badRst, 0, 'every RST_STREAM status is defined');
  t.ok(s.goaways > FRAMES / 1000, 'malformed input was answered with GOAWAY PROTOCOL_ERROR');
  t.ok(s.rsts > FRAMES / 1000, 'stream errors were answered with RST_STREAM');
  gc();
  const grown = process.memoryUsage().heapUsed - before;
  t.ok(grown < 256 * 1024 * 1024, `heap grew ${(grown / 1048576).toFixed(1)} MiB`);
});
