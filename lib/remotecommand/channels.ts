/**
 * The WebSocket channel protocol of remotecommand (kubelet/apiserver `wsstream`, client-go
 * `tools/remotecommand/websocket.go`): every binary message starts with one byte, the channel
 * (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize); v5 adds channel 255, CLOSE, whose one-byte payload
 * names the channel being closed. {@link ChannelSocket} turns one `ws` WebSocket into a Node stream per
 * channel, with backpressure both ways:
 * - out: a channel's Writable calls back once `ws` has handed the message to the socket, so `write()`
 *   returns false while the socket is full;
 * - in: when a channel's Readable is above its high-water mark the WebSocket is paused (`ws.pause()`,
 *   no more reads from the TCP socket) until that channel is read again.
 */
import { Readable, Writable } from 'node:stream';
import { EventEmitter } from 'node:events';
import type { WebSocket, RawData } from 'ws';
import createDebug from 'debug';
import { ClosedError } from '../errors.js';
import { Channel } from './constants.js';

const log = createDebug('kube-spdy:remotecommand:ws');

/** Options of {@link ChannelSocket}. */
export interface ChannelSocketOptions {
  /** Protocol version (1–5); CLOSE messages are sent and understood only with 5. */
  version: number;
  /** Channels this side reads (e.g. a client reads 1, 2, 3). */
  readChannels: readonly number[];
  /** Channels this side writes (e.g. a client writes 0 and 4). */
  writeChannels: readonly number[];
  /** Readable and writable high-water mark of each channel, bytes. Default 1 MiB. */
  highWaterMark?: number;
  /** Send the v5 CLOSE message when a writable channel ends. Default true (clients); servers end with the WebSocket close. */
  sendClose?: boolean;
}

/**
 * One WebSocket as channels. Emits `'close' (code: number, reason: string)` once the WebSocket has closed,
 * after every readable channel has been ended.
 */
export class ChannelSocket extends EventEmitter<{ close: [code: number, reason: string] }> {
  readonly ws: WebSocket;
  readonly version: number;
  /** @internal */ readonly sendClose: boolean;
  private readonly readables = new Map<number, ChannelReadable>();
  private readonly writables = new Map<number, ChannelWritable>();
  private readonly full = new Set<number>();
  private paused = false;
  closed = false;

  constructor(ws: WebSocket, options: ChannelSocketOptions) {
    super();
    this.ws = ws;
    this.version = options.version;
    this.sendClose = options.sendClose ?? true;
    const hwm = options.highWaterMark ?? 1024 * 1024;
    for (const ch of options.readChannels) this.readables.set(ch, new ChannelReadable(this, ch, hwm));
    for (const ch of options.writeChannels) this.writables.set(ch, new ChannelWritable(this, ch, hwm));
    ws.binaryType = 'nodebuffer';
    ws.on('message', this.onMessage);
    ws.once('close', (code: number, reason: Buffer) => {
      this.closed = true;
      log('closed: %d %s', code, reason.toString());
      for (const r of this.readables.values()) if (!r.readableEnded) r.push(null);
      for (const w of this.writables.values()) {
        if (w.destroyed || w.writableFinished) continue;
        // 'error' only for someone listening (as session streams do): a lost peer must not crash the process.
        if (w.listenerCount('error') > 0) w.destroy(new ClosedError(`WebSocket closed (${code})`));
        else w.destroy();
      }
      this.emit('close', code, reason.toString());
    });
  }

  /** The stream of data received on `channel` (one of `readChannels`). */
  readable(channel: number): Readable {
    const r = this.readables.get(channel);
    if (!r) throw new RangeError(`channel ${channel} is not read by this side`);
    return r;
  }

  /** The stream that sends on `channel` (one of `writeChannels`); `end()` sends CLOSE on v5. */
  writable(channel: number): Writable {
    const w = this.writables.get(channel);
    if (!w) throw new RangeError(`channel ${channel} is not written by this side`);
    return w;
  }

  /** Sends one message `[channel, ...payload]`; `cb` runs once it is handed to the socket (or failed). */
  send(channel: number, payload: Buffer, cb?: (err?: Error) => void): void {
    if (this.ws.readyState !== 1) {
      cb?.(new ClosedError('WebSocket is not open'));
      return;
    }
    const msg = Buffer.allocUnsafe(payload.length + 1);
    msg[0] = channel;
    payload.copy(msg, 1);
    this.ws.send(msg, { binary: true }, cb);
  }

  /** Pauses reading from the WebSocket while a channel is above its high-water mark. @internal */
  setFull(channel: number, full: boolean): void {
    if (full) this.full.add(channel);
    else this.full.delete(channel);
    const pause = this.full.size > 0;
    if (pause === this.paused || this.closed) return;
    this.paused = pause;
    if (pause) this.ws.pause();
    else this.ws.resume();
  }

  private readonly onMessage = (data: RawData, isBinary: boolean): void => {
    const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    if (!isBinary || buf.length === 0) {
      log('ignoring a %s message of %d bytes', isBinary ? 'binary' : 'text', buf.length);
      return;
    }
    const channel = buf[0]!;
    if (channel === Channel.CLOSE && this.version >= 5) {
      const which = buf[1];
      const r = which === undefined ? undefined : this.readables.get(which);
      log('CLOSE of channel %s', which);
      if (r && !r.readableEnded) {
        r.remoteClosed = true;
        r.push(null);
      }
      return;
    }
    const r = this.readables.get(channel);
    if (!r) {
      log('discarding %d bytes on unexpected channel %d', buf.length - 1, channel);
      return;
    }
    if (buf.length === 1 || r.remoteClosed) return; // the empty "ready" message servers send first
    if (!r.push(buf.subarray(1))) this.setFull(channel, true);
  };
}

class ChannelReadable extends Readable {
  remoteClosed = false;
  constructor(
    private readonly owner: ChannelSocket,
    private readonly channel: number,
    highWaterMark: number,
  ) {
    super({ highWaterMark });
  }
  override _read(): void {
    this.owner.setFull(this.channel, false);
  }
}

class ChannelWritable extends Writable {
  constructor(
    private readonly owner: ChannelSocket,
    private readonly channel: number,
    highWaterMark: number,
  ) {
    super({ highWaterMark });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.owner.send(this.channel, chunk, (err) => cb(err ?? null));
  }
  override _final(cb: (err?: Error | null) => void): void {
    if (this.owner.sendClose && this.owner.version >= 5 && this.owner.ws.readyState === 1) {
      this.owner.ws.send(Buffer.from([Channel.CLOSE, this.channel]), { binary: true }, (err) => cb(err ?? null));
    } else cb();
  }
}
