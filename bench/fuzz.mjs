// Fuzzing at scale: mutated frames and mutated frame sequences between two LIVE endpoints.
//
//   node --expose-gc bench/fuzz.mjs [--inputs N] [--max-seconds T] [--rate R] [--seed S] [--mode pair|portforward|both] [--case K] [--json FILE]
//
// Each case builds a client and a server session over an in-memory link (bench/fuzz-link.mjs) that
// mutates a random share (0–40 %) of the frames both ways, then drives it:
// - `pair`: a client opening streams (random flags, headers, priorities), writing, ending, resetting,
//   pinging and closing, against a server that replies, echoes, resets, pushes its own streams or
//   leaves streams unanswered; random session options (flow control on/off, small windows, limits).
// - `portforward`: a port-forward client (error + data stream pairs with request ids, as kubectl sends
//   them) against `servePortForward` with an in-memory target that echoes, refuses, or never answers.
// An input is one frame delivered to a session (mutated or not). Reported (one JSON line at the end):
// inputs, mutated inputs, cases, crashes (an uncaught exception, an unhandled rejection, an error that is
// not a KubeSpdyError, GOAWAY/RST INTERNAL_ERROR or an undefined RST_STREAM status on the wire), hangs
// (a promise of the API not settled within its own timeout + 5 s; an event-loop stall over 2 s; a stream
// still open after its connection closed), and RSS, heap and ArrayBuffers sampled every second (peaks, a
// series every minute, and flatness as the soak measures it: the last minute's mean RSS over the second's).
// Build first (`npm run build`). Bounded: every case is bounded in frames and time.
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { Duplex } from 'node:stream';
import { Connection, servePortForward, KubeSpdyError, SessionError } from '../dist/index.js';
import { fuzzLink, prng, int, pick, mutateFrame, randomFrame } from './fuzz-link.mjs';

const { values: args } = parseArgs({
  options: {
    inputs: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: String(Date.now() % 1e9) },
    mode: { type: 'string', default: 'both' },
    case: { type: 'string' },
    json: { type: 'string' },
    quiet: { type: 'boolean', default: false },
    inflater: { type: 'string' }, // default: the library's (pako)
    'max-seconds': { type: 'string', default: '0' }, // a time bound: stop there even if fewer inputs were tried (0: none)
    rate: { type: 'string', default: '0' }, // at most this many inputs per second on average (0: as fast as it goes)
  },
});
const TOTAL = Number(args.inputs);
const MAX_MS = Number(args['max-seconds']) * 1000;
const startedAt = Date.now();
const RATE = Number(args.rate);
const more = () => stats.inputs < TOTAL && (MAX_MS === 0 || Date.now() - startedAt < MAX_MS);
/** With --rate: waits while the run is ahead of RATE inputs per second (a steady rate makes RSS comparable over time). */
async function pace() {
  while (RATE > 0 && stats.inputs > (RATE * (Date.now() - startedAt)) / 1000) await new Promise((res) => setTimeout(res, 20));
}
const SEED = Number(args.seed);
const MODES = args.mode === 'both' ? ['pair', 'portforward'] : [args.mode];
const INTERNAL = 2;
const DEFINED_RST = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 11]);

const stats = { inputs: 0, replayInputs: 0, mutated: 0, cases: 0, replayCases: 0, crashes: 0, hangs: 0, stalls: 0, starved: 0, sessionErrors: 0, rstSent: 0, goawaySent: 0, streams: 0, forwards: 0 };
const failures = [];
let currentCase = -1;
const note = (f) => {
  if (failures.length < 50) failures.push(f);
  process.stderr.write(`fuzz: FAILURE ${JSON.stringify(f).slice(0, 2000)}\n`);
};
const crash = (what, err, k = currentCase) => {
  stats.crashes++;
  note({ case: k, what, error: String(err?.stack ?? err) });
};
const hang = (what, k = currentCase) => {
  stats.hangs++;
  note({ case: k, what });
};
process.on('uncaughtException', (e) => crash('uncaughtException', e));
process.on('unhandledRejection', (e) => crash('unhandledRejection', e));

