/**
 * Small pieces of the connection that need none of its state: option checks, header serialization with
 * typed errors, running application listeners, stats by frame type.
 */
import type { Headers } from '../frames/types.js';
import { frameTypeName } from '../frames/constants.js';
import { serializeHeaderBlock } from '../compression/index.js';
import { InvalidArgumentError, KubeSpdyError } from '../errors.js';
import { StreamEvent, type StreamEventValue } from './state.js';
import type { CreateStreamOptions } from './types.js';

export const CREATE_OPTIONS = new Set(['timeout', 'signal', 'priority', 'fin', 'unidirectional', 'idleTimeout']);

/** What a stream error says, by the event that raised it. */
export const EVENT_TEXT: Record<StreamEventValue, string> = {
  [StreamEvent.RECV_REPLY]: 'second SYN_REPLY',
  [StreamEvent.RECV_DATA]: 'DATA',
  [StreamEvent.RECV_HEADERS]: 'HEADERS',
  [StreamEvent.RECV_FIN]: 'FIN',
  [StreamEvent.SENT_FIN]: 'our FIN',
  [StreamEvent.RESET]: 'reset',
};

/** Runs application code (a listener); its exception is rethrown asynchronously, never taken as ours. */
export function userCode(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    process.nextTick(() => {
      throw err;
    });
  }
}

/** Serializes a header block, turning a validation failure into ERR_INVALID_ARG. */
export function serialize(headers: Headers): Buffer {
  try {
    return serializeHeaderBlock(headers);
  } catch (err) {
    if (err instanceof KubeSpdyError) throw err;
    throw new InvalidArgumentError(`invalid headers: ${(err as Error).message}`);
  }
}

export function wholeMs(name: string, v: unknown): void {
  if (v !== undefined && (!Number.isInteger(v) || (v as number) < 0)) throw new InvalidArgumentError(`${name} must be a whole number of ms >= 0, got ${String(v)}`);
}

/**
 * Checks {@link CreateStreamOptions} (names and values) and returns the priority.
 * @throws InvalidArgumentError
 */
export function checkCreateStreamOptions(options: CreateStreamOptions): number {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('createStream options must be an object');
  for (const k of Object.keys(options)) if (!CREATE_OPTIONS.has(k)) throw new InvalidArgumentError(`unknown createStream option ${JSON.stringify(k)}`);
  const priority = options.priority ?? 0;
  if (!Number.isInteger(priority) || priority < 0 || priority > 7) throw new InvalidArgumentError(`priority must be 0..7, got ${priority}`);
  wholeMs('timeout', options.timeout);
  wholeMs('idleTimeout', options.idleTimeout);
  if (options.fin && options.unidirectional) throw new InvalidArgumentError('a stream that is both fin and unidirectional carries nothing');
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw new InvalidArgumentError('signal must be an AbortSignal');
  return priority;
}

/** Non-zero counts by type name (`DATA` always present). */
export function byName(counts: number[]): Record<string, number> {
  const out: Record<string, number> = { DATA: counts[0]! };
  for (let t = 1; t < counts.length; t++) if (counts[t]! > 0) out[t === 11 ? 'UNKNOWN' : frameTypeName[t]!] = counts[t]!;
  return out;
}
