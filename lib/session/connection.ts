/**
 * A SPDY/3.1 connection over any Duplex byte stream (a `net.Socket`, a `tls.TLSSocket`, an upgraded
 * HTTP socket, a WebSocket tunnel), in the client or server role.
 *
 * Frames are handled inline, in order, at one dispatch point ({@link Connection.processFrame}); every
 * handler either handles its frame or raises a typed error: a {@link StreamError} resets one stream
 * with RST_STREAM, a {@link SessionError} sends GOAWAY with the last-good-stream-id and closes
 * (rules: shared reference `spdy31-wire.md`, "Streams").
 *
 * Events (eventemitter3):
 * - `'stream' (stream: Stream)`: the peer opened a stream; answer with `stream.reply(headers)` or
 *   `stream.reset(status)`. Without a listener, incoming streams are refused (REFUSED_STREAM).
 * - `'goaway' (info: { lastGoodStreamId: number; status: number })`: the peer sent GOAWAY.
 * - `'close' (err?: Error)`: the connection is closed; `err` is set when it failed
 *   ({@link SessionError}, {@link LivenessError}, a socket error…).
 * - `'error' (err: Error)`: a session error happened (also reported by `'close'`); eventemitter3 never
 *   throws for an unheard `'error'`.
 * - `'ping' (id: number)`: the peer pinged us (we already answered).
 */
import type { Duplex } from 'node:stream';
import { EventEmitter } from 'eventemitter3';
import createDebug from 'debug';
import {
  FrameType,
  FLAG_FIN,
  FLAG_UNIDIRECTIONAL,
  GoawayStatus,
  RstStatus,
  SettingsId,
  DEFAULT_INITIAL_WINDOW,
  MAX_STREAM_ID,
  MAX_WINDOW,
  frameTypeName,
  rstStatusName,
  goawayStatusName,
} from '../frames/constants.js';
import type {
  Frame,
  Headers,
  DataFrame,
  SynStreamFrame,
  SynReplyFrame,
  RstStreamFrame,
  SettingsFrame,
  PingFrame,
  GoawayFrame,
  HeadersFrame,
  WindowUpdateFrame,
  SettingsEntry,
} from '../frames/types.js';
import { FrameDecoder } from '../frames/decoder.js';
import {
  encodeSynStream,
  encodeSynReply,
  encodeRstStream,
  encodeSettings,
  encodePing,
  encodeGoaway,
  encodeHeaders,
  encodeWindowUpdate,
} from '../frames/encoder.js';
import { HeaderCompressor, HeaderDecompressor, parseHeaderBlock } from '../compression/index.js';
import {
  AbortError,
  ClosedError,
  GoawayError,
  SessionError,
  StreamError,
  StreamResetError,
  TimeoutError,
  KubeSpdyError,
  LivenessError,
} from '../errors.js';
import { resolveOptions, type ConnectionOptions, type ResolvedOptions } from './options.js';
import { SendWindow, RecvWindow } from './flow.js';
import { FrameWriter, type WriteItem } from './writer.js';
import { Liveness } from './liveness.js';
import { Deadline } from './deadline.js';
import { RateLimit } from './limits.js';
import { Stream, StreamState, type StreamOwner } from './stream.js';
import { withRequestPseudoHeaders, withReplyPseudoHeaders } from './pseudo-headers.js';
import type { ConnectionEvents, CreateStreamOptions, ConnectionStats } from './types.js';

const log = createDebug('kube-spdy:session');
const flog = createDebug('kube-spdy:frames');

export type { ConnectionEvents, CreateStreamOptions, ConnectionStats } from './types.js';

/** How many ids of recently closed streams are remembered (to tell late DATA from bogus DATA). */
const RECENT_CLOSED = 512;

export class Connection extends EventEmitter<ConnectionEvents> implements StreamOwner {
  readonly role: 'client' | 'server';
  readonly options: ResolvedOptions;
  /** The underlying byte stream. */
  readonly socket: Duplex;
  private readonly decoder: FrameDecoder;
  private readonly writer: FrameWriter;
  private readonly compressor = new HeaderCompressor();
  private readonly decompressor: HeaderDecompressor;
  private readonly streams = new Map<number, Stream>();
  private readonly recentlyClosed = new Map<number, 'reset' | 'closed'>();
  /** Waits for SYN_REPLY, by stream id. */
  private readonly opening = new Map<number, Deadline<Stream>>();
  /** Waits for PING echoes, by ping id. */
  private readonly pings = new Map<number, Deadline<number>>();
  private nextStreamId: number;
  private nextPingId: number;
  /** Highest stream id the peer opened that we accepted (for GOAWAY). */
  private lastPeerStreamId = 0;
  /** Highest stream id seen from the peer (accepted or not). */
  private highestPeerStreamId = 0;
  private peerStreamCount = 0;
  private readonly sessionSendWindow = new SendWindow(DEFAULT_INITIAL_WINDOW);
  private readonly sessionRecvWindow: RecvWindow;
  /** The peer's INITIAL_WINDOW_SIZE for our sends. */
  private peerInitialWindow = DEFAULT_INITIAL_WINDOW;
  private peerMaxConcurrent = Infinity;
  private settingsSent = false;
  /**
   * Extra bytes a stream may receive beyond its window while the peer may not have seen our SETTINGS
   * INITIAL_WINDOW_SIZE (below 64 KiB) yet: SPDY has no SETTINGS ACK, so until then it may use the default.
   */
  private windowSlack = 0;
  private goawaySent = false;
  private goawayReceived: { lastGoodStreamId: number; status: number } | null = null;
  private closing: Promise<void> | null = null;
  private closed = false;
  private closeError: Error | undefined;
  private readonly blockedReaders = new Set<Stream>();
  private socketPaused = false;
  /** Times reading the socket was paused (liveness: a PING reply may sit unread behind DATA meanwhile). */
  private pauseCount = 0;
  /** Windows honoured now: `flowControl: true`, or `'auto'` once the peer showed it implements them. */
  private flowOn: boolean;
  private counters = { bytesIn: 0, bytesOut: 0, framesIn: 0, framesOut: 0 };
  private rtt = Number.NaN;
  private readonly streamDrainWaiters = new Set<() => void>();
  /** Frames by type, indexed by type (DATA 0 … CREDENTIAL 10, 11 = unknown); `typeOut` counts frames written. */
  private readonly typeIn = new Array<number>(12).fill(0);
  private readonly typeOut = new Array<number>(12).fill(0);
  private readonly liveness: Liveness;
  private readonly pingLimit: RateLimit;
  private readonly settingsLimit: RateLimit;
  private readonly resetLimit: RateLimit;

