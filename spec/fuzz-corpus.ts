// Frame generators for fuzzing: valid frames of every type, mutations of them, and random bytes.
import { Duplex } from 'node:stream';
import {
  encodeData,
  encodeGoaway,
  encodeHeaders,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeSynReply,
  encodeSynStream,
  encodeWindowUpdate,
} from '../lib/frames/encoder.js';
import type { HeaderCompressor } from '../lib/compression/index.js';

/** An in-memory socket: what the connection writes is collected in `out`; input is fed with `feed`. */
export class MemSocket extends Duplex {
  readonly out: Buffer[] = [];
  outBytes = 0;
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.out.push(chunk);
    this.outBytes += chunk.length;
    cb();
  }
  feed(b: Buffer): void {
    this.emit('data', b);
  }
}

export type Rand = () => number;

const int = (r: Rand, n: number): number => Math.floor(r() * n);

function pick<T>(r: Rand, xs: T[]): T {
  return xs[int(r, xs.length)]!;
}

/** A well-formed frame of a random type, with ids and values that are sometimes valid, sometimes not. */
export function validFrame(r: Rand, comp: HeaderCompressor, nextId: { v: number }): Buffer {
  const sid = (): number => (r() < 0.7 ? Math.max(1, nextId.v - 2 * int(r, 3)) : int(r, 0x7fffffff) + 1);
  switch (int(r, 9)) {
    case 0: {
      const id = r() < 0.85 ? nextId.v : sid();
      if (id === nextId.v) nextId.v += 2;
      const headers: Record<string, string> = { streamtype: pick(r, ['data', 'error']), port: String(int(r, 70000)), requestid: String(int(r, 100)) };
      return encodeSynStream({ streamId: id, associatedStreamId: 0, priority: int(r, 8), slot: 0, flags: int(r, 4), headerBlock: comp.compress(headers) });
    }
    case 1:
      return encodeSynReply(sid(), int(r, 2), comp.compress({ a: 'b' }));
    case 2:
      return encodeRstStream(sid(), int(r, 13));
    case 3:
      return encodeSettings(int(r, 2), Array.from({ length: int(r, 4) }, () => ({ id: int(r, 10), flags: int(r, 3), value: r() < 0.5 ? int(r, 1 << 20) : int(r, 0xffffffff) })));
    case 4:
      return encodePing(int(r, 0xffffffff));
    case 5:
      return encodeGoaway(int(r, nextId.v + 2), int(r, 3));
    case 6:
      return encodeHeaders(sid(), int(r, 2), comp.compress({ x: 'y' }));
    case 7:
      return encodeWindowUpdate(r() < 0.3 ? 0 : sid(), r() < 0.1 ? 0 : int(r, 0x7fffffff));
    default: {
      const [h, d] = encodeData(sid(), int(r, 2), Buffer.alloc(int(r, 2048), int(r, 256)));
      return Buffer.concat([h, d]);
    }
  }
}

/** A mutation of `frame`: flipped bytes, a rewritten length, a truncation or extension. */
export function mutate(r: Rand, frame: Buffer): Buffer {
  const b = Buffer.from(frame);
  switch (int(r, 5)) {
    case 0:
      for (let i = 0, n = 1 + int(r, 4); i < n; i++) b[int(r, b.length)] = int(r, 256);
      return b;
    case 1:
      if (b.length >= 8) b.writeUIntBE(r() < 0.5 ? int(r, 64) : int(r, 0xffffff), 5, 3);
      return b;
    case 2:
      return b.subarray(0, int(r, b.length));
    case 3:
      return Buffer.concat([b, Buffer.alloc(int(r, 32), int(r, 256))]);
    default:
      if (b.length >= 4) b.writeUInt16BE(int(r, 16), 2); // another control type (0..15)
      return b;
  }
}

/** Random bytes shaped like a frame header (control bit and version 3 most of the time). */
export function randomFrame(r: Rand): Buffer {
  const len = int(r, 64);
  const b = Buffer.alloc(8 + len);
  for (let i = 0; i < b.length; i++) b[i] = int(r, 256);
  if (r() < 0.7) b.writeUInt16BE(0x8003, 0);
  b.writeUIntBE(r() < 0.8 ? len : int(r, 0xffffff), 5, 3);
  return b;
}