// Event-loop watchdog. A turn of the loop that takes over 2 s while this process was on the CPU for
// most of it is a hang (a loop that never yields). A late timer while the process got little CPU is
// the machine being busy (other processes): counted as `starved`, and its lag extends the deadlines of
// the API promises in flight (see tracker), so a busy machine is not mistaken for a hang.
let lastTick = Date.now();
let lastCpu = process.cpuUsage();
let lagTotal = 0;
const watchdog = setInterval(() => {
  const now = Date.now();
  const cpu = process.cpuUsage(lastCpu);
  const gap = now - lastTick;
  if (gap > 150) lagTotal += gap - 100;
  if (gap > 2000) {
    const cpuMs = (cpu.user + cpu.system) / 1000;
    if (cpuMs > gap * 0.5) {
      stats.stalls++;
      hang(`event loop blocked ${gap} ms (${Math.round(cpuMs)} ms on the CPU)`);
    } else stats.starved++;
  }
  lastTick = now;
  lastCpu = process.cpuUsage();
}, 100);

// RSS and heap every second.
const t0 = Date.now();
const series = [];
let peakRss = 0;
const sample = () => {
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  const mib = (x) => +(x / 1048576).toFixed(1);
  series.push({ s: Math.round((Date.now() - t0) / 1000), inputs: stats.inputs, rssMiB: mib(m.rss), heapMiB: mib(m.heapUsed), heapTotalMiB: mib(m.heapTotal), externalMiB: mib(m.external), arrayBuffersMiB: mib(m.arrayBuffers) });
  const x = series.at(-1);
  if (!args.quiet) process.stderr.write(`fuzz: ${x.s}s ${stats.inputs} inputs, ${stats.cases} cases, rss ${x.rssMiB} MiB, heap ${x.heapMiB}/${x.heapTotalMiB} MiB, external ${x.externalMiB} MiB, arrayBuffers ${x.arrayBuffersMiB} MiB, crashes ${stats.crashes}, hangs ${stats.hangs}\n`);
};
const sampler = setInterval(sample, 1000);
// Once a minute, memory after a full GC (`--expose-gc`): what is still live. RSS between GCs follows the
// input rate (garbage awaiting collection, and the allocator keeps its high-water mark); a leak shows here
// as live heap or ArrayBuffers growing from minute to minute.
const settled = [];
const settle = setInterval(() => {
  if (!global.gc) return;
  global.gc();
  const m = process.memoryUsage();
  const mib = (x) => +(x / 1048576).toFixed(1);
  settled.push([Math.round((Date.now() - t0) / 1000), stats.inputs, mib(m.rss), mib(m.heapUsed), mib(m.arrayBuffers)]);
}, 60000);

/** Every frame as its sender wrote it: statuses on the wire must be defined and never INTERNAL_ERROR. */
function inspect(f) {
  if (!(f[0] & 0x80) || f.length < 16) return;
  const type = f.readUInt16BE(2);
  if (type === 3) {
    stats.rstSent++;
    const st = f.readUInt32BE(12);
    if (!DEFINED_RST.has(st) || st === 6) crash('RST_STREAM status', `RST_STREAM status ${st} (${st === 6 ? 'INTERNAL_ERROR: a handler threw' : 'undefined'})`);
  } else if (type === 7) {
    stats.goawaySent++;
    const st = f.readUInt32BE(12);
    if (st === INTERNAL || st > 2) crash('GOAWAY status', `GOAWAY status ${st}`);
  }
}

