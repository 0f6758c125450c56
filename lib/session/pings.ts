/**
 * PINGs we sent and wait for (SPDY/3.1 §2.6.5): ids, one {@link Deadline} per outstanding ping, and the
 * round trip of the last echo. "The client MUST use odd numbered IDs, the server even numbered IDs", so a
 * PING whose id has our parity is an echo of ours; any other is the peer's, to be echoed back.
 */
import { ClosedError, TimeoutError, AbortError } from '../errors.js';
import { Deadline } from './deadline.js';

export class PingTable {
  private readonly waits = new Map<number, Deadline<number>>();
  private nextId: number;

  constructor(private readonly role: 'client' | 'server') {
    this.nextId = this.first();
  }

  private first(): number {
    return this.role === 'client' ? 1 : 2;
  }

  /** True when `id` has our parity (an echo of one of our PINGs, §2.6.5). */
  isOurs(id: number): boolean {
    return id % 2 === (this.role === 'client' ? 1 : 0);
  }

  /**
   * Takes the next id (wrapping within 32 bits, keeping our parity) and starts waiting for its echo.
   * @param timeout ms, 0 = none. @returns the id to send and the wait's promise (round trip, ms).
   */
  start(timeout: number, signal: AbortSignal | undefined): { id: number; promise: Promise<number> } {
    const id = this.nextId;
    this.nextId = (this.nextId + 2) >>> 0;
    if (this.nextId === 0 || this.nextId > 0xfffffffe) this.nextId = this.first();
    const wait = new Deadline<number>({
      timeout,
      signal,
      onSettle: () => this.waits.delete(id),
      onTimeout: () => new TimeoutError(`no PING reply within ${timeout} ms`, timeout),
      onAbort: (reason) => new AbortError('ping aborted', { cause: reason }),
    });
    this.waits.set(id, wait);
    return { id, promise: wait.promise };
  }

  /**
   * The echo of our PING `id` arrived: resolves its wait. @returns the round trip in ms, or undefined
   * for an echo we no longer wait for.
   */
  echo(id: number): number | undefined {
    const p = this.waits.get(id);
    if (!p) return undefined;
    const rtt = performance.now() - p.start;
    p.resolve(rtt);
    return rtt;
  }

  /** The connection closed: every outstanding ping rejects with a {@link ClosedError}. */
  rejectAll(cause: Error): void {
    for (const p of [...this.waits.values()]) p.reject(new ClosedError('connection closed before the PING reply', { cause }));
  }
}
