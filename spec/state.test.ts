// The stream transition table, row by row (state × event → next state + actions, or RST_STREAM status),
// and the stream table's id rules.
import t from 'tap';
import { Action, Lifecycle, StreamEvent as E, StreamState as S, TRANSITIONS, initialState, transition } from '../lib/session/state.js';
import { StreamTable } from '../lib/session/stream-table.js';
import { RstStatus as R } from '../lib/frames/constants.js';

const { ACCEPT, REPLIED, END_READ, FORGET } = Action;
type Row = [state: string, event: string, next: string, actions: number, rst?: number];

// Every (state, event) pair: 6 states × 6 events.
const rows: Row[] = [
  [S.OPENING, E.RECV_REPLY, S.OPEN, ACCEPT | REPLIED],
  [S.OPENING, E.RECV_DATA, S.OPENING, 0, R.PROTOCOL_ERROR],
  [S.OPENING, E.RECV_HEADERS, S.OPENING, ACCEPT],
  [S.OPENING, E.RECV_FIN, S.OPENING, 0, R.PROTOCOL_ERROR],
  [S.OPENING, E.SENT_FIN, S.OPENING_HALF_CLOSED_LOCAL, 0],
  [S.OPENING, E.RESET, S.CLOSED, FORGET],

  [S.OPENING_HALF_CLOSED_LOCAL, E.RECV_REPLY, S.HALF_CLOSED_LOCAL, ACCEPT | REPLIED],
  [S.OPENING_HALF_CLOSED_LOCAL, E.RECV_DATA, S.OPENING_HALF_CLOSED_LOCAL, 0, R.PROTOCOL_ERROR],
  [S.OPENING_HALF_CLOSED_LOCAL, E.RECV_HEADERS, S.OPENING_HALF_CLOSED_LOCAL, ACCEPT],
  [S.OPENING_HALF_CLOSED_LOCAL, E.RECV_FIN, S.OPENING_HALF_CLOSED_LOCAL, 0, R.PROTOCOL_ERROR],
  [S.OPENING_HALF_CLOSED_LOCAL, E.SENT_FIN, S.OPENING_HALF_CLOSED_LOCAL, 0],
  [S.OPENING_HALF_CLOSED_LOCAL, E.RESET, S.CLOSED, FORGET],

  [S.OPEN, E.RECV_REPLY, S.OPEN, 0, R.STREAM_IN_USE],
  [S.OPEN, E.RECV_DATA, S.OPEN, ACCEPT],
  [S.OPEN, E.RECV_HEADERS, S.OPEN, ACCEPT],
  [S.OPEN, E.RECV_FIN, S.HALF_CLOSED_REMOTE, END_READ],
  [S.OPEN, E.SENT_FIN, S.HALF_CLOSED_LOCAL, 0],
  [S.OPEN, E.RESET, S.CLOSED, FORGET],

  [S.HALF_CLOSED_LOCAL, E.RECV_REPLY, S.HALF_CLOSED_LOCAL, 0, R.STREAM_IN_USE],
  [S.HALF_CLOSED_LOCAL, E.RECV_DATA, S.HALF_CLOSED_LOCAL, ACCEPT],
  [S.HALF_CLOSED_LOCAL, E.RECV_HEADERS, S.HALF_CLOSED_LOCAL, ACCEPT],
  [S.HALF_CLOSED_LOCAL, E.RECV_FIN, S.CLOSED, END_READ | FORGET],
  [S.HALF_CLOSED_LOCAL, E.SENT_FIN, S.HALF_CLOSED_LOCAL, 0],
  [S.HALF_CLOSED_LOCAL, E.RESET, S.CLOSED, FORGET],

  [S.HALF_CLOSED_REMOTE, E.RECV_REPLY, S.HALF_CLOSED_REMOTE, 0, R.STREAM_IN_USE],
  [S.HALF_CLOSED_REMOTE, E.RECV_DATA, S.HALF_CLOSED_REMOTE, 0, R.STREAM_ALREADY_CLOSED],
  [S.HALF_CLOSED_REMOTE, E.RECV_HEADERS, S.HALF_CLOSED_REMOTE, 0, R.STREAM_ALREADY_CLOSED],
  [S.HALF_CLOSED_REMOTE, E.RECV_FIN, S.HALF_CLOSED_REMOTE, 0, R.STREAM_ALREADY_CLOSED],
  [S.HALF_CLOSED_REMOTE, E.SENT_FIN, S.CLOSED, FORGET],
  [S.HALF_CLOSED_REMOTE, E.RESET, S.CLOSED, FORGET],

  [S.CLOSED, E.RECV_REPLY, S.CLOSED, 0],
  [S.CLOSED, E.RECV_DATA, S.CLOSED, 0],
  [S.CLOSED, E.RECV_HEADERS, S.CLOSED, 0],
  [S.CLOSED, E.RECV_FIN, S.CLOSED, 0],
  [S.CLOSED, E.SENT_FIN, S.CLOSED, 0],
  [S.CLOSED, E.RESET, S.CLOSED, 0],
];