  /**
   * @param socket any Duplex carrying the SPDY byte stream; the connection owns it from now on
   *   (reads it, writes it, destroys it on close).
   * @param options see {@link ConnectionOptions}; `role` is required.
   * @throws RangeError / TypeError for invalid options.
   */
  constructor(socket: Duplex, options: ConnectionOptions) {
    super();
    this.options = resolveOptions(options);
    this.role = this.options.role;
    this.flowOn = this.options.flowControl === true;
    this.socket = socket;
    this.nextStreamId = this.role === 'client' ? 1 : 2;
    this.nextPingId = this.role === 'client' ? 1 : 2;
    this.decoder = new FrameDecoder({
      maxControlFrameSize: this.options.maxControlFrameSize,
      maxSettingsEntries: this.options.maxSettingsEntries,
    });
    this.decompressor = new HeaderDecompressor({
      maxInflatedSize: this.options.maxHeaderBlockSize,
      implementation: this.options.inflater,
    });
    this.sessionRecvWindow = new RecvWindow(DEFAULT_INITIAL_WINDOW);
    this.writer = new FrameWriter(socket, {
      flowControl: this.flowOn,
      maxDataFrameSize: this.options.maxDataFrameSize,
      sessionWindow: this.sessionSendWindow,
      onWrite: (n, type) => {
        this.counters.bytesOut += n;
        this.counters.framesOut++;
        this.typeOut[type > 10 ? 11 : type]!++;
      },
      ...(flog.enabled ? { onData: (id: number, len: number, fin: boolean) => flog('%s -> DATA stream %d%s (%d bytes)', this.role, id, fin ? ' FIN' : '', len) } : {}),
    });
    if (this.options.flowControl === false) {
      // Compatibility mode: the peer's windows are not honoured, so they must never block a send.
      // ('auto' counts the session window from the start, so it is exact if the peer turns out to use it.)
      this.sessionSendWindow.size = MAX_WINDOW;
    }
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onSocketError);
    socket.on('close', this.onSocketClose);
    (socket as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
    this.pingLimit = new RateLimit(this.options.maxPingRate);
    this.settingsLimit = new RateLimit(this.options.maxSettingsRate);
    this.resetLimit = new RateLimit(this.options.maxResetRate);
    this.liveness = new Liveness(
      {
        ping: (o) => this.ping(o),
        readHealth: () => ({ paused: this.socketPaused, pauses: this.pauseCount, bytesIn: this.counters.bytesIn }),
        activity: () => this.counters.framesIn + this.counters.framesOut - this.typeIn[FrameType.PING]! - this.typeOut[FrameType.PING]!,
        openStreams: () => this.streams.size,
        dead: (err) => this.fail(err),
        idle: () => {
          log('%s: idle for %d ms: closing', this.role, this.options.idleTimeout);
          void this.close();
        },
      },
      this.options.pingInterval,
      this.options.pingTimeout,
      this.options.idleTimeout,
    );
    // A client may speak first; a server must not (Go's round-tripper drops bytes that follow the 101).
    if (this.role === 'client') this.sendInitialSettings();
    log('%s connection started (flow control %s)', this.role, this.options.flowControl === 'auto' ? 'auto' : this.flowOn ? 'on' : 'off');
  }

  /** True once the connection is closed (or failed). */
  get isClosed(): boolean {
    return this.closed;
  }

  /** True after close() was called or GOAWAY was sent or received: no new streams. */
  get isGoingAway(): boolean {
    return this.goawaySent || this.closing !== null || this.goawayReceived !== null;
  }

  /**
   * True while SPDY/3.1 windows are honoured both ways: always with `flowControl: true`, never with
   * `false`, and with `'auto'` from the moment the peer sent SETTINGS INITIAL_WINDOW_SIZE or a WINDOW_UPDATE.
   */
  get flowControlActive(): boolean {
    return this.flowOn;
  }

  /**
   * True while we do not read the socket because a stream's reader is behind (compatibility mode): the
   * peer is not to blame for anything that does not arrive meanwhile.
   */
  get readPaused(): boolean {
    return this.socketPaused;
  }

  /** Frames received so far (a cheap counter: "has anything arrived since?"). */
  get framesReceived(): number {
    return this.counters.framesIn;
  }

  /**
   * True when new streams here would wait behind others: the socket is paused for a slow reader (a
   * stream holds more than its high-water mark), or our writes wait for the socket to drain.
   */
  get congested(): boolean {
    return this.socketPaused || this.writer.blocked;
  }

  /** Number of streams open (not yet closed both ways). */
  get openStreams(): number {
    return this.streams.size;
  }

