/**
 * The live streams of one connection, their ids and counts. Whether an id that is not live was ever
 * used is derived from id order, as x/net/http2 does (no list of recently closed streams):
 * SPDY/3.1 §2.3.2 "The stream-id MUST increase with each new stream", so every id of ours below the
 * next one we would assign, and every peer id up to the highest the peer used, was opened and is now
 * closed; anything above was never opened ("idle").
 */
export type IdStatus = 'live' | 'closed' | 'idle';

export class StreamTable<S extends { readonly id: number; readonly local: boolean }> {
  private readonly live = new Map<number, S>();
  /** The next id we assign (odd for a client, even for a server; §2.3.2). */
  nextLocalId: number;
  /** Highest stream id the peer opened (accepted or refused): ids must increase. */
  highestPeerId = 0;
  /** Highest peer stream id we accepted (the last-good-stream-id of our GOAWAY, §2.6.6). */
  lastAcceptedPeerId = 0;
  /** Live streams the peer opened. */
  peerCount = 0;

  constructor(readonly role: 'client' | 'server') {
    this.nextLocalId = role === 'client' ? 1 : 2;
  }

  get size(): number {
    return this.live.size;
  }

  /** Live streams we opened. */
  get localCount(): number {
    return this.live.size - this.peerCount;
  }

  get(id: number): S | undefined {
    return this.live.get(id);
  }

  values(): IterableIterator<S> {
    return this.live.values();
  }

  /** True for an id of the peer's parity (client: even ids are the server's, and vice versa). */
  isPeerId(id: number): boolean {
    return id % 2 === (this.role === 'server' ? 1 : 0);
  }

  /** live, closed (was opened, is over) or idle (never opened), from the table and id order. */
  status(id: number): IdStatus {
    if (this.live.has(id)) return 'live';
    if (this.isPeerId(id)) return id <= this.highestPeerId ? 'closed' : 'idle';
    return id < this.nextLocalId ? 'closed' : 'idle';
  }

  /** Takes the next local id (the caller queues its SYN_STREAM in the same synchronous step). */
  takeLocalId(): number {
    const id = this.nextLocalId;
    this.nextLocalId += 2;
    return id;
  }

  /** Notes a peer's SYN_STREAM id (accepted or not). */
  notePeerId(id: number): void {
    this.highestPeerId = id;
  }

  add(s: S): void {
    this.live.set(s.id, s);
    if (!s.local) {
      this.peerCount++;
      this.lastAcceptedPeerId = s.id;
    }
  }

  /** Removes a stream; returns false when it was not live. */
  remove(s: S): boolean {
    if (this.live.get(s.id) !== s) return false;
    this.live.delete(s.id);
    if (!s.local) this.peerCount--;
    return true;
  }
}
