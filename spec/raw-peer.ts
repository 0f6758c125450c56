// One raw SPDY peer for tests: a TCP socket that speaks frames by hand to a kube-spdy Connection and
// reads what comes back. `barrier()` replaces waiting for silence: it PINGs and returns the frames that
// arrived before the echo (twice, so frames queued in the same turn as the first echo are in too).
import type { Test } from 'tap';
import type net from 'node:net';
import { Connection } from '../lib/session/connection.js';
import type { ConnectionOptions } from '../lib/session/options.js';
import type { Stream } from '../lib/session/stream.js';
import { FrameType } from '../lib/frames/constants.js';
import type { Frame } from '../lib/frames/types.js';
import { encodeData, encodeHeaders, encodePing, encodeSynReply, encodeSynStream } from '../lib/frames/encoder.js';
import { HeaderCompressor } from '../lib/compression/index.js';
import { socketPair, FrameReader } from './helpers.js';

export interface RawPeerOptions {
  /** Accept incoming streams on the Connection and reply to them. Default true. */
  accept?: boolean;
}

export class RawPeer {
  readonly streams: Stream[] = [];
  readonly comp = new HeaderCompressor();
  private pingId: number;

  private constructor(
    /** The kube-spdy side. */
    readonly conn: Connection,
    /** The raw side's socket. */
    readonly socket: net.Socket,
    readonly reader: FrameReader,
  ) {
    this.pingId = conn.role === 'server' ? 1 : 2;
  }

  /** A Connection in `role` and a raw peer on the other end of a loopback pair, torn down with `t`. */
  static async open(t: Test, role: 'client' | 'server', opts: Omit<ConnectionOptions, 'role'> = {}, o: RawPeerOptions = {}): Promise<RawPeer> {
    const [a, b] = await socketPair();
    const conn = new Connection(a, { role, ...opts });
    conn.on('error', () => {});
    const peer = new RawPeer(conn, b, new FrameReader(b));
    if (o.accept !== false) {
      conn.on('stream', (s) => {
        s.on('error', () => {});
        peer.streams.push(s);
        s.reply({});
      });
    }
    t.teardown(() => {
      conn.destroy();
      b.destroy();
    });
    return peer;
  }

  write(b: Buffer | Buffer[]): void {
    this.socket.write(Array.isArray(b) ? Buffer.concat(b) : b);
  }

  syn(id: number, headers: Record<string, string> = { a: 'b' }, flags = 0): void {
    this.write(encodeSynStream({ streamId: id, associatedStreamId: 0, priority: 0, slot: 0, flags, headerBlock: this.comp.compress(headers) }));
  }

  reply(id: number, headers: Record<string, string> = {}, flags = 0): void {
    this.write(encodeSynReply(id, flags, this.comp.compress(headers)));
  }

  headers(id: number, headers: Record<string, string>, flags = 0): void {
    this.write(encodeHeaders(id, flags, this.comp.compress(headers)));
  }

  data(id: number, bytes: number | Buffer, flags = 0): void {
    this.write(encodeData(id, flags, typeof bytes === 'number' ? Buffer.alloc(bytes, 1) : bytes));
  }

  async next<T extends Frame['type']>(type: T, ms = 2000): Promise<Extract<Frame, { type: T }>> {
    return (await this.reader.nextOfType(type, ms)) as Extract<Frame, { type: T }>;
  }

  rst(): Promise<{ streamId: number; status: number }> {
    return this.next(FrameType.RST_STREAM);
  }

  goaway(): Promise<{ lastGoodStreamId: number; status: number }> {
    return this.next(FrameType.GOAWAY);
  }

  /** One PING round trip; returns the frames that came before the echo (PINGs of the peer's own excluded). */
  async roundTrip(ms = 5000): Promise<Frame[]> {
    const id = this.pingId;
    this.pingId += 2;
    this.write(encodePing(id));
    const seen: Frame[] = [];
    for (;;) {
      const f = await this.reader.next(ms);
      if (f.type === FrameType.PING && f.id === id) return seen;
      seen.push(f);
    }
  }

  /** Everything the Connection wrote in response to what was sent before: two PING round trips. */
  async barrier(ms = 5000): Promise<Frame[]> {
    const first = await this.roundTrip(ms);
    return first.concat(await this.roundTrip(ms));
  }

  /** Proves the connection still works. */
  async alive(): Promise<void> {
    await this.roundTrip();
  }
}

/** Sum of DATA payload bytes of `streamId` in `frames`. */
export function dataBytes(frames: Frame[], streamId: number): number {
  let n = 0;
  for (const f of frames) if (f.type === FrameType.DATA && f.streamId === streamId) n += f.data.length;
  return n;
}

let barrierId = 0x40000000;

/**
 * A PING barrier on a raw socket whose frames `reader` reads: sends two PINGs (ids of `parity`: 1 when
 * the raw side is the client, 0 when it is the server) one after the other and returns every frame that
 * arrived before the second echo. The Connection handles frames in order and writes what they caused
 * in the same turn as the echo, so this is "everything it did in response", without waiting for silence.
 */
export async function barrier(socket: net.Socket, reader: FrameReader, parity: 0 | 1, ms = 5000): Promise<Frame[]> {
  const seen: Frame[] = [];
  for (let round = 0; round < 2; round++) {
    barrierId += 2;
    const id = (barrierId & ~1) | parity;
    socket.write(encodePing(id));
    for (;;) {
      const f = await reader.next(ms);
      if (f.type === FrameType.PING && f.id === id) break;
      seen.push(f);
    }
  }
  return seen;
}
