// Issue 6, row 3 and item 6, against kube-spdy's fake API server and the Go spdystream kubelet-style
// server: a silently dropped connection is healed within 2 s (on-demand probe, PortForwarder defaults);
// an API server restarted on the same address is used within 2 s of listening again; after GOAWAY new
// pairs go to a new connection, the old one finishes its streams and closes; a connection reset
// mid-transfer, or a data stream the server resets (RST_STREAM CANCEL), resets (never ends) the local
// socket; the local client is a Go program so it sees the TCP end as the kernel reports it.
import t from 'tap';
import {
  SERVER_KINDS,
  SERVER_NAMES,
  startServer,
  startPod,
  forward,
  get,
  Download,
  GoDownload,
  blackholeProxy,
  sleep,
} from './portforward-servers.js';

/** Time to the first successful request, asking every `every` ms (each request on its own). */
async function firstSuccess(local: number, every: number, limitMs: number): Promise<{ ms: number; failures: number }> {
  const start = performance.now();
  let failures = 0;
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setInterval(fire, every);
    const limit = setTimeout(() => {
      clearInterval(timer);
      if (!done) reject(new Error(`no request succeeded within ${limitMs} ms (${failures} failed)`));
    }, limitMs);
    function fire(): void {
      get(local, '/after', limitMs).then(
        (r) => {
          if (done) return;
          if (r.body === 'hello /after\n') {
            done = true;
            clearInterval(timer);
            clearTimeout(limit);
            resolve({ ms: performance.now() - start, failures });
          } else failures++;
        },
        () => failures++,
      );
    }
    fire();
  });
}

for (const kind of SERVER_KINDS) {
  t.test(`${SERVER_NAMES[kind]}: a silently dropped connection is healed within 2 s`, async (t) => {
    const server = await startServer(t, kind);
    const podPort = await startPod(t);
    const proxy = await blackholeProxy(t, server.port);
    // PortForwarder defaults (no keep-alive pings): detection is on demand.
    const { pf, local, dials } = await forward(t, `http://127.0.0.1:${proxy.port}`, podPort);
    t.equal((await get(local, '/before')).body, 'hello /before\n');
    await sleep(100); // an RTT measured, the connection idle
    proxy.blackhole();
    const start = performance.now();
    const r = await get(local, '/after', 5000);
    const ms = performance.now() - start;
    t.equal(r.body, 'hello /after\n', 'the first request after the drop succeeds');
    t.ok(ms <= 2000, `within ${ms.toFixed(0)} ms (must be ≤ 2 s)`);
    const st = pf.stats();
    t.equal(st.probedDead, 1, 'the probe presumed the silent connection dead');
    t.equal(dials(), 2, 'and a replacement was dialed');
    t.equal(st.failed, 0, 'no forwarded connection failed');
    t.comment(`${kind}: first request after a silent drop ${ms.toFixed(0)} ms`);
  });

  t.test(`${SERVER_NAMES[kind]}: the periodic ping catches a dropped idle connection`, async (t) => {
    const server = await startServer(t, kind);
    const podPort = await startPod(t);
    const proxy = await blackholeProxy(t, server.port);
    const { pf, local } = await forward(t, `http://127.0.0.1:${proxy.port}`, podPort, { session: { pingInterval: 100, pingTimeout: 200 } });
    t.equal((await get(local, '/before')).body, 'hello /before\n');
    const lost = new Promise<Error | undefined>((r) => pf.once('disconnect', (err) => r(err)));
    const reconnecting = new Promise((r) => pf.once('reconnecting', r));
    const start = performance.now();
    proxy.blackhole();
    const err = await lost;
    const ms = performance.now() - start;
    t.equal((err as { code?: string } | undefined)?.code, 'ERR_SPDY_LIVENESS', 'declared dead by the ping timeout');
    t.ok(ms < 2500, `after ${ms.toFixed(0)} ms (interval 100 + timeout 200, plus slack)`);
    await reconnecting;
    const recovered = new Promise<number>((r) => pf.once('recovered', r));
    t.equal((await get(local, '/after')).body, 'hello /after\n', 'the next local connection works on a new connection');
    t.ok((await recovered) >= 0, "'recovered' reported");
    t.equal(pf.stats().reconnects, 1);
  });

  t.test(`${SERVER_NAMES[kind]}: restarted on the same address, used within 2 s of listening again`, async (t) => {
    const server = await startServer(t, kind);
    const podPort = await startPod(t);
    const { pf, local } = await forward(t, server.url, podPort);
    t.equal((await get(local, '/before')).body, 'hello /before\n');
    const lost = new Promise((r) => pf.once('reconnecting', r));
    // A request made while the server is down waits (dials retried with backoff) and succeeds after.
    let listening = 0;
    const waiting = (async () => {
      await lost;
      const r = await get(local, '/after', 10_000);
      return { r, ms: performance.now() - listening };
    })();
    await server.restart(1000);
    listening = performance.now();
    const w = await waiting;
    t.equal(w.r.body, 'hello /after\n', 'the request made while the server was down succeeded');
    t.ok(w.ms <= 2000, `${w.ms.toFixed(0)} ms after the server listened again (must be ≤ 2 s)`);
    const again = await firstSuccess(local, 100, 5000);
    t.ok(again.ms < 2000, `new requests work (${again.ms.toFixed(0)} ms)`);
    t.ok(pf.stats().dialFailures >= 1, `dials failed while it was down (${pf.stats().dialFailures})`);
    t.equal(pf.stats().failed, 0, 'no forwarded connection failed');
    t.comment(`${kind}: first request ${w.ms.toFixed(0)} ms after the restarted server listened`);
  });

  t.test(`${SERVER_NAMES[kind]}: GOAWAY: no new pairs there, its download finishes, then it closes`, async (t) => {
    const server = await startServer(t, kind);
    const podPort = await startPod(t);
    const { pf, local, dials } = await forward(t, server.url, podPort);
    const size = 16 * 1024 * 1024;
    const d = new Download(local, size, 8 * 1024 * 1024);
    t.teardown(() => d.close());
    await sleep(300);
    const first = pf.connection!;
    await server.goaway();
    await sleep(100);
    t.equal((await get(local, '/after-goaway')).body, 'hello /after-goaway\n', 'a new request works');
    t.ok(dials() >= 2, 'on a new connection');
    t.notOk(first.isClosed, 'the old connection still carries its download');
    d.setRate(Infinity);
    await d.done;
    t.equal(d.received, size, 'the download on the old connection completed');
    t.notOk(d.corrupt, 'byte-exact');
    t.ok(d.ended && d.error === null, 'ended cleanly');
    for (let i = 0; i < 50 && !first.isClosed; i++) await sleep(100);
    t.ok(first.isClosed, 'the old connection closed once its last stream ended');
    t.equal(pf.stats().failed, 0);
  });

  t.test(`${SERVER_NAMES[kind]}: a connection reset mid-transfer resets the local socket (no clean end)`, async (t) => {
    const server = await startServer(t, kind);
    const podPort = await startPod(t);
    const { pf, local } = await forward(t, server.url, podPort);
    const size = 64 * 1024 * 1024;
    // A Go client: it reports the end of its TCP connection as the kernel does (see GoDownload).
    const d = new GoDownload(local, size, 4 * 1024 * 1024);
    t.teardown(() => d.close());
    await d.flowing;
    await sleep(300);
    await server.reset();
    const r = await d.done;
    t.ok(r.received < size, `truncated at ${r.received} of ${size} bytes`);
    t.equal(r.eof, false, 'the local client never saw a clean end (FIN)');
    t.match(r.error, /connection reset by peer/, 'it saw a reset');
    t.notOk(r.corrupt, 'what arrived is byte-exact');
    t.ok((await firstSuccess(local, 100, 5000)).ms < 5000, 'new requests work afterwards');
    t.ok(pf.stats().disconnects >= 1);
  });
}

