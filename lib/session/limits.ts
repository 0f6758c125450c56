/**
 * Rate limits on control frames a peer sends (denial-of-service guards): a fixed one-second window
 * per frame kind. Clocks are read only when such a frame arrives, never on the DATA path.
 */
export class RateLimit {
  private windowStart = 0;
  private count = 0;
  /** @param perSecond most frames accepted in one second; 0 disables the limit. */
  constructor(readonly perSecond: number) {}
  /** Counts one frame; returns false when the limit is exceeded. */
  hit(now: number = Date.now()): boolean {
    if (this.perSecond === 0) return true;
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.count = 0;
    }
    return ++this.count <= this.perSecond;
  }
}
