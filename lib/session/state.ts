/**
 * The stream lifecycle as one pure transition table: (state, event) → (next state, actions), or a
 * stream error to answer with RST_STREAM. It is the only place a stream's state changes
 * ({@link Lifecycle.apply}); the connection dispatches frames into it and carries out the actions.
 *
 * SPDY/3.1 §2.3 (Stream management) and §2.4.2 (Stream error handling):
 * - §2.3.6 "When one side of the stream sends a frame with the FLAG_FIN flag set, the stream is
 *   half-closed from that endpoint. … When both sides have half-closed, the stream is closed."
 * - §2.6.1 FLAG_UNIDIRECTIONAL: "a stream created with this flag puts the recipient in the half closed
 *   state".
 * - §2.6.2 "If an endpoint receives multiple SYN_REPLY frames for the same active stream ID, it MUST
 *   issue a stream error with the error code STREAM_IN_USE."
 * - §2.2.2 "If the endpoint which created the stream receives a data frame before receiving a SYN_REPLY
 *   on that stream, it is a protocol error, and the recipient MUST issue a stream error with the status
 *   code PROTOCOL_ERROR", and
 *   §2.3.6 "an endpoint that receives data on a half-closed stream MUST send a RST_STREAM with the
 *   error code STREAM_ALREADY_CLOSED."
 * - §2.4.2 "After sending a RST_STREAM, the stream … is closed"; the peer's RST_STREAM closes it too.
 *
 * A local FIN counts when its frame is written (the writer reports it), not when it is queued: until
 * then the stream still needs its windows and its place in the stream table.
 */
import { RstStatus } from '../frames/constants.js';

/** Stream states (one enum, SPDY/3.1 §2.3). */
export const StreamState = {
  /** We sent SYN_STREAM, no SYN_REPLY yet. */
  OPENING: 'opening',
  /** We sent SYN_STREAM with (or followed by) FIN, no SYN_REPLY yet. */
  OPENING_HALF_CLOSED_LOCAL: 'opening-half-closed-local',
  /** Both sides may send. */
  OPEN: 'open',
  /** We sent FIN; the peer may still send. */
  HALF_CLOSED_LOCAL: 'half-closed-local',
  /** The peer sent FIN; we may still send. */
  HALF_CLOSED_REMOTE: 'half-closed-remote',
  /** Both FINs, or a RST_STREAM either way (or GOAWAY, or the connection closed). */
  CLOSED: 'closed',
} as const;
export type StreamStateValue = (typeof StreamState)[keyof typeof StreamState];

/** What happened to a stream. */
export const StreamEvent = {
  /** SYN_REPLY received (on a stream we created). */
  RECV_REPLY: 'recv-reply',
  /** DATA (payload, no FIN) received. */
  RECV_DATA: 'recv-data',
  /** HEADERS received. */
  RECV_HEADERS: 'recv-headers',
  /** FIN received (on DATA, SYN_REPLY or HEADERS; after the frame's own event). */
  RECV_FIN: 'recv-fin',
  /** Our FIN was written (DATA, SYN_REPLY or HEADERS with FLAG_FIN). */
  SENT_FIN: 'sent-fin',
  /** RST_STREAM sent or received, GOAWAY above the stream, or the connection closed. */
  RESET: 'reset',
} as const;
export type StreamEventValue = (typeof StreamEvent)[keyof typeof StreamEvent];

/** Actions, as bits. */
export const Action = {
  /** Handle the frame (deliver its data or headers). */
  ACCEPT: 1,
  /** The SYN_REPLY arrived: resolve createStream, emit `'reply'`. */
  REPLIED: 2,
  /** End the readable side (the peer's FIN). */
  END_READ: 4,
  /** The stream is closed: take it out of the stream table, drop its queue. */
  FORGET: 8,
} as const;

/** One row's outcome: the next state and actions, or `rst` (a stream error with that status; state unchanged). */
export interface Transition {
  readonly state: StreamStateValue;
  readonly actions: number;
  readonly rst?: number;
}

const S = StreamState;
const E = StreamEvent;
const { ACCEPT, REPLIED, END_READ, FORGET } = Action;

const go = (state: StreamStateValue, actions = 0): Transition => ({ state, actions });
const rst = (state: StreamStateValue, status: number): Transition => ({ state, actions: 0, rst: status });
const closed = go(S.CLOSED, FORGET);

