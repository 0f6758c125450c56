// The fuzzing link between two live endpoints: an in-memory socket pair whose bytes are cut into frames
// (by the 8-byte SPDY header, before any mutation, so framing of the original stream is exact), mutated
// frame by frame and as sequences (drop, duplicate, swap, inject), and delivered to the other side in
// random splits, asynchronously, as TCP would. Used by bench/fuzz.mjs.
import { Duplex } from 'node:stream';

export const int = (r, n) => Math.floor(r() * n);
export const pick = (r, xs) => xs[int(r, xs.length)];

/** mulberry32: a small seeded PRNG (same seed, same run). */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CONTROL_TYPES = [1, 2, 3, 4, 6, 7, 8, 9, 10, 0, 5, 11, 0xffff];
const EDGE_IDS = [0, 1, 2, 3, 0x7ffffffe, 0x7fffffff, 0xffffffff];
const EDGE_32 = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 65535, 65536];

/** One mutation of a single frame (a copy; the original is untouched). */
export function mutateFrame(r, frame) {
  const b = Buffer.from(frame);
  switch (int(r, 9)) {
    case 0: // flip bytes
      for (let i = 0, n = 1 + int(r, 4); i < n; i++) b[int(r, b.length)] = int(r, 256);
      return b;
    case 1: // lie about the length
      if (b.length >= 8) b.writeUIntBE(r() < 0.5 ? int(r, 64) : r() < 0.5 ? int(r, 0xffffff) : Math.max(0, b.length - 8 + pick(r, [-4, -1, 1, 4, 8])), 5, 3);
      return b;
    case 2: // truncate
      return b.subarray(0, int(r, b.length));
    case 3: // extend with junk
      return Buffer.concat([b, Buffer.alloc(1 + int(r, 32), int(r, 256))]);
    case 4: // another control type
      if (b.length >= 4 && b[0] & 0x80) b.writeUInt16BE(pick(r, CONTROL_TYPES), 2);
      return b;
    case 5: // another stream id (control frames with an id, or DATA)
      if (b.length >= 12 && b[0] & 0x80) b.writeUInt32BE(pick(r, EDGE_IDS) >>> 0, 8);
      else if (b.length >= 4) b.writeUInt32BE(pick(r, EDGE_IDS) & 0x7fffffff, 0);
      return b;
    case 6: // random flags
      if (b.length >= 5) b[4] = int(r, 256);
      return b;
    case 7: // an edge value in a 32-bit field of the payload (status, delta, count, ping id, window)
      if (b.length >= 16) b.writeUInt32BE(pick(r, EDGE_32) >>> 0, 8 + 4 * int(r, Math.floor((b.length - 8) / 4)));
      return b;
    default: // the version
      if (b.length >= 2 && b[0] & 0x80) b.writeUInt16BE(0x8000 | pick(r, [2, 3, 4, 0, 0x7fff]), 0);
      return b;
  }
}

/** Random bytes shaped like a frame (control bit and version 3 most of the time). */
export function randomFrame(r) {
  const len = int(r, 48);
  const b = Buffer.alloc(8 + len);
  for (let i = 0; i < b.length; i++) b[i] = int(r, 256);
  if (r() < 0.7) b.writeUInt16BE(0x8003, 0);
  if (r() < 0.5) b.writeUInt16BE(pick(r, CONTROL_TYPES), 2);
  b.writeUIntBE(r() < 0.85 ? len : int(r, 0xffffff), 5, 3);
  return b;
}

/**
 * One direction of the link. Frames written by the sender are cut out of its byte stream; each is kept,
 * mutated, dropped, duplicated, swapped with the next, or preceded by an injected frame, at `rate`; the
 * result is delivered to `deliver` in 1–3 splits per frame on a later turn of the event loop.
 */
class Direction {
  constructor(r, rate, deliver, stats, inspect) {
    this.r = r;
    this.rate = rate;
    this.deliver = deliver;
    this.stats = stats;
    this.inspect = inspect;
    this.pending = [];
    this.pendingBytes = 0;
    this.held = null; // a frame held back to swap with the next one
    this.out = [];
    this.scheduled = false;
    this.stopped = false;
  }

  write(chunk) {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    for (;;) {
      if (this.pendingBytes < 8) return;
      const all = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
      this.pending = [all];
      const len = all.readUIntBE(5, 3);
      if (all.length < 8 + len) return;
      const frame = all.subarray(0, 8 + len);
      const rest = all.subarray(8 + len);
      this.pending = rest.length ? [rest] : [];
      this.pendingBytes = rest.length;
      this.inspect(frame);
      this.frame(frame);
    }
  }

  frame(f) {
    const r = this.r;
    if (r() >= this.rate) return this.emit(f);
    this.stats.mutated++;
    switch (int(r, 6)) {
      case 0:
        return; // dropped
      case 1:
        this.emit(f);
        return this.emit(f); // duplicated
      case 2:
        if (this.held) {
          const h = this.held;
          this.held = null;
          this.emit(f);
          return this.emit(h);
        }
        this.held = f; // swapped with the next frame
        return;
      case 3:
        this.emit(randomFrame(r));
        return this.emit(f);
      default:
        return this.emit(mutateFrame(r, f));
    }
  }

  emit(f) {
    if (this.stopped) return;
    this.stats.inputs++;
    this.out.push(f);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush() {
    this.scheduled = false;
    if (this.held && this.r() < 0.5) {
      this.out.push(this.held);
      this.stats.inputs++;
      this.held = null;
    }
    const frames = this.out;
    this.out = [];
    for (const f of frames) {
      if (this.stopped) return;
      let at = 0;
      for (let parts = 1 + int(this.r, 3); parts > 1 && at < f.length; parts--) {
        const cut = at + int(this.r, f.length - at + 1);
        if (cut > at) this.deliver(f.subarray(at, cut));
        at = cut;
      }
      if (at < f.length) this.deliver(f.subarray(at));
    }
  }
}

class End extends Duplex {
  constructor() {
    super({ allowHalfOpen: true });
    this.toPeer = null;
    this.onEnd = null;
  }
  _read() {}
  _write(chunk, _enc, cb) {
    this.toPeer.write(chunk);
    cb();
  }
  _final(cb) {
    setImmediate(() => this.onEnd?.());
    cb();
  }
  _destroy(err, cb) {
    this.toPeer.stopped = true;
    setImmediate(() => this.onDestroy?.());
    cb(err);
  }
}

/**
 * A pair of connected in-memory sockets with a mutating link between them. `rate` is the share of frames
 * mutated (0 = a clean link); `inspect(frame, fromSide)` sees every frame as its sender wrote it.
 */
export function fuzzLink(r, rate, stats, inspect) {
  const a = new End();
  const b = new End();
  a.toPeer = new Direction(r, rate, (c) => !b.destroyed && b.push(c), stats, (f) => inspect(f, 'a'));
  b.toPeer = new Direction(r, rate, (c) => !a.destroyed && a.push(c), stats, (f) => inspect(f, 'b'));
  a.onEnd = () => !b.destroyed && b.push(null);
  b.onEnd = () => !a.destroyed && a.push(null);
  a.onDestroy = () => b.destroy();
  b.onDestroy = () => a.destroy();
  return [a, b];
}