t.test('every row of the transition table', async (t) => {
  t.equal(rows.length, Object.keys(S).length * Object.keys(E).length, 'the rows cover every state × event');
  for (const [state, event, next, actions, rst] of rows) {
    const row = transition(state as never, event as never);
    const name = `${state} × ${event}`;
    t.equal(row.state, next, `${name} → ${next}`);
    t.equal(row.actions, actions, `${name}: actions ${actions}`);
    t.equal(row.rst, rst, `${name}: ${rst === undefined ? 'no RST_STREAM' : `RST_STREAM ${rst}`}`);
    const lc = new Lifecycle(state as never);
    lc.apply(event as never);
    t.equal(lc.state, rst === undefined ? next : state, `${name}: Lifecycle ${rst === undefined ? 'moves' : 'stays'}`);
  }
  t.equal(Object.keys(TRANSITIONS).length, Object.keys(S).length);
});

t.test('initial states', async (t) => {
  t.equal(initialState(true, false), S.OPENING, 'we sent SYN_STREAM: wait for SYN_REPLY');
  t.equal(initialState(true, true), S.HALF_CLOSED_REMOTE, 'unidirectional, ours: no SYN_REPLY, the peer never sends');
  t.equal(initialState(false, false), S.OPEN);
  t.equal(initialState(false, true), S.HALF_CLOSED_LOCAL, 'unidirectional, theirs: we never send (§2.6.1)');
});

t.test('whole lifecycles', async (t) => {
  const lc = new Lifecycle(S.OPENING);
  for (const e of [E.RECV_REPLY, E.RECV_DATA, E.SENT_FIN, E.RECV_DATA, E.RECV_FIN]) lc.apply(e);
  t.equal(lc.state, S.CLOSED, 'request/response');
  const lc2 = new Lifecycle(S.OPEN);
  lc2.apply(E.RECV_FIN);
  t.equal(lc2.apply(E.RECV_DATA).rst, R.STREAM_ALREADY_CLOSED, 'DATA after the peer FIN (§2.3.6)');
  t.equal(lc2.apply(E.SENT_FIN).actions, FORGET);
  t.equal(lc2.state, S.CLOSED);
});

t.test('stream table: ids, parity, counts, closed derived from id order', async (t) => {
  const server = new StreamTable<{ id: number; local: boolean }>('server');
  t.equal(server.takeLocalId(), 2);
  t.equal(server.takeLocalId(), 4);
  t.ok(server.isPeerId(1) && !server.isPeerId(2), 'client ids are odd');
  t.equal(server.status(2), 'closed', 'an id we assigned and that is not live is closed');
  t.equal(server.status(6), 'idle', 'above our next id: never opened');
  const s1 = { id: 1, local: false };
  server.notePeerId(1);
  server.add(s1);
  server.add({ id: 4, local: true });
  t.equal(server.status(1), 'live');
  t.equal(server.peerCount, 1);
  t.equal(server.localCount, 1);
  t.equal(server.lastAcceptedPeerId, 1);
  server.notePeerId(5); // refused: seen, not accepted
  t.equal(server.status(3), 'closed', 'skipped peer ids below the highest seen are closed');
  t.equal(server.status(7), 'idle');
  t.equal(server.lastAcceptedPeerId, 1, 'a refused stream is not last-good');
  t.ok(server.remove(s1));
  t.notOk(server.remove(s1), 'removing twice is a no-op');
  t.equal(server.status(1), 'closed');
  t.equal(server.peerCount, 0);
  const client = new StreamTable<{ id: number; local: boolean }>('client');
  t.equal(client.takeLocalId(), 1);
  t.ok(client.isPeerId(2));
});
