/**
 * The connection's handlers for the session-level control frames SETTINGS, PING and WINDOW_UPDATE
 * (SPDY/3.1 §2.6.4, §2.6.5, §2.6.8), and the state they own: what the peer's SETTINGS said, whether our
 * own SETTINGS went out, the window slack while the peer may not have seen them. The connection keeps
 * dispatch ({@link Connection.processFrame}), GOAWAY and its lifecycle; it hands these frames here.
 * Every handler either handles its frame or throws a typed error (SessionError / StreamError).
 */
import {
  FrameType,
  GoawayStatus,
  RstStatus,
  SettingsId,
  DEFAULT_INITIAL_WINDOW,
  MAX_WINDOW,
} from '../frames/constants.js';
import type { PingFrame, SettingsEntry, SettingsFrame, WindowUpdateFrame } from '../frames/types.js';
import { encodePing, encodeSettings, encodeWindowUpdate } from '../frames/encoder.js';
import { SessionError, StreamError } from '../errors.js';
import type { ResolvedOptions } from './options.js';
import type { SendWindow } from './flow.js';
import type { FrameWriter } from './writer.js';
import type { StreamTable } from './stream-table.js';
import type { Stream } from './stream.js';
import type { PingTable } from './pings.js';
import type { SessionInflow } from './session-inflow.js';

/** What the handlers need from their connection. */
export interface ControlHost {
  readonly role: 'client' | 'server';
  readonly options: ResolvedOptions;
  readonly table: StreamTable<Stream>;
  readonly writer: FrameWriter;
  readonly pings: PingTable;
  readonly sessionSendWindow: SendWindow;
  readonly inflow: SessionInflow;
  /** True while windows are honoured. */
  flowOn(): boolean;
  /** `flowControl: 'auto'`: switches windows on, both ways (§2.6.8). */
  peerSpeaksFlowControl(what: string): void;
  /** Resets a stream with RST_STREAM `status` and ends it with `err` (§2.4.2). */
  resetStreamById(id: number, status: number, err: StreamError): void;
  /** Queues a control frame. */
  control(frame: Buffer, type: number, streamId: number): void;
  /** Sends a PING of ours. */
  ping(options: { timeout?: number }): Promise<number>;
  /** The echo of our PING arrived after `rtt` ms. */
  pingEchoed(rtt: number): void;
  /** Emits `'ping'` for the peer's PING. */
  emitPing(id: number): void;
}

export class ControlFrames {
  /** The peer's SETTINGS INITIAL_WINDOW_SIZE: the send window of each new stream, bytes (§2.6.4, default 64 KiB). */
  peerInitialWindow = DEFAULT_INITIAL_WINDOW;
  /** The peer's SETTINGS MAX_CONCURRENT_STREAMS: how many streams we may open (§2.6.4, default unlimited). */
  peerMaxConcurrent = Infinity;
  /** True once our first SETTINGS went out (or was skipped in compatibility mode). */
  settingsSent = false;
  /**
   * Extra bytes a stream may receive beyond its window while the peer may not have seen our SETTINGS
   * INITIAL_WINDOW_SIZE (below 64 KiB) yet: SPDY has no SETTINGS ACK, so until then it may use the default.
   */
  windowSlack = 0;

  constructor(private readonly host: ControlHost) {}

  /** SPDY/3.1 §2.6.4 SETTINGS. */
  onSettings(f: SettingsFrame): void {
    const h = this.host;
    const seen = new Set<number>();
    for (const e of f.entries) {
      if (seen.has(e.id)) continue; // duplicate ids: the first wins
      seen.add(e.id);
      if (e.id === SettingsId.INITIAL_WINDOW_SIZE) {
        // §2.6.8: "a sender MUST NOT allow a flow control window to exceed 2^31 - 1 bytes".
        if (e.value > MAX_WINDOW) throw new SessionError(GoawayStatus.PROTOCOL_ERROR, `SETTINGS INITIAL_WINDOW_SIZE ${e.value} exceeds 2^31-1`);
        h.peerSpeaksFlowControl('SETTINGS INITIAL_WINDOW_SIZE');
        const shift = e.value - this.peerInitialWindow;
        this.peerInitialWindow = e.value;
        // §2.6.8: every existing stream window changes by the difference and may go negative. A window
        // pushed past 2^31-1 is a FLOW_CONTROL_ERROR on that stream, as for a WINDOW_UPDATE (found by
        // spec/property-flow.test.ts; fixture fixtures/property/flow-settings-overflow.json).
        for (const s of [...h.table.values()]) {
          if (s.sendWindow.size + shift > MAX_WINDOW) {
            h.resetStreamById(s.id, RstStatus.FLOW_CONTROL_ERROR, new StreamError(s.id, RstStatus.FLOW_CONTROL_ERROR, `SETTINGS INITIAL_WINDOW_SIZE ${e.value} overflows the window of stream ${s.id}`));
          } else s.sendWindow.size += shift;
        }
        if (shift > 0) h.writer.wakeAll(h.table.values());
      } else if (e.id === SettingsId.MAX_CONCURRENT_STREAMS) {
        this.peerMaxConcurrent = e.value;
      }
    }
  }

