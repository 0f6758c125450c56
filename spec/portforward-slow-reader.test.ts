// Issue 6, rows 1 and 2, against kube-spdy's fake API server (flow control: one connection, per-stream
// windows) and against the Go spdystream kubelet-style server (no flow control: the pool keeps the slow
// and the stalled download on connections of their own). Scaled down from the issue (a 512 MiB download
// read at 4 MiB/s and one request per second for 30 s): the same rate, one request every 250 ms for 4 s.
import t from 'tap';
import { SERVER_KINDS, SERVER_NAMES, startServer, startPod, forward, get, Download, sleep, summary } from './portforward-servers.js';

const RATE = 4 * 1024 * 1024;
const WINDOW_MS = 4000;
const EVERY_MS = 250;
/** A request through a forward normally takes a few ms; kubectl's failing ones take ~3 s or time out. */
const REQUEST_BOUND_MS = 1000;

/** One request every EVERY_MS for WINDOW_MS, each on a new TCP connection; latencies, failures. */
async function requestsDuring(local: number): Promise<{ ok: number; total: number; ms: number[]; failures: string[] }> {
  const runs: Promise<void>[] = [];
  const ms: number[] = [];
  const failures: string[] = [];
  let ok = 0;
  const n = WINDOW_MS / EVERY_MS;
  for (let i = 0; i < n; i++) {
    runs.push(
      get(local, `/r/${i}`, 5000).then(
        (r) => {
          if (r.body === `hello /r/${i}\n` && r.ms < REQUEST_BOUND_MS) ok++;
          else failures.push(`request ${i}: ${r.status} in ${r.ms.toFixed(0)} ms`);
          ms.push(r.ms);
        },
        (err: Error) => void failures.push(`request ${i}: ${err.message}`),
      ),
    );
    await sleep(EVERY_MS);
  }
  await Promise.all(runs);
  return { ok, total: n, ms, failures };
}

/**
 * Without flow control the pool can only keep new pairs off a connection once it is congested (a stream
 * over its buffer bound, the socket paused); a pair placed there a moment before is held with it — the
 * limit of a peer without windows, noted in the README. The scenario is "a download is already slow or
 * stalled, then requests come": wait until `n` connections are congested (bounded), not a fixed time
 * that a loaded machine may not reach. With flow control nothing congests: wait the fixed time only.
 */
async function settled(kind: string, pf: { stats(): { connections: { congested: boolean }[] } }, n: number): Promise<void> {
  await sleep(500);
  if (kind === 'fake') return;
  const until = performance.now() + 10_000;
  while (pf.stats().connections.filter((c) => c.congested).length < n && performance.now() < until) await sleep(50);
}

for (const kind of SERVER_KINDS) {
  t.test(`${SERVER_NAMES[kind]}: a download read at 4 MiB/s does not hold back new requests`, async (t) => {
    const server = await startServer(t, kind);
    const podPort = await startPod(t);
    const { pf, local } = await forward(t, server.url, podPort);
    const slow = new Download(local, 256 * 1024 * 1024, RATE);
    t.teardown(() => slow.close());
    await settled(kind, pf, 1); // flowing, and (without flow control) its connection congested
    const since = performance.now();
    const at = slow.received;
    const r = await requestsDuring(local);
    const rate = slow.rateSince(since, at);
    const { median, max } = summary(r.ms);
    t.equal(r.ok, r.total, `${r.ok} of ${r.total} requests answered, each under ${REQUEST_BOUND_MS} ms (median ${median.toFixed(1)} ms, max ${max.toFixed(1)} ms)${r.failures.length ? `: ${r.failures.join('; ')}` : ''}`);
    t.ok(rate >= 0.75 * RATE, `the download kept its rate: ${(rate / 1048576).toFixed(2)} MiB/s (reader at 4 MiB/s)`);
    t.notOk(slow.corrupt, 'the download is byte-exact so far');
    t.equal(slow.error, null, 'the download was not cut');
    const st = pf.stats();
    t.comment(`${kind}: connections ${st.connections.length}, dials ${st.dials}, congested dials ${st.congestedDials}, flow control ${st.connections.map((c) => c.flowControl).join('/')}`);
    if (kind === 'fake') t.equal(st.dials, 1, 'flow control: one connection is enough');
    else t.ok(st.dials >= 2, `no flow control: the slow download got a connection of its own (${st.dials} dialed)`);
    t.equal(st.disconnects, 0, 'no connection was lost or declared dead');
  });

  t.test(`${SERVER_NAMES[kind]}: plus a download that is not read at all; it resumes byte-exact`, async (t) => {
    const server = await startServer(t, kind);
    const podPort = await startPod(t);
    const { pf, local } = await forward(t, server.url, podPort);
    const slow = new Download(local, 256 * 1024 * 1024, RATE);
    t.teardown(() => slow.close());
    await settled(kind, pf, 1);
    const stalledSize = 24 * 1024 * 1024;
    const stalled = new Download(local, stalledSize, 0);
    t.teardown(() => stalled.close());
    await settled(kind, pf, 2); // the stalled one fills every buffer it can
    const since = performance.now();
    const at = slow.received;
    const r = await requestsDuring(local);
    const rate = slow.rateSince(since, at);
    const { median, max } = summary(r.ms);
    t.equal(r.ok, r.total, `${r.ok} of ${r.total} requests answered, each under ${REQUEST_BOUND_MS} ms (median ${median.toFixed(1)} ms, max ${max.toFixed(1)} ms)${r.failures.length ? `: ${r.failures.join('; ')}` : ''}`);
    t.ok(rate >= 0.75 * RATE, `the reading download kept its rate: ${(rate / 1048576).toFixed(2)} MiB/s`);
    const held = stalled.received;
    t.ok(held < stalledSize, `the stalled download holds (${held} bytes read of ${stalledSize})`);
    const st = pf.stats();
    t.equal(st.disconnects, 0, 'no connection was declared dead for a slow or stalled reader');
    t.comment(`${kind}: connections ${st.connections.length}, dials ${st.dials}, congested dials ${st.congestedDials}`);
    // Its reader reads again: everything arrives, byte-exact.
    stalled.setRate(Infinity);
    await stalled.done;
    t.equal(stalled.received, stalledSize, 'the stalled download resumed and completed');
    t.notOk(stalled.corrupt, 'byte-exact');
    t.ok(stalled.ended && stalled.error === null, 'ended cleanly');
    t.notOk(slow.corrupt, 'the slow download is byte-exact too');
  });
}
