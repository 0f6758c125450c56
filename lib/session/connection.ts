/**
 * A SPDY/3.1 connection over any Duplex byte stream (a `net.Socket`, a `tls.TLSSocket`, an upgraded
 * HTTP socket, a WebSocket tunnel), in the client or server role.
 *
 * Frames are handled inline, in order, at one dispatch point ({@link Connection.processFrame}); every
 * handler either handles its frame or raises a typed error: a {@link StreamError} resets one stream
 * with RST_STREAM (§2.4.2), a {@link SessionError} sends GOAWAY with the last-good-stream-id and closes
 * (§2.4.1). A stream's state changes only through its transition table (`state.ts`); the connection
 * dispatches events into it and carries out the actions. Live streams, ids and counts are kept by the
 * {@link StreamTable}; every frame of a stream but SYN_STREAM and RST_STREAM leaves through that stream's
 * queue in the {@link FrameWriter}.
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
 *
 * An exception thrown by a listener (of these events, or of a stream's `'data'`, `'reply'`,
 * `'headers'`) is the application's: it is rethrown asynchronously (as an uncaught exception, like any
 * listener error) and never turned into a GOAWAY for the peer; the connection goes on.
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
  GoawayFrame,
  HeadersFrame,
} from '../frames/types.js';
import { FrameDecoder } from '../frames/decoder.js';
import { encodeRstStream, encodePing, encodeGoaway, encodeWindowUpdate } from '../frames/encoder.js';
import { HeaderCompressor, HeaderDecompressor, parseHeaderBlock } from '../compression/index.js';
import {
  AbortError,
  ClosedError,
  GoawayError,
  InvalidArgumentError,
  SessionError,
  StreamError,
  StreamResetError,
  TimeoutError,
  KubeSpdyError,
  LivenessError,
} from '../errors.js';
import { resolveOptions, type ConnectionOptions, type ResolvedOptions } from './options.js';
import { SendWindow } from './flow.js';
import { SessionInflow } from './session-inflow.js';
import { ReadGate } from './read-gate.js';
import { PingTable } from './pings.js';
import { ConnectionCounters } from './stats.js';
import { ControlFrames } from './control-frames.js';
import { FrameWriter, type HeaderFrame, type WriteItem } from './writer.js';
import { Liveness, type ReadHealth } from './liveness.js';
import { Deadline } from './deadline.js';
import { RateLimit } from './limits.js';
import { Stream } from './stream.js';
import { Action, StreamEvent, StreamState, type StreamEventValue } from './state.js';
import { StreamTable } from './stream-table.js';
import { withRequestPseudoHeaders, withReplyPseudoHeaders } from './pseudo-headers.js';
import type { ConnectionEvents, CreateStreamOptions, ConnectionStats } from './types.js';
import { EVENT_TEXT, checkCreateStreamOptions, serialize, userCode, wholeMs } from './helpers.js';

const log = createDebug('kube-spdy:session');
const flog = createDebug('kube-spdy:frames');

export type { ConnectionEvents, CreateStreamOptions, ConnectionStats } from './types.js';

const EMPTY = Buffer.alloc(0);

export class Connection extends EventEmitter<ConnectionEvents> {
  readonly role: 'client' | 'server';
  readonly options: ResolvedOptions;
  /** The underlying byte stream. */
  readonly socket: Duplex;
  private readonly decoder: FrameDecoder;
  private readonly writer: FrameWriter;
  private readonly compressor = new HeaderCompressor();
  private readonly decompressor: HeaderDecompressor;
  private readonly table: StreamTable<Stream>;
  /** Waits for SYN_REPLY, by stream id. */
  private readonly opening = new Map<number, Deadline<Stream>>();
  /** PINGs waiting for their echo. */
  private readonly pings: PingTable;
  private readonly sessionSendWindow = new SendWindow(DEFAULT_INITIAL_WINDOW);
  /** The receive side of the session window. */
  private readonly inflow: SessionInflow;
  /** SETTINGS, PING and WINDOW_UPDATE handling, and the peer's settings. */
  private readonly ctl: ControlFrames;
  private goawaySent = false;
  private goawayReceived: { lastGoodStreamId: number; status: number } | null = null;
  private closing: Promise<void> | null = null;
  private closed = false;
  /** Set when the peer stopped reading: the socket is destroyed without flushing what is queued. */
  private abandon = false;
  private closeError: Error | undefined;
  /** Socket pausing for slow readers while windows are not honoured. */
  private readonly gate: ReadGate<Stream>;
  /** Windows honoured now: `flowControl: true`, or `'auto'` once the peer showed it implements them. */
  private flowOn: boolean;
  private readonly counters = new ConnectionCounters();
  private readonly streamDrainWaiters = new Set<() => void>();
  private readonly liveness: Liveness;
  private readonly pingLimit: RateLimit;
  private readonly settingsLimit: RateLimit;
  private readonly resetLimit: RateLimit;
  private readonly streamErrorLimit: RateLimit;

  /**
   * @param socket any Duplex carrying the SPDY byte stream; the connection owns it from now on
   *   (reads it, writes it, destroys it on close).
   * @param options see {@link ConnectionOptions}; `role` is required.
   * @throws InvalidArgumentError (`ERR_INVALID_ARG`) for invalid or unknown options.
   */
  constructor(socket: Duplex, options: ConnectionOptions) {
    super();
    this.options = resolveOptions(options);
    this.role = this.options.role;
    this.flowOn = this.options.flowControl === true;
    this.socket = socket;
    this.table = new StreamTable<Stream>(this.role);
    this.pings = new PingTable(this.role);
    this.gate = new ReadGate<Stream>(socket);
    this.decoder = new FrameDecoder({
      maxControlFrameSize: this.options.maxControlFrameSize,
      maxDataFrameSize: this.options.maxReceivedDataFrameSize,
      maxSettingsEntries: this.options.maxSettingsEntries,
    });
    this.decompressor = new HeaderDecompressor({
      maxInflatedSize: this.options.maxHeaderBlockSize,
      implementation: this.options.inflater,
    });
    this.inflow = new SessionInflow(this.options.sessionWindowSize, {
      active: () => this.flowOn,
      sendUpdate: (delta) => this.control(encodeWindowUpdate(0, delta), FrameType.WINDOW_UPDATE, 0),
    });
    this.writer = new FrameWriter(socket, {
      flowControl: this.flowOn,
      maxDataFrameSize: this.options.maxDataFrameSize,
      sessionWindow: this.sessionSendWindow,
      maxQueuedControlFrames: this.options.maxQueuedControlFrames,
      compressBlock: (block) => this.compressor.compressBlock(block),
      onWrite: (n, type) => this.counters.frameOut(n, type),
      onError: (err) => this.fail(err),
      ...(flog.enabled ? { onData: (id: number, len: number, fin: boolean) => flog('%s -> DATA stream %d%s (%d bytes)', this.role, id, fin ? ' FIN' : '', len) } : {}),
    });
    this.ctl = new ControlFrames({
      role: this.role,
      options: this.options,
      table: this.table,
      writer: this.writer,
      pings: this.pings,
      sessionSendWindow: this.sessionSendWindow,
      inflow: this.inflow,
      flowOn: () => this.flowOn,
      peerSpeaksFlowControl: (what) => this.peerSpeaksFlowControl(what),
      resetStreamById: (id, status, err) => this.resetStreamById(id, status, err),
      control: (frame, type, id) => this.control(frame, type, id),
      ping: (o) => this.ping(o),
      pingEchoed: (rtt) => {
        this.counters.rtt = rtt;
      },
      emitPing: (id) => userCode(() => this.emit('ping', id)),
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
    this.streamErrorLimit = new RateLimit(this.options.maxStreamErrorRate);
    this.liveness = new Liveness(
      {
        ping: (o) => this.ping(o),
        readHealth: () => this.readHealth(),
        activity: () => this.counters.activity(),
        openStreams: () => this.table.size,
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
    if (this.role === 'client') this.ctl.sendInitialSettings();
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
    return this.gate.paused;
  }

  /**
   * The reading side, for telling a dead peer from a slow local reader (see `peerExcused` in
   * liveness.ts): paused now, times paused so far, bytes read so far.
   */
  readHealth(): ReadHealth {
    return { paused: this.gate.paused, pauses: this.gate.pauses, bytesIn: this.counters.bytesIn };
  }

  /** Frames received so far (a cheap counter: "has anything arrived since?"). */
  get framesReceived(): number {
    return this.counters.framesIn;
  }

  /**
   * True when new streams here would wait behind others: without flow control in effect, a stream still
   * open has held more than its high-water mark (its reader fell behind, so the peer's DATA for it can
   * fill the socket ahead of everything else: the socket was paused for it); or our writes wait for the
   * socket to drain. With windows honoured a slow reader holds back only its own stream.
   */
  get congested(): boolean {
    return this.gate.paused || this.gate.hasSlow || this.writer.blocked;
  }

  /** Last measured PING round trip, ms (NaN before the first). */
  get rtt(): number {
    return this.counters.rtt;
  }

  /** Number of streams open (not yet closed both ways). */
  get openStreams(): number {
    return this.table.size;
  }

  /**
   * Opens a stream: sends SYN_STREAM with `headers` and resolves with the {@link Stream} once the peer's
   * SYN_REPLY arrives (its headers in `stream.replyHeaders`). A `unidirectional` stream resolves at once:
   * its recipient sends no SYN_REPLY (§2.6.1 FLAG_UNIDIRECTIONAL).
   *
   * Options and headers are checked before anything is sent or compressed.
   * Rejects with: {@link InvalidArgumentError} (invalid or unknown option, invalid headers),
   * {@link TimeoutError} (no SYN_REPLY within `timeout` ms; RST_STREAM CANCEL is sent),
   * {@link AbortError} (the signal fired; RST_STREAM CANCEL), {@link StreamError} (the peer reset it:
   * `fromPeer`; or the peer's SETTINGS MAX_CONCURRENT_STREAMS is reached: `fromPeer` false; both
   * `retryable` for REFUSED_STREAM), {@link GoawayError} (the peer sent GOAWAY below this id; retryable),
   * {@link ClosedError} (the connection is closed or going away).
   */
  createStream(headers: Headers, options: CreateStreamOptions = {}): Promise<Stream> {
    let block: Buffer;
    let priority: number;
    try {
      priority = checkCreateStreamOptions(options);
      if (this.options.httpPseudoHeaders) headers = withRequestPseudoHeaders(headers);
      block = serialize(headers);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.closed || this.closing || this.goawaySent) {
      return Promise.reject(new ClosedError('connection is closed', { cause: this.closeError }));
    }
    if (this.goawayReceived) {
      return Promise.reject(
        new GoawayError(this.goawayReceived.lastGoodStreamId, this.goawayReceived.status, 'peer sent GOAWAY: no new streams'),
      );
    }
    if (options.signal?.aborted) return Promise.reject(new AbortError('aborted before the stream was created', { cause: options.signal.reason }));
    // §2.3.2: stream ids are 31 bits and never reused; once spent, only a new connection has more.
    if (this.table.nextLocalId > MAX_STREAM_ID) return Promise.reject(new ClosedError('stream ids exhausted: open a new connection'));
    if (this.table.localCount >= this.ctl.peerMaxConcurrent) {
      // The peer's SETTINGS MAX_CONCURRENT_STREAMS (§2.6.4): a local refusal, not a peer reset.
      return Promise.reject(
        new StreamError(0, RstStatus.REFUSED_STREAM, `peer allows at most ${this.ctl.peerMaxConcurrent} concurrent streams`, { fromPeer: false }),
      );
    }
    const fin = options.fin === true;
    const unidirectional = options.unidirectional === true;
    // The id is assigned in the same synchronous step that queues the SYN_STREAM (§2.3.2: ids increase on the wire).
    const id = this.table.takeLocalId();
    const stream = new Stream(this, {
      id,
      priority,
      headers,
      local: true,
      unidirectional,
      fin,
      sendWindow: this.ctl.peerInitialWindow,
      recvWindow: this.options.initialWindowSize,
      highWaterMark: this.options.streamHighWaterMark,
    });
    this.table.add(stream);
    const frame: HeaderFrame = { type: FrameType.SYN_STREAM, streamId: id, flags: (fin ? FLAG_FIN : 0) | (unidirectional ? FLAG_UNIDIRECTIONAL : 0), block, priority };
    this.control(frame, FrameType.SYN_STREAM, id);
    const idle = options.idleTimeout ?? this.options.streamIdleTimeout;
    if (idle > 0) stream.setIdleTimeout(idle);
    if (fin) stream.end();
    if (unidirectional) {
      stream.pushEnd(); // the peer will not send
      return Promise.resolve(stream);
    }
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
   * 0 = none), {@link AbortError}, {@link ClosedError} if the connection closes first, or
   * {@link InvalidArgumentError} for a bad `timeout`.
   */
  ping(options: { timeout?: number; signal?: AbortSignal } = {}): Promise<number> {
    try {
      wholeMs('timeout', options.timeout);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.closed) return Promise.reject(new ClosedError('connection is closed', { cause: this.closeError }));
    if (options.signal?.aborted) return Promise.reject(new AbortError('ping aborted', { cause: options.signal.reason }));
    const { id, promise } = this.pings.start(options.timeout ?? this.options.pingTimeout, options.signal);
    this.control(encodePing(id), FrameType.PING, 0);
    return promise;
  }

  /**
   * Closes gracefully: sends GOAWAY OK with the last-good-stream-id, refuses new streams, waits for open
   * streams to finish (at most `timeout` ms, default the connection's `closeTimeout`), then resets what is
   * left with RST_STREAM CANCEL and ends the socket. Resolves when the socket is closed. Never rejects.
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
        if (!this.closed) {
          for (const s of this.table.values()) {
            log('%s: stream %d still open at close: RST_STREAM CANCEL', this.role, s.id);
            this.control(encodeRstStream(s.id, RstStatus.CANCEL), FrameType.RST_STREAM, s.id);
          }
        }
        this.sendGoaway(GoawayStatus.OK); // no-op unless deferred (compatibility mode) or already closed
        this.finish(undefined);
        if (this.closed && this.socket.destroyed) resolve();
        else this.socket.once('close', () => resolve());
      };
      const check = (): void => {
        // Deferred a tick: the frame that closed the last stream may still be on its way to the writer.
        if (this.table.size === 0) process.nextTick(() => this.table.size === 0 && done());
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
      ...this.counters.snapshot(),
      flowControl: this.flowOn,
      readPaused: this.gate.paused,
      openStreams: this.table.size,
      streams: [...this.table.values()].map((s) => s.stats()),
      sendWindow: this.sessionSendWindow.size,
      recvWindow: this.inflow.window.available,
    };
  }

  // ---- StreamOwner (called by Stream) ----

  /** @internal */
  enqueue(stream: Stream, item: WriteItem): void {
    this.writer.enqueue(stream, item);
  }

  /** @internal */
  prepareHeaders(stream: Stream, type: number, headers: Headers, fin: boolean): { item: WriteItem; headers: Headers } {
    if (type === FrameType.SYN_REPLY && this.options.httpPseudoHeaders) headers = withReplyPseudoHeaders(headers);
    const block = serialize(headers);
    const header: HeaderFrame = { type, streamId: stream.id, flags: fin ? FLAG_FIN : 0, block };
    return { item: { data: EMPTY, offset: 0, fin, cb: null, header }, headers };
  }

  /** @internal */
  sendReset(stream: Stream, status: number): void {
    if (stream.state === StreamState.CLOSED) return;
    if (!this.closed) this.control(encodeRstStream(stream.id, status), FrameType.RST_STREAM, stream.id);
    this.step(stream, StreamEvent.RESET);
  }

  /** @internal */
  consumed(stream: Stream, n: number): void {
    if (!this.flowOn || this.closed) return;
    this.inflow.read(n);
    const st = stream.state;
    if (st === StreamState.CLOSED || st === StreamState.HALF_CLOSED_REMOTE) return; // the peer sends no more
    const delta = stream.recvWindow.consume(n);
    if (delta > 0) this.control(encodeWindowUpdate(stream.id, delta), FrameType.WINDOW_UPDATE, stream.id);
  }

  /** @internal */
  wantsData(stream: Stream): void {
    this.gate.unblock(stream);
  }

  /** @internal */
  finWritten(stream: Stream): void {
    this.step(stream, StreamEvent.SENT_FIN);
  }

  /** @internal */
  streamClosed(stream: Stream, unread: number): void {
    // Errors capture a stack trace: make one only when queued writes are there to receive it.
    this.writer.drop(stream, stream.pending.length > 0 ? new ClosedError(`stream ${stream.id} closed`) : null);
    this.wantsData(stream);
    if (stream.state !== StreamState.CLOSED) this.step(stream, StreamEvent.RESET);
    // Data received and never read was dropped with the stream: give its session window back.
    if (unread > 0 && this.flowOn && !this.closed) this.inflow.read(unread);
    this.opening.get(stream.id)?.reject(new ClosedError(`stream ${stream.id} was destroyed before its SYN_REPLY`));
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
    this.counters.frameIn(frame.type);
    if (flog.enabled) this.logFrame('<-', frame);
    if (!this.ctl.settingsSent && this.role === 'server') this.ctl.sendInitialSettings();
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
          return this.ctl.onSettings(frame);
        case FrameType.PING:
          if (!this.pingLimit.hit()) throw new SessionError(GoawayStatus.PROTOCOL_ERROR, `PING flood: more than ${this.options.maxPingRate} per second`);
          return this.ctl.onPing(frame);
        case FrameType.GOAWAY:
          return this.onGoaway(frame);
        case FrameType.HEADERS:
          return this.onHeaders(frame);
        case FrameType.WINDOW_UPDATE:
          return this.ctl.onWindowUpdate(frame);
        default:
          // §2.2.1: "If an endpoint receives a control frame for a type it does not recognize, it MUST
          // ignore the frame." (NOOP and CREDENTIAL too.)
          log('%s: skipped control frame type %d (%d bytes)', this.role, frame.frameType, frame.length);
          return;
      }
    } catch (err) {
      if (err instanceof StreamError) {
        if (!this.streamErrorLimit.hit()) {
          throw new SessionError(GoawayStatus.PROTOCOL_ERROR, `more than ${this.options.maxStreamErrorRate} stream errors per second`, { cause: err });
        }
        this.resetStreamById(err.streamId, err.status, err);
        return;
      }
      throw err;
    }
  }

  /**
   * A frame for a stream that is not live: `true` to drop it silently (the stream was opened and is
   * closed — frames in flight when it closed, or after our RST_STREAM), else a stream error
   * INVALID_STREAM (§2.2.2: "a data frame for a stream-id which is not open").
   */
  private notLive(id: number, what: string): true {
    if (this.table.status(id) === 'closed') return true;
    throw new StreamError(id, RstStatus.INVALID_STREAM, `${what} for stream ${id}, which is not open`);
  }

  /**
   * Applies `event` to the stream's transition table and carries out the row's common actions.
   * @returns the row's actions. @throws StreamError when the row says RST_STREAM.
   */
  private step(stream: Stream, event: StreamEventValue): number {
    const before = stream.state;
    const t = stream.lifecycle.apply(event);
    if (t.rst !== undefined) {
      throw new StreamError(stream.id, t.rst, `${EVENT_TEXT[event]} on stream ${stream.id} (${before}): ${rstStatusName[t.rst]}`);
    }
    if (t.actions & Action.END_READ) {
      stream.finReceived = true; // END_READ comes from the peer's FIN only (state.ts)
      this.gate.notSlow(stream); // no more DATA will come for it
      this.wantsData(stream);
      userCode(() => stream.pushEnd());
    }
    if (t.actions & Action.FORGET) this.forget(stream);
    return t.actions;
  }

  /** §2.2.2 Data frames: windows first (§2.6.8), then the stream's transition table, then delivery. */
  private onDataFrame(f: DataFrame): void {
    const len = f.data.length;
    const flow = this.flowOn;
    const auto = this.options.flowControl === 'auto';
    // 'auto' is lenient: the peer may have sent before it saw our SETTINGS (the stream pauses the socket instead).
    if (flow && !this.inflow.window.take(len, auto ? Infinity : 0)) {
      // §2.6.8: the session window was overrun (3.1 names no GOAWAY status for it: PROTOCOL_ERROR).
      throw new SessionError(GoawayStatus.PROTOCOL_ERROR, `DATA of ${len} bytes overflows the session window (${this.inflow.window.available})`);
    }
    const stream = this.table.get(f.streamId);
    if (!stream) {
      this.inflow.release(len);
      this.notLive(f.streamId, 'DATA');
      return;
    }
    try {
      this.step(stream, StreamEvent.RECV_DATA);
    } catch (err) {
      this.inflow.release(len);
      throw err;
    }
    if (flow && !stream.recvWindow.take(len, auto ? Infinity : this.ctl.windowSlack)) {
      this.inflow.release(len);
      // §2.6.8: "a sender MUST NOT send a data frame with data length greater than the transfer window size."
      throw new StreamError(f.streamId, RstStatus.FLOW_CONTROL_ERROR, `DATA of ${len} bytes overflows the window of stream ${f.streamId}`);
    }
    if (flow) this.inflow.arrived(len);
    let more = true;
    try {
      more = stream.pushData(f.data);
    } catch (err) {
      process.nextTick(() => {
        throw err;
      });
    }
    if ((f.flags & FLAG_FIN) !== 0) this.step(stream, StreamEvent.RECV_FIN);
    else if (!more && (!flow || (auto && stream.recvWindow.available < 0))) {
      // Compatibility mode (or an 'auto' peer that overran the window before it saw ours): the peer does not
      // wait for windows, so stop reading the socket until this reader catches up.
      this.gate.block(stream);
    }
  }

  private onSynStream(f: SynStreamFrame): void {
    // §2.6.10.1: the block must be inflated even if the frame is rejected (the zlib context is shared).
    const raw = this.inflate(f.headerBlock);
    const id = f.streamId;
    // §2.3.2 Stream creation: a client's stream ids are odd, a server's even.
    if (!this.table.isPeerId(id)) throw new SessionError(GoawayStatus.PROTOCOL_ERROR, `SYN_STREAM with stream id ${id} of the wrong parity`);
    // §2.6.1: "If the endpoint receives a SYN_STREAM for a stream-id which is already open … it MUST issue a
    // stream error with the status code PROTOCOL_ERROR."
    if (this.table.get(id)) throw new StreamError(id, RstStatus.PROTOCOL_ERROR, `second SYN_STREAM for live stream ${id}`);
    if (id <= this.table.highestPeerId) {
      // §2.3.2: "The stream-id MUST increase with each new stream. If an endpoint receives a SYN_STREAM with a
      // stream id which is less than any previously received SYN_STREAM, it MUST issue a session error."
      throw new SessionError(GoawayStatus.PROTOCOL_ERROR, `SYN_STREAM stream id ${id} is not greater than the previous ${this.table.highestPeerId}`);
    }
    this.table.notePeerId(id);
    const headers = parseHeaderBlock(raw, { maxHeaderCount: this.options.maxHeaderCount }, id);
    // §2.6.6 GOAWAY: after sending it we accept no new stream; §2.6.4 MAX_CONCURRENT_STREAMS is our limit.
    if (this.goawaySent || this.closing) throw new StreamError(id, RstStatus.REFUSED_STREAM, `stream ${id} refused: going away`);
    if (this.table.peerCount >= this.options.maxConcurrentStreams) {
      throw new StreamError(id, RstStatus.REFUSED_STREAM, `stream ${id} refused: ${this.options.maxConcurrentStreams} streams already open`);
    }
    if (this.listenerCount('stream') === 0) throw new StreamError(id, RstStatus.REFUSED_STREAM, `stream ${id} refused: nobody accepts streams`);
    const stream = new Stream(this, {
      id,
      priority: f.priority,
      headers,
      local: false,
      unidirectional: (f.flags & FLAG_UNIDIRECTIONAL) !== 0,
      fin: false,
      sendWindow: this.ctl.peerInitialWindow,
      recvWindow: this.options.initialWindowSize,
      highWaterMark: this.options.streamHighWaterMark,
    });
    this.table.add(stream);
    if (this.options.streamIdleTimeout > 0) stream.setIdleTimeout(this.options.streamIdleTimeout);
    if (stream.unidirectional) stream.end(); // our side is closed from the start
    userCode(() => this.emit('stream', stream));
    if (f.flags & FLAG_FIN) this.step(stream, StreamEvent.RECV_FIN);
  }

  /** §2.6.2 SYN_REPLY: the answer to our SYN_STREAM (a second one is a stream error, see state.ts). */
  private onSynReply(f: SynReplyFrame): void {
    const raw = this.inflate(f.headerBlock);
    const stream = this.table.get(f.streamId);
    if (!stream) {
      this.notLive(f.streamId, 'SYN_REPLY');
      return;
    }
    // §2.6.2 SYN_REPLY answers a SYN_STREAM: only the stream's creator may receive it.
    if (!stream.local) throw new StreamError(f.streamId, RstStatus.PROTOCOL_ERROR, `SYN_REPLY for stream ${f.streamId}, which the peer created`);
    const headers = parseHeaderBlock(raw, { maxHeaderCount: this.options.maxHeaderCount }, f.streamId);
    const actions = this.step(stream, StreamEvent.RECV_REPLY);
    if (actions & Action.REPLIED) {
      stream.replyReceived(headers);
      this.opening.get(f.streamId)?.resolve(stream);
      userCode(() => stream.emit('reply', headers));
    }
    if (f.flags & FLAG_FIN) this.step(stream, StreamEvent.RECV_FIN);
  }

  /** §2.6.3 RST_STREAM from the peer: the stream is closed at once (§2.4.2). */
  private onRstStream(f: RstStreamFrame): void {
    const stream = this.table.get(f.streamId);
    if (!stream) return; // §2.4.2: "an endpoint MUST NOT send a RST_STREAM in response to a RST_STREAM"
    const name = rstStatusName[f.status] ?? `status ${f.status}`;
    log('%s: stream %d reset by peer: %s', this.role, f.streamId, name);
    const err = new StreamResetError(f.streamId, f.status, `stream ${f.streamId} reset by peer: ${name}`);
    // CANCEL is the peer's ordinary "no longer interested": no 'error', but closeError says why it closed.
    this.endStream(stream, err, f.status === RstStatus.CANCEL);
  }

  private onGoaway(f: GoawayFrame): void {
    if (this.goawayReceived) return;
    this.goawayReceived = { lastGoodStreamId: f.lastGoodStreamId, status: f.status };
    log('%s: GOAWAY received: last-good-stream-id %d, %s', this.role, f.lastGoodStreamId, goawayStatusName[f.status] ?? f.status);
    userCode(() => this.emit('goaway', this.goawayReceived!));
    // §2.6.6: our streams above last-good were not processed: fail them with a retryable error.
    for (const s of [...this.table.values()]) {
      if (s.local && s.id > f.lastGoodStreamId) {
        const err = new GoawayError(f.lastGoodStreamId, f.status, `stream ${s.id} was not processed: peer sent GOAWAY (last-good-stream-id ${f.lastGoodStreamId})`);
        this.endStream(s, err);
      }
    }
    // The connection closes once the streams still open finish (see forget()).
    if (this.table.size === 0) this.finish(undefined);
  }

  /** §2.6.7 HEADERS: more headers on a live stream (the transition table rejects it on a half-closed one, §2.3.6). */
  private onHeaders(f: HeadersFrame): void {
    const raw = this.inflate(f.headerBlock);
    const stream = this.table.get(f.streamId);
    if (!stream) {
      this.notLive(f.streamId, 'HEADERS');
      return;
    }
    const headers = parseHeaderBlock(raw, { maxHeaderCount: this.options.maxHeaderCount }, f.streamId);
    this.step(stream, StreamEvent.RECV_HEADERS);
    userCode(() => stream.emit('headers', headers));
    if (f.flags & FLAG_FIN) this.step(stream, StreamEvent.RECV_FIN);
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
      // §2.6.10.1: a corrupt block breaks the shared zlib context: a session error.
      throw new SessionError(GoawayStatus.PROTOCOL_ERROR, `bad header block: ${(err as Error).message}`, { cause: err });
    }
  }

  private resetStreamById(id: number, status: number, err: StreamError): void {
    log('%s: stream %d: %s → RST_STREAM %s', this.role, id, err.message, rstStatusName[status]);
    this.control(encodeRstStream(id, status), FrameType.RST_STREAM, id);
    const stream = this.table.get(id);
    if (stream) this.endStream(stream, err);
  }

  /**
   * Ends a stream that is already over on the wire (reset either way, or above a GOAWAY): nothing more is
   * sent for it. A createStream still waiting for its SYN_REPLY rejects with `err`; otherwise the stream
   * fails with `err` (`quiet`: only `closeError` is set, no `'error'`).
   */
  private endStream(stream: Stream, err: Error, quiet = false): void {
    this.step(stream, StreamEvent.RESET);
    const pending = this.opening.get(stream.id);
    if (pending) {
      pending.reject(err);
      stream.destroy();
    } else if (quiet && stream.readableLength > 0) {
      // A peer CANCEL after data we have not read yet: keep that data readable, then end, as spdystream
      // readers see it (the kubelet resets every exec stream right after writing the status). Nothing
      // more is sent on the stream.
      stream.closeError = err;
      this.writer.drop(stream, new ClosedError(`stream ${stream.id} reset by peer`));
      stream.pushEnd(); // a no-op when the FIN already came
      stream.once('end', () => stream.destroy());
    } else if (quiet) {
      stream.closeQuietly(err);
    } else {
      stream.fail(err);
    }
  }

  /** Takes a closed stream out of the table (the FORGET action). */
  private forget(stream: Stream): void {
    if (!this.table.remove(stream)) return; // (a reset stream is destroyed right after: its queue is dropped then)
    this.gate.forget(stream);
    if (this.table.size === 0) {
      for (const w of [...this.streamDrainWaiters]) w();
      // §2.6.6: after a GOAWAY no new streams come; once the last one is over the connection is done.
      if (this.goawayReceived && !this.closed) process.nextTick(() => this.table.size === 0 && this.finish(undefined));
    }
  }

  private sendGoaway(status: number): void {
    if (this.goawaySent || this.closed) return;
    this.goawaySent = true;
    log('%s: GOAWAY sent: last-good-stream-id %d, %s', this.role, this.table.lastAcceptedPeerId, goawayStatusName[status]);
    this.control(encodeGoaway(this.table.lastAcceptedPeerId, status), FrameType.GOAWAY, 0);
  }

  /** Queues a control frame; a peer that lets `maxQueuedControlFrames` pile up is dropped. */
  private control(frame: Buffer | HeaderFrame, type: number, streamId: number): void {
    if (flog.enabled) flog('%s -> %s stream %d', this.role, frameTypeName[type], streamId);
    if (this.writer.writeControl(frame) || this.closed) return;
    const err = new SessionError(
      GoawayStatus.PROTOCOL_ERROR,
      `peer is not reading: more than ${this.options.maxQueuedControlFrames} control frames queued; connection dropped`,
    );
    log('%s: %s', this.role, err.message);
    this.abandon = true;
    this.emit('error', err);
    this.finish(err);
  }

  private logFrame(dir: string, f: Frame): void {
    if (f.type === -1) flog('%s %s unknown type %d (%d bytes)', this.role, dir, f.frameType, f.length);
    else if (f.type === FrameType.DATA) flog('%s %s DATA stream %d flags %d (%d bytes)', this.role, dir, f.streamId, f.flags, f.data.length);
    else flog('%s %s %s %o', this.role, dir, frameTypeName[f.type], { ...f, headerBlock: undefined });
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
    this.pings.rejectAll(cause);
    for (const s of [...this.table.values()]) {
      this.step(s, StreamEvent.RESET);
      // A graceful close ends streams quietly; a failure reports it on each stream.
      if (err) s.fail(err instanceof ClosedError ? err : new ClosedError(`connection failed: ${err.message}`, { cause: err }));
      else s.destroy();
    }
    if (!this.abandon) this.writer.flushNow();
    this.writer.close();
    const socket = this.socket;
    if (!socket.destroyed && (err instanceof LivenessError || this.abandon)) {
      socket.destroy(); // the peer is gone or does not read: waiting for its FIN would wait for TCP to give up
    } else if (!socket.destroyed) {
      socket.end();
      const t = setTimeout(() => socket.destroy(), 1000);
      t.unref?.();
      socket.once('close', () => clearTimeout(t));
    }
    this.gate.release();
    for (const w of [...this.streamDrainWaiters]) w();
    log('%s: connection closed%s', this.role, err ? `: ${err.message}` : '');
    this.emit('close', err);
  }
}
