// Test helpers: loopback socket pairs and a raw frame reader.
import net from 'node:net';
import { Duplex } from 'node:stream';
import { FrameDecoder } from '../lib/frames/decoder.js';
import type { Frame } from '../lib/frames/types.js';
import { Connection } from '../lib/session/connection.js';
import type { ConnectionOptions } from '../lib/session/options.js';

/** A connected pair of TCP sockets on 127.0.0.1. */
export async function socketPair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer({ allowHalfOpen: true });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await new Promise<void>((r) => client.once('connect', r));
  const srv = await accepted;
  server.close();
  return [client, srv];
}

/** A client and a server Connection over a loopback pair. */
export async function connectionPair(
  clientOpts: Omit<ConnectionOptions, 'role'> = {},
  serverOpts: Omit<ConnectionOptions, 'role'> = {},
): Promise<{ client: Connection; server: Connection; close: () => Promise<void> }> {
  const [a, b] = await socketPair();
  const client = new Connection(a, { ...clientOpts, role: 'client' });
  const server = new Connection(b, { ...serverOpts, role: 'server' });
  return {
    client,
    server,
    close: async () => {
      client.destroy();
      server.destroy();
      a.destroy();
      b.destroy();
    },
  };
}

/** Reads frames from a raw socket. `next()` waits for the next frame (rejects after `ms`). */
export class FrameReader {
  private readonly decoder = new FrameDecoder();
  private readonly frames: Frame[] = [];
  private waiter: (() => void) | null = null;
  ended = false;
  constructor(socket: net.Socket) {
    socket.on('data', (c: Buffer) => {
      this.decoder.push(c);
      for (let f = this.decoder.next(); f; f = this.decoder.next()) this.frames.push(f);
      this.waiter?.();
    });
    socket.on('end', () => {
      this.ended = true;
      this.waiter?.();
    });
    socket.on('close', () => {
      this.ended = true;
      this.waiter?.();
    });
  }
  async next(ms = 2000): Promise<Frame> {
    const deadline = Date.now() + ms;
    while (this.frames.length === 0) {
      if (this.ended) throw new Error('socket ended with no further frame');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${ms} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiter = () => {
          clearTimeout(t);
          r();
        };
      });
      this.waiter = null;
    }
    return this.frames.shift()!;
  }
  /** Waits for a frame of `type`, skipping others. */
  async nextOfType(type: number, ms = 2000): Promise<Frame> {
    const deadline = Date.now() + ms;
    for (;;) {
      const f = await this.next(Math.max(1, deadline - Date.now()));
      if (f.type === type) return f;
    }
  }
}

/** Reads a stream to its end. */
export async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks);
}

/** Deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytes(n: number, seed: number): Buffer {
  const r = prng(seed);
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (r() * 256) | 0;
  return b;
}

/** Two connected in-process Duplex ends (no sockets, no file descriptors): what one writes, the other reads. */
export function duplexPair(): [Duplex, Duplex] {
  let a: Duplex;
  let b: Duplex;
  const make = (other: () => Duplex): Duplex =>
    new Duplex({
      allowHalfOpen: true,
      read() {},
      write(chunk: Buffer, _enc, cb) {
        other().push(chunk);
        cb();
      },
      final(cb) {
        other().push(null);
        cb();
      },
      destroy(err, cb) {
        const o = other();
        if (!o.destroyed) o.destroy();
        cb(err);
      },
    });
  a = make(() => b);
  b = make(() => a);
  return [a, b];
}
