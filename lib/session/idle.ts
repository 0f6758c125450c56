/**
 * Idle detection without per-frame work: one timer samples an activity counter four times per period,
 * and calls `onIdle` once the counter has not moved (and nothing is busy) for `ms`. So the callback runs
 * between `ms` and 1.25 × `ms` after the last activity. Used for the connection idle timeout and the
 * per-stream idle timeout.
 */
export class IdleWatch {
  private timer: NodeJS.Timeout | null = null;
  private seen = -1;
  private since = Date.now();

  /**
   * @param ms idle period, ms (> 0).
   * @param activity a counter that moves on activity (frames).
   * @param onIdle called once; the watch is then stopped.
   * @param busy while it returns true the connection or stream counts as active. Default: never.
   */
  constructor(
    private readonly ms: number,
    private readonly activity: () => number,
    private readonly onIdle: () => void,
    private readonly busy: () => boolean = () => false,
  ) {
    this.arm();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      const now = Date.now();
      const count = this.activity();
      if (count !== this.seen || this.busy()) {
        this.seen = count;
        this.since = now;
      } else if (now - this.since >= this.ms) {
        this.onIdle();
        return;
      }
      this.arm();
    }, Math.max(1, Math.floor(this.ms / 4)));
    this.timer.unref?.();
  }
}
