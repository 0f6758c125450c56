/**
 * A wait that is settled exactly once: by {@link Deadline.resolve} / {@link Deadline.reject}, by its
 * timeout, or by an AbortSignal, whichever comes first. One timer per wait (never one per frame); the
 * timer and the abort listener are removed when it settles. Used for SYN_REPLY and PING waits.
 */
export interface DeadlineOptions {
  /** ms; 0 = no timeout. */
  timeout: number;
  signal?: AbortSignal | undefined;
  /** Runs on timeout (after the wait is settled and `onSettle` ran); returns the rejection. */
  onTimeout: () => Error;
  /** Runs on abort (likewise); returns the rejection. */
  onAbort: (reason: unknown) => Error;
  /** Runs once on any settle, first (e.g. removes the wait from its table). */
  onSettle?: () => void;
}

export class Deadline<T> {
  readonly promise: Promise<T>;
  /** When the wait started (performance.now(), ms). */
  readonly start = performance.now();
  private settled = false;
  private timer: NodeJS.Timeout | null = null;
  private resolveFn!: (v: T) => void;
  private rejectFn!: (e: Error) => void;
  private readonly opts: DeadlineOptions;
  private readonly onAbortEvent = (): void => {
    if (this.settle()) this.rejectFn(this.opts.onAbort(this.opts.signal?.reason));
  };

  constructor(opts: DeadlineOptions) {
    this.opts = opts;
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolveFn = resolve;
      this.rejectFn = reject;
    });
    if (opts.timeout > 0) {
      this.timer = setTimeout(() => {
        if (this.settle()) this.rejectFn(opts.onTimeout());
      }, opts.timeout);
      this.timer.unref?.();
    }
    opts.signal?.addEventListener('abort', this.onAbortEvent, { once: true });
  }

  resolve(value: T): void {
    if (this.settle()) this.resolveFn(value);
  }

  reject(err: Error): void {
    if (this.settle()) this.rejectFn(err);
  }

  /** Marks the wait settled; false if it already was. */
  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    if (this.timer) clearTimeout(this.timer);
    this.opts.signal?.removeEventListener('abort', this.onAbortEvent);
    this.opts.onSettle?.();
    return true;
  }
}