  /**
   * Opens a stream: sends SYN_STREAM with `headers` and resolves with the {@link Stream} once the peer's
   * SYN_REPLY arrives (its headers in `stream.replyHeaders`).
   *
   * Rejects with: {@link TimeoutError} (no SYN_REPLY within `timeout` ms; RST_STREAM CANCEL is sent),
   * {@link AbortError} (the signal fired; RST_STREAM CANCEL), {@link StreamResetError} (the peer reset it;
   * `retryable` for REFUSED_STREAM), {@link GoawayError} (the peer sent GOAWAY below this id; retryable),
   * {@link ClosedError} (the connection is closed or going away), or a TypeError for invalid headers.
   */
  createStream(headers: Headers, options: CreateStreamOptions = {}): Promise<Stream> {
    if (this.closed || this.closing || this.goawaySent) {
      return Promise.reject(new ClosedError('connection is closed', { cause: this.closeError }));
    }
    if (this.goawayReceived) {
      return Promise.reject(
        new GoawayError(this.goawayReceived.lastGoodStreamId, this.goawayReceived.status, 'peer sent GOAWAY: no new streams'),
      );
    }
    if (options.signal?.aborted) return Promise.reject(new AbortError('aborted before the stream was created', { cause: options.signal.reason }));
    const priority = options.priority ?? 0;
    if (!Number.isInteger(priority) || priority < 0 || priority > 7) return Promise.reject(new RangeError(`priority must be 0..7, got ${priority}`));
    if (this.nextStreamId > MAX_STREAM_ID) return Promise.reject(new ClosedError('stream ids exhausted: open a new connection'));
    if (this.streams.size - this.peerStreamCount >= this.peerMaxConcurrent) {
      // The peer's SETTINGS MAX_CONCURRENT_STREAMS (§2.6.4): do not open more; the caller may retry later.
      return Promise.reject(new StreamResetError(0, RstStatus.REFUSED_STREAM, `peer allows at most ${this.peerMaxConcurrent} concurrent streams`));
    }
    let block: Buffer;
    const id = this.nextStreamId;
    try {
      if (this.options.httpPseudoHeaders) headers = withRequestPseudoHeaders(headers);
      block = this.compressor.compress(headers);
    } catch (err) {
      return Promise.reject(err);
    }
    this.nextStreamId += 2;
    const stream = new Stream(this, {
      id,
      priority,
      headers,
      local: true,
      sendWindow: this.peerInitialWindow,
      recvWindow: this.options.initialWindowSize,
      highWaterMark: this.options.streamHighWaterMark,
    });
    this.streams.set(id, stream);
    let flags = 0;
    if (options.fin) {
      flags |= FLAG_FIN;
      stream.localFin = true;
    }
    if (options.unidirectional) {
      flags |= FLAG_UNIDIRECTIONAL;
      stream.remoteFin = true;
      stream.pushEnd();
    }
    const idle = options.idleTimeout ?? this.options.streamIdleTimeout;
    if (idle > 0) stream.setIdleTimeout(idle);
    // The id is assigned in the same synchronous step that queues the SYN_STREAM (ids stay increasing on the wire).
    this.writeControl(encodeSynStream({ streamId: id, associatedStreamId: 0, priority, slot: 0, flags, headerBlock: block }), FrameType.SYN_STREAM, id);
    if (options.fin) stream.end();
    const timeout = options.timeout ?? this.options.streamTimeout;
    const wait = new Deadline<Stream>({
      timeout,
      signal: options.signal,
      onSettle: () => this.opening.delete(id),
      onTimeout: () => {
        stream.reset(RstStatus.CANCEL);
        return new TimeoutError(`no SYN_REPLY for stream ${id} within ${timeout} ms`, timeout);
      },
      onAbort: (reason) => {
        stream.reset(RstStatus.CANCEL);
        return new AbortError(`stream ${id} creation aborted`, { cause: reason });
      },
    });
    this.opening.set(id, wait);
    return wait.promise;
  }

  /**
   * Sends a PING and resolves with the round trip in ms (fractional) when its echo arrives.
   * Rejects with {@link TimeoutError} after `timeout` ms (default: the connection's `pingTimeout`, 30000;
   * 0 = none), {@link AbortError}, or {@link ClosedError} if the connection closes first.
   */
  ping(options: { timeout?: number; signal?: AbortSignal } = {}): Promise<number> {
    if (this.closed) return Promise.reject(new ClosedError('connection is closed', { cause: this.closeError }));
    if (options.signal?.aborted) return Promise.reject(new AbortError('ping aborted', { cause: options.signal.reason }));
    const id = this.nextPingId;
    this.nextPingId = (this.nextPingId + 2) >>> 0;
    if (this.nextPingId === 0 || this.nextPingId > 0xfffffffe) this.nextPingId = this.role === 'client' ? 1 : 2;
    const timeout = options.timeout ?? this.options.pingTimeout;
    const wait = new Deadline<number>({
      timeout,
      signal: options.signal,
      onSettle: () => this.pings.delete(id),
      onTimeout: () => new TimeoutError(`no PING reply within ${timeout} ms`, timeout),
      onAbort: (reason) => new AbortError('ping aborted', { cause: reason }),
    });
    this.pings.set(id, wait);
    this.writeControl(encodePing(id), FrameType.PING, 0);
    return wait.promise;
  }