/** Tracks API promises: each must settle within its own timeout + 5 s (+ the event-loop lag meanwhile). */
function tracker(k) {
  const open = new Set();
  const late = (e) => Date.now() > e.deadline + (lagTotal - e.lag);
  return {
    track(p, ms, what) {
      const entry = { what, deadline: Date.now() + ms + 5000, lag: lagTotal };
      open.add(entry);
      return p.then(
        (v) => (open.delete(entry), v),
        (e) => {
          open.delete(entry);
          if (!(e instanceof KubeSpdyError)) crash(`${what} rejected with a non-KubeSpdyError`, e, k);
          return undefined;
        },
      );
    },
    async drain() {
      while (open.size > 0) {
        const overdue = [...open].filter(late);
        if (overdue.length > 0) {
          for (const e of overdue) hang(`${e.what} never settled`, k);
          return;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

function sessionOptions(r) {
  const flowControl = r() < 0.6;
  return {
    flowControl,
    initialWindowSize: pick(r, [65536, 65536, 1024, 16384, 1 << 20]),
    maxConcurrentStreams: pick(r, [1000, 1000, 4, 50]),
    streamTimeout: 300,
    pingTimeout: 300,
    closeTimeout: 200,
    maxDataFrameSize: pick(r, [262144, 1024, 16384]),
    maxHeaderCount: pick(r, [128, 8]),
    maxPingRate: 0,
    maxSettingsRate: 0,
    maxResetRate: r() < 0.5 ? 0 : 10000,
    streamHighWaterMark: pick(r, [65536, 4096, 1 << 20]),
    ...(args.inflater ? { inflater: args.inflater } : {}),
  };
}

function watchConn(conn, streams) {
  conn.on('error', (e) => {
    if (!(e instanceof KubeSpdyError)) crash('connection error is not a KubeSpdyError', e);
    else if (e instanceof SessionError) {
      stats.sessionErrors++;
      if (e.status === INTERNAL) crash('session error INTERNAL_ERROR', e);
    }
  });
  conn.on('stream', (s) => watchStream(s, streams));
}

function watchStream(s, streams) {
  stats.streams++;
  streams.add(s);
  s.on('error', (e) => {
    if (!(e instanceof KubeSpdyError)) crash('stream error is not a KubeSpdyError', e);
  });
  s.on('close', () => streams.delete(s));
}

/**
 * A stream the session still holds after its connection was destroyed (not closed on the wire), or one
 * whose reader is flowing yet never got its end. A stream closed on the wire whose application paused
 * it (or whose pipe() stopped) keeps its unread bytes by design: Node frees it when it is read or dropped.
 */
function leftOpen(s) {
  return !s.destroyed && (s.state !== 'closed' || (s.readableFlowing === true && !s.readableEnded && s.readableLength > 0));
}

/** A stream's state, for a failure report. */
function describe(s) {
  return `stream ${s.id} (${s.local ? 'local' : 'remote'}, state ${s.state}, readableEnded ${s.readableEnded}, flowing ${s.readableFlowing}, buffered ${s.readableLength}, writableEnded ${s.writableEnded}, writableFinished ${s.writableFinished}, writable buffered ${s.writableLength}, headers ${JSON.stringify(Object.keys(s.headers ?? {}))})`;
}

/** Safely call a stream method that may legitimately throw on a closed stream (a KubeSpdyError or plain Error today). */
function attempt(fn) {
  try {
    fn();
  } catch {
    /* a stream in the wrong state: the API refuses; not a defect of the session */
  }
}

const payload = (r) => Buffer.alloc(pick(r, [0, 1, 16, 1000, 8192, 70000]), int(r, 256));

async function pairCase(r, k) {
  const streams = new Set();
  const t = tracker(k);
  const rate = r() < 0.2 ? 0 : r() * 0.4;
  const recorded = [];
  const [a, b] = fuzzLink(r, rate, stats, (f, side) => (inspect(f), side === 'a' && record(recorded, f)));
  const client = new Connection(a, { ...sessionOptions(r), role: 'client' });
  const server = new Connection(b, { ...sessionOptions(r), role: 'server' });
  watchConn(client, streams);
  watchConn(server, streams);
  server.on('stream', (s) => {
    s.resume();
    switch (int(r, 6)) {
      case 0:
        attempt(() => s.reply({ ok: '1' }));
        if (!s.unidirectional) s.pipe(s); // echo (a UNIDIRECTIONAL stream is read-only for us)
        return;
      case 1:
        attempt(() => s.reply({}, { fin: r() < 0.5 }));
        return;
      case 2:
        s.reset(pick(r, [1, 3, 5, 7]));
        return;
      case 3:
        attempt(() => s.reply({}));
        attempt(() => s.sendHeaders({ more: 'x' }, { fin: r() < 0.5 }));
        return;
      case 4:
        return; // never answered
      default:
        attempt(() => s.reply({}));
        t.track(server.createStream({ pushed: 'yes' }, { timeout: 300 }), 300, 'server createStream').then((ps) => ps && (watchStream(ps, streams), ps.resume(), ps.end(payload(r))));
    }
  });
  client.on('stream', (s) => {
    s.resume();
    attempt(() => s.reply({}));
  });
  const mine = [];
  const ops = 1 + int(r, 300);
  for (let i = 0; i < ops && !client.isClosed; i++) {
    const live = mine.filter((s) => !s.destroyed);
    switch (int(r, 8)) {
      case 0:
      case 1: {
        const headers = { streamtype: 'data', n: String(i) };
        if (r() < 0.1) headers['x-big'] = 'v'.repeat(int(r, 4000));
        const opts = { timeout: 300, priority: int(r, 8), fin: r() < 0.1, unidirectional: r() < 0.05 };
        t.track(client.createStream(headers, opts), 300, 'createStream').then((s) => s && (watchStream(s, streams), s.resume(), mine.push(s)));
        break;
      }
      case 2:
      case 3:
        if (live.length) {
          const s = pick(r, live);
          if (!s.writableEnded) s.write(payload(r));
        }
        break;
      case 4:
        if (live.length) {
          const s = pick(r, live);
          if (!s.writableEnded) s.end();
        }
        break;
      case 5:
        if (live.length) pick(r, live).reset(pick(r, [5, 1, 3]));
        break;
      case 6:
        t.track((r() < 0.5 ? client : server).ping({ timeout: 300 }), 300, 'ping');
        break;
      default:
        await new Promise((res) => setImmediate(res));
    }
    if (i % 10 === 9) await new Promise((res) => setImmediate(res));
  }
  if (r() < 0.3) t.track(client.close({ timeout: 200 }).then(() => undefined), 200, 'close');
  await t.drain();
  client.destroy();
  server.destroy();
  await new Promise((res) => setImmediate(res));
  await new Promise((res) => setImmediate(res));
  remember('pair', recorded);
  for (const s of streams) if (leftOpen(s)) hang(`${describe(s)} still open after its connection was destroyed`, k);
}

/** A target "pod port": echoes, or answers nothing, as a duplex. */
function target(r, signal) {
  const mode = int(r, 4);
  if (mode === 0) return Promise.reject(new Error('dial tcp4 127.0.0.1:1: connect: connection refused'));
  if (mode === 1) {
    // Never connects until the server gives up (its signal).
    return new Promise((_res, rej) => signal.addEventListener('abort', () => rej(new Error('aborted')), { once: true }));
  }
  const d = new Duplex({
    allowHalfOpen: true,
    read() {},
    write(chunk, _e, cb) {
      if (mode === 2) this.push(chunk);
      cb();
    },
    final(cb) {
      this.push(null);
      cb();
    },
  });
  return Promise.resolve(d);
}

async function portForwardCase(r, k) {
  const streams = new Set();
  const t = tracker(k);
  const rate = r() < 0.2 ? 0 : r() * 0.4;
  const recorded = [];
  const [a, b] = fuzzLink(r, rate, stats, (f, side) => (inspect(f), side === 'a' && record(recorded, f)));
  const client = new Connection(a, { ...sessionOptions(r), flowControl: false, role: 'client' });
  const server = new Connection(b, { ...sessionOptions(r), flowControl: false, role: 'server' });
  watchConn(client, streams);
  watchConn(server, streams);
  const stop = servePortForward(server, { target: 'fuzz/pod', streamCreationTimeout: pick(r, [100, 300]), dial: (_port, signal) => target(r, signal) });
  const requests = 1 + int(r, 40);
  const jobs = [];
  for (let i = 0; i < requests && !client.isClosed; i++) {
    stats.forwards++;
    const port = String(pick(r, [80, 8080, 0, 65536, 443]));
    const rid = String(r() < 0.9 ? i : int(r, 3));
    const job = (async () => {
      const errS = r() < 0.95 ? await t.track(client.createStream({ streamtype: 'error', port, requestid: rid }, { timeout: 300 }), 300, 'createStream error') : null;
      if (errS) (watchStream(errS, streams), errS.resume(), r() < 0.9 && errS.end());
      const dataS = r() < 0.95 ? await t.track(client.createStream({ streamtype: r() < 0.95 ? 'data' : 'bogus', port, requestid: rid }, { timeout: 300 }), 300, 'createStream data') : null;
      if (!dataS) return;
      watchStream(dataS, streams);
      dataS.resume();
      for (let k = int(r, 4); k > 0 && !dataS.writableEnded && !dataS.destroyed; k--) dataS.write(payload(r));
      if (r() < 0.2) dataS.reset();
      else if (!dataS.destroyed) dataS.end();
    })();
    if (r() < 0.2) await job;
    else jobs.push(job);
  }
  await Promise.all(jobs);
  await t.drain();
  stop();
  client.destroy();
  server.destroy();
  await new Promise((res) => setImmediate(res));
  await new Promise((res) => setImmediate(res));
  remember('portforward', recorded);
  for (const s of streams) if (leftOpen(s)) hang(`${describe(s)} still open after its connection was destroyed`, k);
}


// ---- The replay lane: recorded client→server frame sequences of live cases (real, stateful: one zlib
// context, increasing stream ids), mutated as sequences and frame by frame, fed synchronously in random
// splits to a fresh server session (with servePortForward for port-forward recordings). No timers are
// waited for, so most inputs go through here; the live lanes keep the corpus fresh.
const corpus = { pair: [], portforward: [] };
/** Keeps at most 2000 frames and 512 KiB per recording (64 recordings per kind: the corpus stays under 64 MiB). */
function record(rec, f) {
  rec.bytes = (rec.bytes ?? 0) + f.length;
  if (rec.length < 2000 && rec.bytes <= 512 * 1024) rec.push(Buffer.from(f));
}
function remember(kind, frames) {
  if (frames.length === 0) return;
  const c = corpus[kind];
  if (c.length < 64) c.push(frames);
  else c[Math.floor(Math.random() * c.length)] = frames;
}

class SinkSocket extends Duplex {
  constructor() {
    super({ allowHalfOpen: true });
  }
  _read() {}
  _write(chunk, _e, cb) {
    if (chunk.length >= 16 && chunk[0] & 0x80) inspectChunk(chunk);
    cb();
  }
}

/** Frames in a chunk the server wrote (it writes whole frames, sometimes several per chunk). */
function inspectChunk(c) {
  for (let at = 0; at + 8 <= c.length; ) {
    const len = c.readUIntBE(at + 5, 3);
    if (at + 8 + len > c.length) return;
    inspect(c.subarray(at, at + 8 + len));
    at += 8 + len;
  }
}

async function replayCase(r, k) {
  const kind = r() < 0.5 ? 'pair' : 'portforward';
  const pool = corpus[kind].length ? corpus[kind] : corpus.pair.length ? corpus.pair : corpus.portforward;
  if (pool.length === 0) return;
  const source = pick(r, pool);
  const rate = r() < 0.1 ? 0 : r() * 0.1;
  const frames = [];
  for (let i = 0; i < source.length; i++) {
    const f = source[i];
    if (r() >= rate) {
      frames.push(f);
      continue;
    }
    stats.mutated++;
    switch (int(r, 6)) {
      case 0:
        break; // dropped
      case 1:
        frames.push(f, f);
        break;
      case 2:
        if (i + 1 < source.length) frames.push(source[++i], f);
        else frames.push(f);
        break;
      case 3:
        frames.push(randomFrame(r), f);
        break;
      default:
        frames.push(mutateFrame(r, f));
    }
  }
  const sock = new SinkSocket();
  const server = new Connection(sock, { ...sessionOptions(r), flowControl: kind === 'pair' ? r() < 0.5 : false, role: 'server' });
  const streams = new Set();
  watchConn(server, streams);
  let stop = null;
  if (kind === 'portforward') stop = servePortForward(server, { target: 'fuzz/pod', streamCreationTimeout: 100, dial: (_p, signal) => target(r, signal) });
  else
    server.on('stream', (st) => {
      st.resume();
      if (r() < 0.7) attempt(() => st.reply({}));
      else st.reset(5);
      if (r() < 0.5 && !st.unidirectional) st.pipe(st);
    });
  for (let i = 0; i < frames.length && !server.isClosed; i++) {
    const f = frames[i];
    stats.inputs++;
    stats.replayInputs++;
    const cut = int(r, f.length + 1);
    if (cut > 0) sock.push(f.subarray(0, cut));
    if (cut < f.length) sock.push(f.subarray(cut));
    if (i % 64 === 63) await new Promise((res) => setImmediate(res));
  }
  await new Promise((res) => setImmediate(res));
  stop?.();
  server.destroy();
  await new Promise((res) => setImmediate(res));
  for (const st of streams) if (leftOpen(st)) hang(`replay (${kind}): ${describe(st)} still open after its connection was destroyed`, k);
}

const start = Date.now();
if (args.case !== undefined) {
  // Replay one case.
  currentCase = Number(args.case);
  const r = prng(SEED + currentCase);
  await (MODES[currentCase % MODES.length] === 'pair' ? pairCase(r, currentCase) : portForwardCase(r, currentCase));
  stats.cases = 1;
} else {
  // Live cases in flight at once (each waits on timers part of the time) and replay workers.
  const LIVE = Number(process.env.FUZZ_LIVE ?? 6);
  const REPLAY = Number(process.env.FUZZ_REPLAY ?? 8);
  let next = 0;
  const live = async () => {
    while (more()) {
      await pace();
      const k = next++;
      currentCase = k;
      const r = prng(SEED + k);
      await (MODES[k % MODES.length] === 'pair' ? pairCase(r, k) : portForwardCase(r, k));
      stats.cases++;
      if (stats.cases % 2000 === 0) global.gc?.();
    }
  };
  const replay = async () => {
    while (more()) {
      await pace();
      const k = next++;
      const before = stats.replayInputs;
      await replayCase(prng(SEED + k), k);
      stats.replayCases++;
      stats.cases++;
      if (stats.replayInputs === before) await new Promise((res) => setTimeout(res, 10)); // no corpus yet
    }
  };
  await Promise.all([...Array.from({ length: LIVE }, live), ...Array.from({ length: REPLAY }, replay)]);
}
clearInterval(sampler);
clearInterval(settle);
clearInterval(watchdog);
global.gc?.();
await new Promise((res) => setTimeout(res, 200));
sample();
const seconds = (Date.now() - start) / 1000;
const rss = series.map((x) => x.rssMiB);
const tenth = Math.max(1, Math.floor(rss.length / 10));
const mean = (xs) => (xs.length ? +(xs.reduce((x, y) => x + y, 0) / xs.length).toFixed(1) : null);
// Flat, as the soak measures it: the last minute's mean RSS within 10 % of the second minute's.
const secondMinute = mean(series.filter((x) => x.s >= 60 && x.s < 120).map((x) => x.rssMiB));
const lastMinute = mean(series.filter((x) => x.s > series.at(-1).s - 60).map((x) => x.rssMiB));
const report = {
  node: process.version,
  seed: SEED,
  modes: MODES,
  ...stats,
  seconds: +seconds.toFixed(1),
  inputsPerSecond: Math.round(stats.inputs / seconds),
  peakRssMiB: +(peakRss / 1048576).toFixed(1),
  rssFirstTenthMeanMiB: +(rss.slice(0, tenth).reduce((x, y) => x + y, 0) / tenth).toFixed(1),
  rssLastTenthMeanMiB: +(rss.slice(-tenth).reduce((x, y) => x + y, 0) / tenth).toFixed(1),
  rssSecondMinuteMeanMiB: secondMinute,
  rssLastMinuteMeanMiB: lastMinute,
  rssLastOverSecondMinute: secondMinute && lastMinute ? +(lastMinute / secondMinute).toFixed(3) : null,
  peakArrayBuffersMiB: Math.max(...series.map((x) => x.arrayBuffersMiB)),
  peakHeapUsedMiB: Math.max(...series.map((x) => x.heapMiB)),
  timeBounded: stats.inputs < TOTAL,
  // Every 60 s after a full GC: seconds, inputs, RSS, heapUsed, arrayBuffers (MiB).
  settledSeries: settled,
  // Every 60 s: seconds, inputs, RSS, heapUsed, arrayBuffers (MiB).
  rssSeries: series.filter((x, i) => i === 0 || i === series.length - 1 || Math.floor(x.s / 60) > Math.floor(series[i - 1].s / 60)).map((x) => [x.s, x.inputs, x.rssMiB, x.heapMiB, x.arrayBuffersMiB]),
  failures,
};
if (args.json) writeFileSync(args.json, JSON.stringify({ ...report, series }, null, 1));
console.log(JSON.stringify(report));
process.exit(stats.crashes + stats.hangs > 0 ? 1 : 0);
