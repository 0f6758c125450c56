// Property test (fast-check) of stream state through the public API, against a raw peer: arbitrary
// interleavings of local calls (write, end, sendHeaders, reset, destroy) and peer frames (DATA, FIN,
// HEADERS, RST_STREAM, WINDOW_UPDATE) never make kube-spdy write after its FIN or RST_STREAM, never answer
// a RST_STREAM with one, never throw anything but a KubeSpdyError from the API, and always leave the
// stream finished (destroyed) once both sides are done, with the connection still answering PINGs.
// (Shared reference spdy31-wire.md, "Streams"; SPDY/3.1 §2.3.6–2.3.7.)
import t from 'tap';
import fc from 'fast-check';
import type net from 'node:net';
import { Connection } from '../lib/session/connection.js';
import type { Stream } from '../lib/session/stream.js';
import { FrameType, FLAG_FIN } from '../lib/frames/constants.js';
import { encodeData, encodeHeaders, encodePing, encodeRstStream, encodeSynStream, encodeWindowUpdate } from '../lib/frames/encoder.js';
import type { Frame } from '../lib/frames/types.js';
import { HeaderCompressor } from '../lib/compression/index.js';
import { KubeSpdyError } from '../lib/errors.js';
import { socketPair, FrameReader } from './helpers.js';
import { fcOptions } from './property-helpers.js';

type Ev =
  | { by: 'local'; op: 'write'; n: number }
  | { by: 'local'; op: 'end' | 'reset' | 'destroy' | 'headers' | 'headersFin' }
  | { by: 'peer'; op: 'data'; n: number; fin: boolean }
  | { by: 'peer'; op: 'headers'; fin: boolean }
  | { by: 'peer'; op: 'rst' | 'update' };

const ev: fc.Arbitrary<Ev> = fc.oneof(
  fc.record({ by: fc.constant('local' as const), op: fc.constant('write' as const), n: fc.nat({ max: 5000 }) }),
  fc.record({ by: fc.constant('local' as const), op: fc.constantFrom('end' as const, 'reset' as const, 'destroy' as const, 'headers' as const, 'headersFin' as const) }),
  fc.record({ by: fc.constant('peer' as const), op: fc.constant('data' as const), n: fc.nat({ max: 5000 }), fin: fc.boolean() }),
  fc.record({ by: fc.constant('peer' as const), op: fc.constant('headers' as const), fin: fc.boolean() }),
  fc.record({ by: fc.constant('peer' as const), op: fc.constantFrom('rst' as const, 'update' as const) }),
);

const finOf = (f: Frame): boolean => 'flags' in f && (f.flags & FLAG_FIN) !== 0 && (f.type === FrameType.DATA || f.type === FrameType.SYN_REPLY || f.type === FrameType.HEADERS);

/** Checks kube-spdy's frames for stream 1 against the rules; returns a reason when one is broken. */
function checkWire(frames: Frame[], peerResetAt: number): string | null {
  let finSent = false;
  let rstSent = false;
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i]!;
    if (!('streamId' in f) || f.streamId !== 1) continue;
    if (rstSent) return `${f.type} after our RST_STREAM`;
    if (f.type === FrameType.RST_STREAM) {
      if (i > peerResetAt) return 'RST_STREAM in answer to a RST_STREAM';
      rstSent = true;
      continue;
    }
    if (i > peerResetAt && f.type !== FrameType.WINDOW_UPDATE) return `frame type ${f.type} after the peer's RST_STREAM`;
    if (finSent && (f.type === FrameType.DATA || f.type === FrameType.HEADERS || f.type === FrameType.SYN_REPLY)) return `frame type ${f.type} after our FIN`;
    if (finOf(f)) finSent = true;
  }
  return null;
}