  /**
   * Closes gracefully: sends GOAWAY OK with the last-good-stream-id, refuses new streams, waits for open
   * streams to finish (at most `timeout` ms, default the connection's `closeTimeout`), then resets what is
   * left with CANCEL and ends the socket. Resolves when the socket is closed. Never rejects.
   * Without flow control in effect (moby/spdystream peers) the GOAWAY is sent after the drain instead: spdystream
   * stops reading at a GOAWAY and closes the TCP connection, which would cut the streams still in flight.
   */
  close(options: { timeout?: number } = {}): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.closing) return this.closing;
    if (this.flowOn) this.sendGoaway(GoawayStatus.OK);
    const timeout = options.timeout ?? this.options.closeTimeout;
    this.closing = new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.streamDrainWaiters.delete(check);
        this.sendGoaway(GoawayStatus.OK); // no-op unless deferred (compatibility mode) or already closed
        this.finish(undefined);
        if (this.closed && this.socket.destroyed) resolve();
        else this.socket.once('close', () => resolve());
      };
      const check = (): void => {
        // Deferred a tick: the frame that closed the last stream may still be on its way to the writer.
        if (this.streams.size === 0) process.nextTick(() => this.streams.size === 0 && done());
      };
      const timer = setTimeout(done, timeout);
      timer.unref?.();
      this.streamDrainWaiters.add(check);
      check();
    });
    return this.closing;
  }

  /**
   * Closes at once. With a {@link SessionError}, sends GOAWAY with its status first. All streams are
   * destroyed (with `err`, or a {@link ClosedError}); pending createStream/ping calls reject.
   */
  destroy(err?: Error): void {
    if (this.closed) return;
    if (err instanceof SessionError) this.sendGoaway(err.status);
    this.finish(err);
  }

  /** Counters of the connection and its open streams. */
  stats(): ConnectionStats {
    return {
      role: this.role,
      ...this.counters,
      rtt: this.rtt,
      flowControl: this.flowOn,
      readPaused: this.socketPaused,
      openStreams: this.streams.size,
      framesByType: { in: byName(this.typeIn), out: byName(this.typeOut) },
      streams: [...this.streams.values()].map((s) => s.stats()),
      sendWindow: this.sessionSendWindow.size,
      recvWindow: this.sessionRecvWindow.available,
    };
  }

  // ---- StreamOwner (called by Stream) ----

  /** @internal */
  enqueueData(stream: Stream, item: WriteItem): void {
    if (stream.local === false && !stream.replied) {
      // Writing to a received stream before answering it: answer with an empty SYN_REPLY first.
      stream.replied = true;
      stream.replyHeaders = {};
      this.sendReply(stream, {}, false);
    }
    this.writer.enqueue(stream, item);
    if (item.fin) this.localFinished(stream);
  }

  /** @internal */
  sendReply(stream: Stream, headers: Headers, fin: boolean): void {
    if (this.options.httpPseudoHeaders) stream.replyHeaders = headers = withReplyPseudoHeaders(headers);
    const block = this.compressor.compress(headers);
    this.writeControl(encodeSynReply(stream.id, fin ? FLAG_FIN : 0, block), FrameType.SYN_REPLY, stream.id);
    if (fin) this.localFinished(stream);
  }

  /** @internal */
  sendHeaders(stream: Stream, headers: Headers, fin: boolean): void {
    const block = this.compressor.compress(headers);
    this.writeControl(encodeHeaders(stream.id, fin ? FLAG_FIN : 0, block), FrameType.HEADERS, stream.id);
    if (fin) this.localFinished(stream);
  }

  /** @internal */
  sendReset(stream: Stream, status: number): void {
    if (!this.closed) this.writeControl(encodeRstStream(stream.id, status), FrameType.RST_STREAM, stream.id);
    this.forget(stream, 'reset');
  }

  /** @internal */
  consumed(stream: Stream, n: number): void {
    if (!this.flowOn || this.closed) return;
    if (stream.state === StreamState.CLOSED || stream.remoteFin) return;
    const delta = stream.recvWindow.consume(n);
    if (delta > 0) this.writeControl(encodeWindowUpdate(stream.id, delta), FrameType.WINDOW_UPDATE, stream.id);
  }

  /** @internal */
  wantsData(stream: Stream): void {
    if (this.blockedReaders.delete(stream) && this.blockedReaders.size === 0) this.resumeSocket();
  }

  /** @internal */
  streamClosed(stream: Stream): void {
    // Errors capture a stack trace: make one only when queued writes are there to receive it.
    if (stream.pending.length > 0) this.writer.drop(stream, new ClosedError(`stream ${stream.id} closed`));
    else this.writer.drop(stream, null);
    this.wantsData(stream);
    if (stream.state !== StreamState.CLOSED) this.forget(stream, 'reset');
    const pending = this.opening.get(stream.id);
    if (pending) {
      pending.reject(new ClosedError(`stream ${stream.id} was destroyed before its SYN_REPLY`));
    }
  }

  // ---- reading ----

  private readonly onData = (chunk: Buffer): void => {
    if (this.closed) return;
    this.counters.bytesIn += chunk.length;
    this.decoder.push(chunk);
    try {
      for (let frame = this.decoder.next(); frame !== null; frame = this.decoder.next()) {
        this.counters.framesIn++;
        this.processFrame(frame);
        if (this.closed) return;
      }
    } catch (err) {
      this.fail(err);
    }
  };

  private readonly onEnd = (): void => {
    log('%s: peer ended the byte stream', this.role);
    this.finish(this.closing || this.goawaySent || this.goawayReceived ? undefined : new ClosedError('peer closed the connection'));
  };

  private readonly onSocketError = (err: Error): void => {
    log('%s: socket error: %s', this.role, err.message);
    this.finish(new ClosedError(`connection failed: ${err.message}`, { cause: err }));
  };

  private readonly onSocketClose = (): void => {
    this.finish(this.closing || this.goawayReceived ? undefined : new ClosedError('connection closed'));
  };

  /** The one dispatch point: one handler per frame type. Throws SessionError / StreamError. */
  private processFrame(frame: Frame): void {
    this.typeIn[frame.type === -1 ? 11 : frame.type]!++;
    if (flog.enabled) this.logFrame('<-', frame);
    if (!this.settingsSent && this.role === 'server') this.sendInitialSettings();
    try {
      switch (frame.type) {
        case FrameType.DATA:
          return this.onDataFrame(frame);
        case FrameType.SYN_STREAM:
          return this.onSynStream(frame);
        case FrameType.SYN_REPLY:
          return this.onSynReply(frame);
        case FrameType.RST_STREAM:
          if (!this.resetLimit.hit()) throw new SessionError(GoawayStatus.PROTOCOL_ERROR, `RST_STREAM flood: more than ${this.options.maxResetRate} per second`);
          return this.onRstStream(frame);
        case FrameType.SETTINGS:
          if (!this.settingsLimit.hit()) throw new SessionError(GoawayStatus.PROTOCOL_ERROR, `SETTINGS flood: more than ${this.options.maxSettingsRate} per second`);
          return this.onSettings(frame);
        case FrameType.PING:
          if (!this.pingLimit.hit()) throw new SessionError(GoawayStatus.PROTOCOL_ERROR, `PING flood: more than ${this.options.maxPingRate} per second`);
          return this.onPing(frame);
        case FrameType.GOAWAY:
          return this.onGoaway(frame);
        case FrameType.HEADERS:
          return this.onHeaders(frame);
        case FrameType.WINDOW_UPDATE:
          return this.onWindowUpdate(frame);
        default:
          // Unknown control frames (and NOOP, CREDENTIAL) are skipped, not fatal (§2.2.1).
          log('%s: skipped control frame type %d (%d bytes)', this.role, frame.frameType, frame.length);
          return;
      }
    } catch (err) {
      if (err instanceof StreamError) {
        this.resetStreamById(err.streamId, err.status, err);
        return;
      }
      throw err;
    }
  }

  private onDataFrame(f: DataFrame): void {
    const len = f.data.length;
    // 'auto' is lenient: the peer may have sent before it saw our SETTINGS (the stream pauses the socket instead).
    if (this.flowOn && !this.sessionRecvWindow.take(len, this.options.flowControl === 'auto' ? Infinity : 0)) {
      throw new SessionError(GoawayStatus.PROTOCOL_ERROR, `DATA of ${len} bytes overflows the session window (${this.sessionRecvWindow.available})`);
    }
    const stream = this.streams.get(f.streamId);
    if (!stream) {
      this.releaseSession(len);
      const recent = this.recentlyClosed.get(f.streamId);
      if (recent === 'reset') return; // DATA in flight when we reset: drop it (no RST for a RST)
      if (recent === 'closed') throw new StreamError(f.streamId, RstStatus.STREAM_ALREADY_CLOSED, `DATA on stream ${f.streamId} after its FIN`);
      throw new StreamError(f.streamId, RstStatus.INVALID_STREAM, `DATA on stream ${f.streamId}, which is not open`);
    }
    if (stream.local && stream.state === StreamState.OPENING) {
      this.releaseSession(len);
      throw new StreamError(f.streamId, RstStatus.PROTOCOL_ERROR, `DATA on stream ${f.streamId} before its SYN_REPLY`);
    }
    if (stream.remoteFin) {
      this.releaseSession(len);
      throw new StreamError(f.streamId, RstStatus.STREAM_ALREADY_CLOSED, `DATA on stream ${f.streamId} after its FIN`);
    }
    if (this.flowOn) {
      if (!stream.recvWindow.take(len, this.options.flowControl === 'auto' ? Infinity : this.windowSlack)) {
        this.releaseSession(len);
        throw new StreamError(f.streamId, RstStatus.FLOW_CONTROL_ERROR, `DATA of ${len} bytes overflows the window of stream ${f.streamId}`);
      }
      // The stream window bounds what this stream buffers, so the session window is given back at once:
      // a slow reader on one stream never holds back the others.
      this.releaseSession(len);
    }
    const fin = (f.flags & FLAG_FIN) !== 0;
    const more = stream.pushData(f.data);
    if (fin) this.remoteFinished(stream);
    else if (!more && (!this.flowOn || (this.options.flowControl === 'auto' && stream.recvWindow.available < 0))) {
      // Compatibility mode (or an 'auto' peer that overran the window before it saw ours): the peer does not
      // wait for windows, so stop reading the socket until this reader catches up.
      this.blockedReaders.add(stream);
      this.pauseSocket();
    }
  }

  private releaseSession(n: number): void {
    if (!this.flowOn || n === 0) return;
    const delta = this.sessionRecvWindow.consume(n);
    if (delta > 0) this.writeControl(encodeWindowUpdate(0, delta), FrameType.WINDOW_UPDATE, 0);
  }

  private onSynStream(f: SynStreamFrame): void {
    // The block must be inflated even if the frame is rejected: the zlib context is shared (§2.6.10).
    const raw = this.inflate(f.headerBlock);
    const id = f.streamId;
    const peerParity = this.role === 'server' ? 1 : 0;
    if (id % 2 !== peerParity) throw new SessionError(GoawayStatus.PROTOCOL_ERROR, `SYN_STREAM with stream id ${id} of the wrong parity`);
    if (this.streams.has(id)) throw new StreamError(id, RstStatus.PROTOCOL_ERROR, `second SYN_STREAM for live stream ${id}`);
    if (id <= this.highestPeerStreamId) {
      throw new SessionError(GoawayStatus.PROTOCOL_ERROR, `SYN_STREAM stream id ${id} is not greater than the previous ${this.highestPeerStreamId}`);
    }
    this.highestPeerStreamId = id;
    const headers = parseHeaderBlock(raw, { maxHeaderCount: this.options.maxHeaderCount }, id);
    if (this.goawaySent || this.closing) throw new StreamError(id, RstStatus.REFUSED_STREAM, `stream ${id} refused: going away`);
    if (this.peerStreamCount >= this.options.maxConcurrentStreams) {
      throw new StreamError(id, RstStatus.REFUSED_STREAM, `stream ${id} refused: ${this.options.maxConcurrentStreams} streams already open`);
    }
    if (this.listenerCount('stream') === 0) throw new StreamError(id, RstStatus.REFUSED_STREAM, `stream ${id} refused: nobody accepts streams`);
    if (f.priority > 7) throw new StreamError(id, RstStatus.PROTOCOL_ERROR, `bad priority ${f.priority}`);
    this.lastPeerStreamId = id;
    const stream = new Stream(this, {
      id,
      priority: f.priority,
      headers,
      local: false,
      sendWindow: this.peerInitialWindow,
      recvWindow: this.options.initialWindowSize,
      highWaterMark: this.options.streamHighWaterMark,
    });
    this.streams.set(id, stream);
    this.peerStreamCount++;
    if (this.options.streamIdleTimeout > 0) stream.setIdleTimeout(this.options.streamIdleTimeout);
    if (f.flags & FLAG_UNIDIRECTIONAL) {
      // We will not send: our side is closed from the start.
      stream.localFin = true;
      stream.state = StreamState.HALF_CLOSED_LOCAL;
      stream.replied = true;
      stream.unidirectional = true;
      stream.end();
    }
    this.emit('stream', stream);
    if (f.flags & FLAG_FIN) this.remoteFinished(stream);
  }

  private onSynReply(f: SynReplyFrame): void {
    const raw = this.inflate(f.headerBlock);
    const stream = this.streams.get(f.streamId);
    if (!stream) {
      if (this.recentlyClosed.has(f.streamId)) return;
      throw new StreamError(f.streamId, RstStatus.INVALID_STREAM, `SYN_REPLY for stream ${f.streamId}, which is not open`);
    }
    if (!stream.local) throw new StreamError(f.streamId, RstStatus.PROTOCOL_ERROR, `SYN_REPLY for stream ${f.streamId}, which the peer created`);
    if (stream.state !== StreamState.OPENING) throw new StreamError(f.streamId, RstStatus.STREAM_IN_USE, `second SYN_REPLY for stream ${f.streamId}`);
    const headers = parseHeaderBlock(raw, { maxHeaderCount: this.options.maxHeaderCount }, f.streamId);
    stream.replyHeaders = headers;
    stream.state = stream.localFin ? StreamState.HALF_CLOSED_LOCAL : StreamState.OPEN;
    const pending = this.opening.get(f.streamId);
    if (pending) {
      pending.resolve(stream);
    }
    stream.emit('reply', headers);
    if (f.flags & FLAG_FIN) this.remoteFinished(stream);
  }

  private onRstStream(f: RstStreamFrame): void {
    const stream = this.streams.get(f.streamId);
    if (!stream) return; // §2.4.2: never answer a RST_STREAM
    const name = rstStatusName[f.status] ?? `status ${f.status}`;
    log('%s: stream %d reset by peer: %s', this.role, f.streamId, name);
    const err = new StreamResetError(f.streamId, f.status, `stream ${f.streamId} reset by peer: ${name}`);
    // CANCEL is the peer's ordinary "no longer interested": no 'error', but closeError says why it closed.
    this.endStream(stream, err, f.status === RstStatus.CANCEL);
  }

  private onSettings(f: SettingsFrame): void {
    const seen = new Set<number>();
    for (const e of f.entries) {
      if (seen.has(e.id)) continue; // duplicate ids: the first wins
      seen.add(e.id);
      if (e.id === SettingsId.INITIAL_WINDOW_SIZE) {
        if (e.value > MAX_WINDOW) throw new SessionError(GoawayStatus.PROTOCOL_ERROR, `SETTINGS INITIAL_WINDOW_SIZE ${e.value} exceeds 2^31-1`);
        this.peerSpeaksFlowControl('SETTINGS INITIAL_WINDOW_SIZE');
        const shift = e.value - this.peerInitialWindow;
        this.peerInitialWindow = e.value;
        // §2.6.8: every existing stream window changes by the difference and may go negative.
        for (const s of this.streams.values()) s.sendWindow.size += shift;
        if (shift > 0) this.writer.wakeAll(this.streams.values());
      } else if (e.id === SettingsId.MAX_CONCURRENT_STREAMS) {
        this.peerMaxConcurrent = e.value;
      }
    }
  }

  private onPing(f: PingFrame): void {
    const ours = f.id % 2 === (this.role === 'client' ? 1 : 0);
    if (!ours) {
      this.writeControl(encodePing(f.id), FrameType.PING, 0);
      this.emit('ping', f.id);
      return;
    }
    const p = this.pings.get(f.id);
    if (!p) return; // an echo we no longer wait for
    this.rtt = performance.now() - p.start;
    p.resolve(this.rtt);
  }

  private onGoaway(f: GoawayFrame): void {
    if (this.goawayReceived) return;
    this.goawayReceived = { lastGoodStreamId: f.lastGoodStreamId, status: f.status };
    log('%s: GOAWAY received: last-good-stream-id %d, %s', this.role, f.lastGoodStreamId, goawayStatusName[f.status] ?? f.status);
    this.emit('goaway', this.goawayReceived);
    // Our streams above last-good were not processed: fail them with a retryable error.
    for (const s of [...this.streams.values()]) {
      if (s.local && s.id > f.lastGoodStreamId) {
        const err = new GoawayError(f.lastGoodStreamId, f.status, `stream ${s.id} was not processed: peer sent GOAWAY (last-good-stream-id ${f.lastGoodStreamId})`);
        this.endStream(s, err);
      }
    }
    this.checkDrained();
    if (this.streams.size === 0) this.finish(undefined);
  }

  private onHeaders(f: HeadersFrame): void {
    const raw = this.inflate(f.headerBlock);
    const stream = this.streams.get(f.streamId);
    if (!stream) {
      if (this.recentlyClosed.get(f.streamId) === 'reset') return;
      throw new StreamError(f.streamId, RstStatus.INVALID_STREAM, `HEADERS for stream ${f.streamId}, which is not open`);
    }
    if (stream.remoteFin) throw new StreamError(f.streamId, RstStatus.STREAM_ALREADY_CLOSED, `HEADERS on stream ${f.streamId} after its FIN`);
    const headers = parseHeaderBlock(raw, { maxHeaderCount: this.options.maxHeaderCount }, f.streamId);
    stream.emit('headers', headers);
    if (f.flags & FLAG_FIN) this.remoteFinished(stream);
  }

  private onWindowUpdate(f: WindowUpdateFrame): void {
    if (f.streamId === 0) {
      if (f.delta === 0) throw new SessionError(GoawayStatus.PROTOCOL_ERROR, 'WINDOW_UPDATE on the session with delta 0');
      this.peerSpeaksFlowControl('WINDOW_UPDATE');
      if (!this.flowOn) return;
      if (!this.sessionSendWindow.add(f.delta)) {
        throw new SessionError(GoawayStatus.PROTOCOL_ERROR, `WINDOW_UPDATE overflows the session window past 2^31-1`);
      }
      this.writer.wakeAll(this.streams.values());
      return;
    }
    this.peerSpeaksFlowControl('WINDOW_UPDATE');
    const stream = this.streams.get(f.streamId);
    if (!stream) return; // may race with the stream's end
    if (f.delta === 0) throw new StreamError(f.streamId, RstStatus.FLOW_CONTROL_ERROR, `WINDOW_UPDATE on stream ${f.streamId} with delta 0`);
    if (!this.flowOn) return;
    if (!stream.sendWindow.add(f.delta)) {
      throw new StreamError(f.streamId, RstStatus.FLOW_CONTROL_ERROR, `WINDOW_UPDATE overflows the window of stream ${f.streamId}`);
    }
    this.writer.wake(stream);
  }

  // ---- helpers ----

  /**
   * `flowControl: 'auto'`: the peer sent SETTINGS INITIAL_WINDOW_SIZE or a WINDOW_UPDATE, so it implements
   * SPDY/3.1 windows (§2.6.8): honour them from now on, both ways. Our windows were counted all along
   * (send side: every DATA frame; receive side: the peer's DATA all follows its first SETTINGS/WINDOW_UPDATE).
   */
  private peerSpeaksFlowControl(what: string): void {
    if (this.flowOn || this.options.flowControl !== 'auto') return;
    this.flowOn = true;
    this.writer.setFlowControl(true);
    log('%s: peer sent %s: flow control on', this.role, what);
  }

  private inflate(block: Buffer): Buffer {
    try {
      return this.decompressor.decompress(block);
    } catch (err) {
      // A corrupt block breaks the shared zlib context: a session error (§2.6.10).
      throw new SessionError(GoawayStatus.PROTOCOL_ERROR, `bad header block: ${(err as Error).message}`, { cause: err });
    }
  }

  private resetStreamById(id: number, status: number, err: StreamError): void {
    log('%s: stream %d: %s → RST_STREAM %s', this.role, id, err.message, rstStatusName[status]);
    this.writeControl(encodeRstStream(id, status), FrameType.RST_STREAM, id);
    const stream = this.streams.get(id);
    if (stream) this.endStream(stream, err);
    else this.rememberClosed(id, 'reset');
  }

  /**
   * Ends a stream that is already over on the wire (reset either way, or above a GOAWAY): nothing more is
   * sent for it. A createStream still waiting for its SYN_REPLY rejects with `err`; otherwise the stream
   * fails with `err` (`quiet`: only `closeError` is set, no `'error'`).
   */
  private endStream(stream: Stream, err: Error, quiet = false): void {
    this.forget(stream, 'reset');
    stream.resetSent = true;
    const pending = this.opening.get(stream.id);
    if (pending) {
      pending.reject(err);
      stream.destroy();
    } else if (quiet) {
      stream.closeError = err;
      stream.destroy();
    } else {
      stream.fail(err);
    }
  }

  private localFinished(stream: Stream): void {
    stream.localFin = true;
    if (stream.state === StreamState.OPEN) stream.state = StreamState.HALF_CLOSED_LOCAL;
    else if (stream.state === StreamState.HALF_CLOSED_REMOTE) this.forget(stream, 'closed');
  }

  private remoteFinished(stream: Stream): void {
    stream.remoteFin = true;
    this.wantsData(stream);
    stream.pushEnd();
    if (stream.state === StreamState.OPEN || stream.state === StreamState.OPENING) stream.state = StreamState.HALF_CLOSED_REMOTE;
    else if (stream.state === StreamState.HALF_CLOSED_LOCAL) this.forget(stream, 'closed');
  }

  /** Removes a stream from the live table (it is closed both ways, or reset). */
  private forget(stream: Stream, how: 'reset' | 'closed'): void {
    stream.state = StreamState.CLOSED;
    if (this.streams.get(stream.id) === stream) {
      this.streams.delete(stream.id);
      if (!stream.local) this.peerStreamCount--;
      this.rememberClosed(stream.id, how);
      this.checkDrained();
    }
  }

  private rememberClosed(id: number, how: 'reset' | 'closed'): void {
    this.recentlyClosed.set(id, how);
    if (this.recentlyClosed.size > RECENT_CLOSED) {
      const first = this.recentlyClosed.keys().next().value as number;
      this.recentlyClosed.delete(first);
    }
  }

  private checkDrained(): void {
    if (this.streams.size === 0) for (const w of [...this.streamDrainWaiters]) w();
  }

  private sendInitialSettings(): void {
    this.settingsSent = true;
    if (this.options.flowControl === false) return; // spdystream peers ignore SETTINGS; stay quiet
    const win = this.options.initialWindowSize;
    const entries: SettingsEntry[] = [{ id: SettingsId.MAX_CONCURRENT_STREAMS, flags: 0, value: this.options.maxConcurrentStreams }];
    // 'auto' always states its window: that is how an 'auto' peer learns that we implement windows.
    if (win !== DEFAULT_INITIAL_WINDOW || this.options.flowControl === 'auto') entries.push({ id: SettingsId.INITIAL_WINDOW_SIZE, flags: 0, value: win });
    this.writeControl(encodeSettings(0, entries), FrameType.SETTINGS, 0);
    if (win !== DEFAULT_INITIAL_WINDOW) {
      if (win < DEFAULT_INITIAL_WINDOW && this.flowOn) {
        // The peer may already be sending under the default 64 KiB window. Once the echo of a PING sent
        // after the SETTINGS is back, the peer has applied it (frames are handled in order): be strict again.
        this.windowSlack = DEFAULT_INITIAL_WINDOW - win;
        this.ping({ timeout: 0 }).then(
          () => {
            this.windowSlack = 0;
          },
          () => {},
        );
      }
    }
    const extra = this.options.sessionWindowSize - DEFAULT_INITIAL_WINDOW;
    if (extra > 0) {
      this.sessionRecvWindow.available += extra;
      this.sessionRecvWindow.initial = this.options.sessionWindowSize;
      this.writeControl(encodeWindowUpdate(0, extra), FrameType.WINDOW_UPDATE, 0);
    }
  }

  private sendGoaway(status: number): void {
    if (this.goawaySent || this.closed) return;
    this.goawaySent = true;
    log('%s: GOAWAY sent: last-good-stream-id %d, %s', this.role, this.lastPeerStreamId, goawayStatusName[status]);
    this.writeControl(encodeGoaway(this.lastPeerStreamId, status), FrameType.GOAWAY, 0);
  }

  private writeControl(frame: Buffer, type: number, streamId: number): void {
    if (flog.enabled) flog('%s -> %s stream %d (%d bytes)', this.role, frameTypeName[type], streamId, frame.length);
    this.writer.writeControl(frame);
  }

  private logFrame(dir: string, f: Frame): void {
    if (f.type === -1) flog('%s %s unknown type %d (%d bytes)', this.role, dir, f.frameType, f.length);
    else if (f.type === FrameType.DATA) flog('%s %s DATA stream %d flags %d (%d bytes)', this.role, dir, f.streamId, f.flags, f.data.length);
    else flog('%s %s %s %o', this.role, dir, frameTypeName[f.type], { ...f, headerBlock: undefined });
  }

  private pauseSocket(): void {
    if (!this.socketPaused) {
      this.socketPaused = true;
      this.pauseCount++;
      this.socket.pause();
    }
  }

  private resumeSocket(): void {
    if (this.socketPaused) {
      this.socketPaused = false;
      this.socket.resume();
    }
  }

  private fail(err: unknown): void {
    const e =
      err instanceof KubeSpdyError ? err : new SessionError(GoawayStatus.INTERNAL_ERROR, `internal error: ${(err as Error)?.message ?? err}`, { cause: err });
    log('%s: session error: %s', this.role, e.message);
    if (e instanceof SessionError) this.sendGoaway(e.status);
    this.emit('error', e);
    this.finish(e);
  }

  /** Tears everything down once. */
  private finish(err: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = err;
    this.liveness.stop();
    this.socket.off('data', this.onData);
    const cause = err ?? new ClosedError('connection closed');
    for (const [id, p] of [...this.opening]) {
      p.reject(err instanceof ClosedError ? err : new ClosedError(`connection closed before the SYN_REPLY of stream ${id}`, { cause }));
    }
    for (const p of [...this.pings.values()]) p.reject(new ClosedError('connection closed before the PING reply', { cause }));
    for (const s of [...this.streams.values()]) {
      this.forget(s, 'reset');
      s.resetSent = true;
      // A graceful close ends streams quietly; a failure reports it on each stream.
      if (err) s.fail(err instanceof ClosedError ? err : new ClosedError(`connection failed: ${err.message}`, { cause: err }));
      else s.destroy();
    }
    this.writer.flushNow();
    this.writer.close();
    const socket = this.socket;
    if (!socket.destroyed && err instanceof LivenessError) {
      socket.destroy(); // the peer is gone: waiting for its FIN would wait for TCP to give up
    } else if (!socket.destroyed) {
      socket.end();
      const t = setTimeout(() => socket.destroy(), 1000);
      t.unref?.();
      socket.once('close', () => clearTimeout(t));
    }
    if (this.socketPaused) this.socket.resume();
    for (const w of [...this.streamDrainWaiters]) w();
    log('%s: connection closed%s', this.role, err ? `: ${err.message}` : '');
    this.emit('close', err);
  }
}

/** Non-zero counts by type name (`DATA` always present). */
function byName(counts: number[]): Record<string, number> {
  const out: Record<string, number> = { DATA: counts[0]! };
  for (let t = 1; t < counts.length; t++) if (counts[t]! > 0) out[t === 11 ? 'UNKNOWN' : frameTypeName[t]!] = counts[t]!;
  return out;
}
