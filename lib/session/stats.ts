/**
 * A connection's traffic counters: bytes and frames each way, frames by type, the last PING round trip.
 * Kept apart from the connection so that counting stays one line at each point of the data path.
 */
import { FrameType } from '../frames/constants.js';
import { byName } from './helpers.js';

/** Index of the "unknown type" slot: DATA 0 … CREDENTIAL 10, 11 = any other type. */
const UNKNOWN = 11;

export class ConnectionCounters {
  bytesIn = 0;
  bytesOut = 0;
  framesIn = 0;
  framesOut = 0;
  /** Last measured PING round trip, ms (NaN before the first). */
  rtt = Number.NaN;
  /** Frames by type, indexed by type (DATA 0 … CREDENTIAL 10, 11 = unknown); `typeOut` counts frames written. */
  private readonly typeIn = new Array<number>(12).fill(0);
  private readonly typeOut = new Array<number>(12).fill(0);

  /** A frame of `type` (-1 for an unknown type) was received. */
  frameIn(type: number): void {
    this.typeIn[type === -1 ? UNKNOWN : type]!++;
  }

  /** A frame of `type`, `n` bytes long, was written. */
  frameOut(n: number, type: number): void {
    this.bytesOut += n;
    this.framesOut++;
    this.typeOut[type > 10 ? UNKNOWN : type]!++;
  }

  /** Frames either way other than PING (liveness: "did anything but our probes move?"). */
  activity(): number {
    return this.framesIn + this.framesOut - this.typeIn[FrameType.PING]! - this.typeOut[FrameType.PING]!;
  }

  /** The counter part of {@link ConnectionStats}. */
  snapshot(): {
    bytesIn: number;
    bytesOut: number;
    framesIn: number;
    framesOut: number;
    rtt: number;
    framesByType: { in: Record<string, number>; out: Record<string, number> };
  } {
    return {
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      framesIn: this.framesIn,
      framesOut: this.framesOut,
      rtt: this.rtt,
      framesByType: { in: byName(this.typeIn), out: byName(this.typeOut) },
    };
  }
}