t.test('arbitrary event sequences: no write after FIN or RST_STREAM, no RST for a RST, only typed errors, the stream always finishes', async (t) => {
  let runs = 0;
  const outcomes = { finishedBothFin: 0, reset: 0 };
  await fc.assert(
    fc.asyncProperty(fc.boolean(), fc.array(ev, { minLength: 1, maxLength: 14 }), async (flowControl, events) => {
      runs++;
      const [a, b] = await socketPair();
      const server = new Connection(a, { role: 'server', flowControl });
      server.on('error', () => {});
      const reader = new FrameReader(b as net.Socket);
      const comp = new HeaderCompressor();
      const frames: Frame[] = [];
      let peerResetAt = Infinity;
      let pingId = 1;
      /** PING barrier: every frame kube-spdy wrote before answering is collected. */
      const barrier = async (): Promise<boolean> => {
        const id = pingId;
        pingId += 2;
        b.write(encodePing(id));
        for (;;) {
          let f: Frame;
          try {
            f = await reader.next(3000);
          } catch {
            return false;
          }
          if (f.type === FrameType.PING && f.id === id) return true;
          if (f.type === FrameType.PING && f.id % 2 === 0) b.write(encodePing(f.id));
          frames.push(f);
        }
      };
      try {
        const accepted = new Promise<Stream>((r) => server.once('stream', r));
        b.write(encodeSynStream({ streamId: 1, associatedStreamId: 0, priority: 0, slot: 0, flags: 0, headerBlock: comp.compress({ x: 'y' }) }));
        const s = await accepted;
        s.on('error', () => {});
        s.resume();
        s.reply({});
        let peerFin = false;
        let peerRst = false;
        for (const e of events) {
          try {
            if (e.by === 'local') {
              if (e.op === 'write') {
                if (!s.writableEnded && !s.destroyed) s.write(Buffer.alloc(e.n, 1));
              } else if (e.op === 'end') s.end();
              else if (e.op === 'reset') s.reset();
              else if (e.op === 'destroy') s.destroy();
              else s.sendHeaders({ h: 'v' }, { fin: e.op === 'headersFin' });
            } else if (!peerRst) {
              if (e.op === 'data' && !peerFin) {
                const [h, d] = encodeData(1, e.fin ? FLAG_FIN : 0, Buffer.alloc(Math.min(e.n, 4000), 2));
                b.write(Buffer.concat([h, d]));
                peerFin ||= e.fin;
              } else if (e.op === 'headers' && !peerFin) {
                b.write(encodeHeaders(1, e.fin ? FLAG_FIN : 0, comp.compress({ p: 'q' })));
                peerFin ||= e.fin;
              } else if (e.op === 'rst') {
                if (!(await barrier())) return false;
                peerResetAt = frames.length - 1;
                b.write(encodeRstStream(1, 5));
                peerRst = true;
              } else if (e.op === 'update') b.write(encodeWindowUpdate(1, 1000));
            }
          } catch (err) {
            // Calls on a finished stream may be refused, but only with a typed error.
            if (!(err instanceof KubeSpdyError) && !((err as { code?: string }).code ?? '').startsWith('ERR_STREAM_')) {
              t.comment(`untyped error from ${e.by} ${e.op}: ${String(err)}`);
              return false;
            }
          }
          if (!(await barrier())) return false;
        }
        // Finish from the peer side too, then the stream must be over.
        if (!peerRst && !peerFin) {
          const [h, d] = encodeData(1, FLAG_FIN, Buffer.alloc(0));
          b.write(Buffer.concat([h, d]));
        }
        if (!s.writableEnded && !s.destroyed) s.end();
        if (!(await barrier())) return false;
        if (!(await barrier())) return false;
        const reason = checkWire(frames, peerResetAt);
        if (reason) {
          t.comment(reason);
          return false;
        }
        if (!s.destroyed) {
          t.comment(`stream not finished: state ${String(s.stats?.().state)}`);
          return false;
        }
        if (frames.some((f) => f.type === FrameType.RST_STREAM) || peerRst) outcomes.reset++;
        else outcomes.finishedBothFin++;
        return !server.isClosed;
      } finally {
        server.destroy();
        a.destroy();
        b.destroy();
      }
    }),
    fcOptions(60),
  );
  t.ok(runs >= 60, `${runs} runs: ${outcomes.finishedBothFin} ended by FIN both ways, ${outcomes.reset} by a reset`);
});
