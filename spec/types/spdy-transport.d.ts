// The small part of spdy-transport 3.0.0 the interop tests use (the package ships no types).
declare module 'spdy-transport' {
  import type { Duplex } from 'node:stream';
  import type { EventEmitter } from 'node:events';

  export interface SpdyStream extends Duplex {
    id: number;
    method?: string;
    path?: string;
    headers: Record<string, string>;
    respond(status: number, headers: Record<string, string>, cb?: (err?: Error | null) => void): void;
    abort(code?: string, cb?: () => void): void;
    on(event: 'response', listener: (status: number, headers: Record<string, string>) => void): this;
    on(event: string | symbol, listener: (...args: any[]) => void): this;
  }

  export interface SpdyConnectionOptions {
    protocol: 'spdy' | 'http2';
    isServer: boolean;
    /** Server: switch to SPDY/3.1 session flow control when the peer sends a session WINDOW_UPDATE. */
    autoSpdy31?: boolean;
    /** Receive window of each stream and of the session (also sent as SETTINGS INITIAL_WINDOW_SIZE). Default 1 MiB. */
    windowSize?: number;
    /** Largest DATA payload, bytes (default 8 KiB); `false` = no limit. */
    maxChunk?: number | false;
    maxStreams?: number;
  }

  export interface SpdyConnection extends EventEmitter {
    socket: Duplex;
    /** Internals, used only to work around its negative session WINDOW_UPDATE (see the interop test). */
    _spdyState: { window: { recv: { current: number; max: number } } };
    start(version: number): void;
    request(
      uri: { method: string; path: string; headers?: Record<string, string>; host?: string },
      cb?: (err: Error | null, stream?: SpdyStream) => void,
    ): SpdyStream;
    ping(cb: (err: Error | null) => void): void;
    end(cb?: () => void): void;
    on(event: 'stream', listener: (stream: SpdyStream) => void): this;
    on(event: string | symbol, listener: (...args: any[]) => void): this;
  }

  export const connection: { create(socket: Duplex, options: SpdyConnectionOptions): SpdyConnection };
}
