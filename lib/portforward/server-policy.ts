/**
 * What a port-forward server lets a peer do and hold: the port policy, the per-request authorization
 * hook, and the bounds on what peers may keep alive (pairs waiting for their partner, forwards open),
 * per connection and per server ({@link PortForwardBudget}, shared by every connection of one server).
 */
import { InvalidArgumentError } from '../errors.js';

/** One port-forward request (an error + data stream pair), as the authorization hook sees it. */
export interface PortForwardRequest {
  /** The target port (1..65535). */
  port: number;
  /** The `requestid` header (or the id derived from the stream ids for old clients). */
  requestId: string;
  /** The data stream's headers as received. Never logged by kube-spdy (values may be secrets). */
  headers: Readonly<Record<string, string>>;
}

/**
 * Which target ports may be dialed:
 * - `'any'`: every port 1..65535 (the kubelet's behaviour: the pod's network namespace is the boundary);
 * - a list of ports (e.g. the pod's declared container ports);
 * - a predicate.
 */
export type PortPolicy = 'any' | readonly number[] | ((port: number) => boolean);

/**
 * Authorizes one port-forward request. Return (or resolve) `true` to allow it; `false` or a string
 * (the reason, sent to the client on the error stream) to deny it. A throw or rejection denies it.
 * Called once per request, before anything is dialed.
 */
export type AuthorizeHook = (request: PortForwardRequest) => boolean | string | Promise<boolean | string>;

/** Returns a function telling whether `port` may be dialed. @throws InvalidArgumentError for a bad policy. */
export function portAllowed(policy: PortPolicy): (port: number) => boolean {
  if (policy === 'any') return () => true;
  if (typeof policy === 'function') return policy;
  if (!Array.isArray(policy)) throw new InvalidArgumentError(`allowedPorts must be 'any', an array of ports or a function`);
  for (const p of policy) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw new InvalidArgumentError(`allowedPorts: ${String(p)} is not a port (1..65535)`);
  }
  const set = new Set(policy);
  return (port) => set.has(port);
}

/** Options of {@link PortForwardBudget}: bounds on what all connections of one server hold together. */
export interface PortForwardBudgetOptions {
  /** Most requests waiting for their second stream across the server. Default 4096. */
  maxPendingPairs?: number;
  /** Most forwarded connections open (dialing or copying) across the server. Default 4096. */
  maxForwards?: number;
}

/** Server-wide defaults of {@link PortForwardBudget}. */
export const DEFAULT_SERVER_MAX_PENDING_PAIRS = 4096;
export const DEFAULT_SERVER_MAX_FORWARDS = 4096;

/**
 * Counters shared by every connection of one server. A stream that would take a count past its bound is
 * refused (RST_STREAM REFUSED_STREAM); the client may retry. Create one per server and pass it to each
 * `servePortForward` call as `budget`.
 */
export class PortForwardBudget {
  readonly maxPendingPairs: number;
  readonly maxForwards: number;
  pendingPairs = 0;
  forwards = 0;
  /** Streams refused because a bound was reached (server-wide or per connection). */
  refused = 0;

  /** @throws InvalidArgumentError for a bound that is not a positive integer. */
  constructor(options: PortForwardBudgetOptions = {}) {
    this.maxPendingPairs = positive('maxPendingPairs', options.maxPendingPairs ?? DEFAULT_SERVER_MAX_PENDING_PAIRS);
    this.maxForwards = positive('maxForwards', options.maxForwards ?? DEFAULT_SERVER_MAX_FORWARDS);
  }
}

/** Checks a bound option: a positive integer. @throws InvalidArgumentError */
export function positive(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got ${String(v)}`);
  return v;
}

/** Checks a timeout option: a whole number of ms >= 0. @throws InvalidArgumentError */
export function timeoutMs(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) throw new InvalidArgumentError(`${name} must be a whole number of ms (0..2^31-1), got ${String(v)}`);
  return v;
}