  /** SPDY/3.1 §2.6.5 PING: the peer's PING is echoed at once; an echo of ours settles its wait. */
  onPing(f: PingFrame): void {
    const h = this.host;
    if (!h.pings.isOurs(f.id)) {
      // §2.6.5: a PING of the other side's parity is echoed at once, with the same id.
      h.control(encodePing(f.id), FrameType.PING, 0);
      h.emitPing(f.id);
      return;
    }
    const rtt = h.pings.echo(f.id);
    if (rtt !== undefined) h.pingEchoed(rtt); // else an echo we no longer wait for
  }

  /** SPDY/3.1 §2.6.8 WINDOW_UPDATE, on the session (stream 0) or on one stream. */
  onWindowUpdate(f: WindowUpdateFrame): void {
    const h = this.host;
    if (f.streamId === 0) {
      // §2.6.8: the delta-window-size is 1 to 2^31-1; on the session, a bad one is a session error.
      if (f.delta === 0) throw new SessionError(GoawayStatus.PROTOCOL_ERROR, 'WINDOW_UPDATE on the session with delta 0');
      h.peerSpeaksFlowControl('WINDOW_UPDATE');
      if (!h.flowOn()) return;
      if (!h.sessionSendWindow.add(f.delta)) {
        // §2.6.8: "a sender MUST NOT allow a flow control window to exceed 2^31 - 1 bytes".
        throw new SessionError(GoawayStatus.PROTOCOL_ERROR, `WINDOW_UPDATE overflows the session window past 2^31-1`);
      }
      h.writer.wakeAll(h.table.values());
      return;
    }
    h.peerSpeaksFlowControl('WINDOW_UPDATE');
    const stream = h.table.get(f.streamId);
    if (!stream) return; // may race with the stream's end
    // §2.6.8: the delta-window-size is 1 to 2^31-1; on a stream, a bad one is a stream error FLOW_CONTROL_ERROR.
    if (f.delta === 0) throw new StreamError(f.streamId, RstStatus.FLOW_CONTROL_ERROR, `WINDOW_UPDATE on stream ${f.streamId} with delta 0`);
    if (!h.flowOn()) return;
    if (!stream.sendWindow.add(f.delta)) {
      // §2.6.8: a stream window past 2^31-1 is a stream error FLOW_CONTROL_ERROR.
      throw new StreamError(f.streamId, RstStatus.FLOW_CONTROL_ERROR, `WINDOW_UPDATE overflows the window of stream ${f.streamId}`);
    }
    h.writer.wake(stream);
  }

  /**
   * Our first SETTINGS (§2.6.4: MAX_CONCURRENT_STREAMS, and INITIAL_WINDOW_SIZE when it is not the default
   * or in 'auto' mode) and the session WINDOW_UPDATE up to `sessionWindowSize` (§2.6.8). Nothing in
   * compatibility mode (`flowControl: false`).
   */
  sendInitialSettings(): void {
    const h = this.host;
    this.settingsSent = true;
    if (h.options.flowControl === false) return; // spdystream peers ignore SETTINGS; stay quiet
    const win = h.options.initialWindowSize;
    const entries: SettingsEntry[] = [{ id: SettingsId.MAX_CONCURRENT_STREAMS, flags: 0, value: h.options.maxConcurrentStreams }];
    // 'auto' always states its window: that is how an 'auto' peer learns that we implement windows.
    if (win !== DEFAULT_INITIAL_WINDOW || h.options.flowControl === 'auto') entries.push({ id: SettingsId.INITIAL_WINDOW_SIZE, flags: 0, value: win });
    h.control(encodeSettings(0, entries), FrameType.SETTINGS, 0);
    if (win !== DEFAULT_INITIAL_WINDOW) {
      if (win < DEFAULT_INITIAL_WINDOW && h.flowOn()) {
        // The peer may already be sending under the default 64 KiB window. Once the echo of a PING sent
        // after the SETTINGS is back, the peer has applied it (frames are handled in order): be strict again.
        this.windowSlack = DEFAULT_INITIAL_WINDOW - win;
        h.ping({ timeout: 0 }).then(
          () => {
            this.windowSlack = 0;
          },
          () => {},
        );
      }
    }
    const extra = h.inflow.grow();
    if (extra > 0) h.control(encodeWindowUpdate(0, extra), FrameType.WINDOW_UPDATE, 0);
  }
}