for (const kind of SERVER_KINDS) {
  t.test(`${SERVER_NAMES[kind]}: a data stream reset by the server mid-transfer (RST_STREAM CANCEL) resets the local socket`, async (t) => {
    const server = await startServer(t, kind);
    const podPort = await startPod(t);
    const { pf, local, dials } = await forward(t, server.url, podPort);
    const size = 64 * 1024 * 1024;
    const d = new GoDownload(local, size, 4 * 1024 * 1024);
    t.teardown(() => d.close());
    await d.flowing;
    await sleep(300);
    // Bytes are queued unread on our side when the CANCEL comes: the session hands them over, then ends
    // the stream without the pod's FIN. That end must reach the local client as a reset.
    await server.cancel();
    const r = await d.done;
    t.ok(r.received < size, `truncated at ${r.received} of ${size} bytes`);
    t.equal(r.eof, false, 'the local client never saw a clean end (FIN)');
    t.match(r.error, /connection reset by peer/, 'it saw a reset');
    t.notOk(r.corrupt, 'what arrived is byte-exact');
    // The reset stream blocked reading the socket (its reader was behind): it must not any longer.
    const conn = pf.stats().connections[0]!;
    t.same({ openStreams: conn.openStreams, readPaused: conn.readPaused, congested: conn.congested }, { openStreams: 0, readPaused: false, congested: false }, 'the connection reads again and is not congested');
    t.equal((await get(local, '/after')).body, 'hello /after\n', 'new requests work');
    t.equal(dials(), 1, 'on the same connection (a stream reset is not a connection loss)');
    t.equal(pf.stats().disconnects, 0);
  });
}