/** The table. Rows not listed for CLOSED are "ignore": nothing happens. */
export const TRANSITIONS: Readonly<Record<StreamStateValue, Readonly<Record<StreamEventValue, Transition>>>> = {
  [S.OPENING]: {
    [E.RECV_REPLY]: go(S.OPEN, ACCEPT | REPLIED),
    // §2.2.2: DATA (or its FIN) before the SYN_REPLY is a protocol error.
    [E.RECV_DATA]: rst(S.OPENING, RstStatus.PROTOCOL_ERROR),
    [E.RECV_HEADERS]: go(S.OPENING, ACCEPT),
    [E.RECV_FIN]: rst(S.OPENING, RstStatus.PROTOCOL_ERROR),
    [E.SENT_FIN]: go(S.OPENING_HALF_CLOSED_LOCAL),
    [E.RESET]: closed,
  },
  [S.OPENING_HALF_CLOSED_LOCAL]: {
    [E.RECV_REPLY]: go(S.HALF_CLOSED_LOCAL, ACCEPT | REPLIED),
    [E.RECV_DATA]: rst(S.OPENING_HALF_CLOSED_LOCAL, RstStatus.PROTOCOL_ERROR),
    [E.RECV_HEADERS]: go(S.OPENING_HALF_CLOSED_LOCAL, ACCEPT),
    [E.RECV_FIN]: rst(S.OPENING_HALF_CLOSED_LOCAL, RstStatus.PROTOCOL_ERROR),
    [E.SENT_FIN]: go(S.OPENING_HALF_CLOSED_LOCAL),
    [E.RESET]: closed,
  },
  [S.OPEN]: {
    [E.RECV_REPLY]: rst(S.OPEN, RstStatus.STREAM_IN_USE),
    [E.RECV_DATA]: go(S.OPEN, ACCEPT),
    [E.RECV_HEADERS]: go(S.OPEN, ACCEPT),
    [E.RECV_FIN]: go(S.HALF_CLOSED_REMOTE, END_READ),
    [E.SENT_FIN]: go(S.HALF_CLOSED_LOCAL),
    [E.RESET]: closed,
  },
  [S.HALF_CLOSED_LOCAL]: {
    [E.RECV_REPLY]: rst(S.HALF_CLOSED_LOCAL, RstStatus.STREAM_IN_USE),
    [E.RECV_DATA]: go(S.HALF_CLOSED_LOCAL, ACCEPT),
    [E.RECV_HEADERS]: go(S.HALF_CLOSED_LOCAL, ACCEPT),
    [E.RECV_FIN]: go(S.CLOSED, END_READ | FORGET),
    [E.SENT_FIN]: go(S.HALF_CLOSED_LOCAL),
    [E.RESET]: closed,
  },
  [S.HALF_CLOSED_REMOTE]: {
    [E.RECV_REPLY]: rst(S.HALF_CLOSED_REMOTE, RstStatus.STREAM_IN_USE),
    // §2.3.6: data on a half-closed stream → STREAM_ALREADY_CLOSED.
    [E.RECV_DATA]: rst(S.HALF_CLOSED_REMOTE, RstStatus.STREAM_ALREADY_CLOSED),
    [E.RECV_HEADERS]: rst(S.HALF_CLOSED_REMOTE, RstStatus.STREAM_ALREADY_CLOSED),
    [E.RECV_FIN]: rst(S.HALF_CLOSED_REMOTE, RstStatus.STREAM_ALREADY_CLOSED),
    [E.SENT_FIN]: closed,
    [E.RESET]: closed,
  },
  [S.CLOSED]: {
    [E.RECV_REPLY]: go(S.CLOSED),
    [E.RECV_DATA]: go(S.CLOSED),
    [E.RECV_HEADERS]: go(S.CLOSED),
    [E.RECV_FIN]: go(S.CLOSED),
    [E.SENT_FIN]: go(S.CLOSED),
    [E.RESET]: go(S.CLOSED),
  },
};

/** The pure function: looks the row up. */
export function transition(state: StreamStateValue, event: StreamEventValue): Transition {
  return TRANSITIONS[state][event];
}

/** The initial state of a stream. */
export function initialState(local: boolean, unidirectional: boolean): StreamStateValue {
  if (local) return unidirectional ? S.HALF_CLOSED_REMOTE : S.OPENING; // no SYN_REPLY comes for a unidirectional stream
  return unidirectional ? S.HALF_CLOSED_LOCAL : S.OPEN;
}

/** A stream's state, changed only by {@link Lifecycle.apply}. */
export class Lifecycle {
  private current: StreamStateValue;
  constructor(initial: StreamStateValue) {
    this.current = initial;
  }
  get state(): StreamStateValue {
    return this.current;
  }
  /** Applies `event`: moves to the row's state and returns the row (check `rst` first). */
  apply(event: StreamEventValue): Transition {
    const t = TRANSITIONS[this.current][event];
    if (t.rst === undefined) this.current = t.state;
    return t;
  }
}
