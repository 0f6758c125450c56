// Property test (fast-check) of the stream transition table (lib/session/state.ts), against a model of
// what SPDY/3.1 §2.3 says a stream is: two half-close flags, a reset flag and a replied flag. Arbitrary
// event sequences from every initial state never reach an undefined state, never let a side that sent
// FIN or RST_STREAM write again, end the readable side and resolve the SYN_REPLY at most once, and take
// the stream out of the table exactly once, when it closes.
import t from 'tap';
import fc from 'fast-check';
import { StreamState, StreamEvent, Action, TRANSITIONS, Lifecycle, initialState, type StreamStateValue, type StreamEventValue } from '../lib/session/state.js';
import { fcOptions } from './property-helpers.js';

const STATES = Object.values(StreamState) as StreamStateValue[];
const EVENTS = Object.values(StreamEvent) as StreamEventValue[];
/** States in which our side may still send DATA / HEADERS. */
const LOCAL_OPEN = new Set<StreamStateValue>([StreamState.OPENING, StreamState.OPEN, StreamState.HALF_CLOSED_REMOTE]);

t.test('every (state, event) row is defined and leads to a known state', async (t) => {
  for (const s of STATES) {
    for (const e of EVENTS) {
      const row = TRANSITIONS[s][e];
      t.ok(row && STATES.includes(row.state), `${s} × ${e} → ${row?.state}`);
      if (row.rst !== undefined) t.equal(row.state, s, `${s} × ${e}: a stream error leaves the state as it was`);
    }
  }
});

t.test('arbitrary event sequences agree with the model of §2.3', async (t) => {
  let runs = 0;
  fc.assert(
    fc.property(fc.boolean(), fc.boolean(), fc.array(fc.constantFrom(...EVENTS), { maxLength: 30 }), (local, unidirectional, events) => {
      runs++;
      const life = new Lifecycle(initialState(local, unidirectional));
      // The model.
      let localFin = local && unidirectional ? false : !local && unidirectional; // the recipient of a unidirectional stream may not send
      let remoteFin = local && unidirectional; // the creator of a unidirectional stream receives nothing
      let replied = !local || unidirectional;
      let reset = false;
      let ended = remoteFin ? 1 : 0;
      let repliedActions = 0;
      let forgets = 0;
      for (const e of events) {
        const before = life.state;
        const row = life.apply(e);
        const after = life.state;
        if (!STATES.includes(after)) return false;
        if (before === StreamState.CLOSED && after !== StreamState.CLOSED) return false; // CLOSED is absorbing
        if (row.actions & Action.FORGET) forgets++;
        if (row.actions & Action.END_READ) ended++;
        if (row.actions & Action.REPLIED) repliedActions++;
        if (row.rst !== undefined) continue; // a stream error: the caller resets (a RESET event follows)
        if (before === StreamState.CLOSED) continue; // ignored
        if (e === StreamEvent.RESET) reset = true;
        else if (e === StreamEvent.SENT_FIN) localFin = true;
        else if (e === StreamEvent.RECV_FIN) remoteFin = true;
        else if (e === StreamEvent.RECV_REPLY) replied = true;
        // Our side never reopens for writing after FIN or RST_STREAM.
        if ((localFin || reset) && LOCAL_OPEN.has(after)) return false;
        // Closed exactly when reset or both sides sent FIN.
        if ((after === StreamState.CLOSED) !== (reset || (localFin && remoteFin))) return false;
      }
      // Taken out of the table once, and only when closed; readable ended at most once; replied at most once.
      if (life.state === StreamState.CLOSED && forgets !== 1) return false;
      if (life.state !== StreamState.CLOSED && forgets !== 0) return false;
      if (ended > 1 || repliedActions > 1) return false;
      if (repliedActions === 1 && !local) return false;
      return replied || life.state === StreamState.OPENING || life.state === StreamState.OPENING_HALF_CLOSED_LOCAL || life.state === StreamState.CLOSED;
    }),
    fcOptions(2000),
  );
  t.ok(runs >= 2000, `${runs} sequences`);
});
