// servePortForward's policy hooks and bounds (issue 10): allowed ports, the authorization hook, the dial
// timeout, the per-connection and per-server bounds on streams waiting for their partner and on forwards
// open, and one abort signal per dial (a listener per forward on one long-lived signal leaked).
import t, { type Test } from 'tap';
import net from 'node:net';
import { Duplex, PassThrough } from 'node:stream';
import { Connection } from '../lib/session/connection.js';
import { servePortForward, type PortForwardServerOptions } from '../lib/portforward/server.js';
import { PortForwardBudget } from '../lib/portforward/server-policy.js';
import { InvalidArgumentError, KubeSpdyError, StreamResetError } from '../lib/errors.js';
import { RstStatus } from '../lib/frames/constants.js';
import { socketPair, readAll } from './helpers.js';

async function serve(t: Test, options: PortForwardServerOptions) {
  const [a, b] = await socketPair();
  const server = new Connection(a, { role: 'server', flowControl: false });
  const stop = servePortForward(server, options);
  const client = new Connection(b, { role: 'client', flowControl: false });
  t.teardown(() => {
    client.destroy();
    server.destroy();
  });
  return { client, server, stop };
}

/** Opens one request (error + data streams) and returns the error stream's text once it ends. */
async function request(client: Connection, port: number, requestid: string, send = ''): Promise<{ error: string; data: Buffer }> {
  const h = { port: String(port), requestid };
  const [e, d] = await Promise.all([client.createStream({ ...h, streamtype: 'error' }), client.createStream({ ...h, streamtype: 'data' })]);
  e.end();
  d.end(send);
  const [error, data] = await Promise.all([readAll(e), readAll(d)]);
  return { error: error.toString(), data };
}

/** A target that echoes. */
function echo(): Duplex {
  return new PassThrough();
}

t.test('allowedPorts: a list; another port is refused with text and never dialed', async (t) => {
  const dialed: number[] = [];
  const { client } = await serve(t, { target: 'ns/p', allowedPorts: [8080], dial: async (port) => (dialed.push(port), echo()) });
  const ok = await request(client, 8080, '1', 'ping');
  t.equal(ok.error, '');
  t.equal(ok.data.toString(), 'ping', 'an allowed port is forwarded');
  const no = await request(client, 22, '2', 'x');
  t.equal(no.error, 'error forwarding port 22 to pod ns/p: port 22 is not allowed');
  t.equal(no.data.length, 0);
  t.same(dialed, [8080], 'port 22 was never dialed');
});

t.test('allowedPorts: a predicate; invalid policies are rejected', async (t) => {
  const { client } = await serve(t, { allowedPorts: (p) => p >= 9000, dial: async () => echo() });
  t.equal((await request(client, 9001, '1')).error, '');
  t.match((await request(client, 8999, '2')).error, /port 8999 is not allowed/);
  const [a] = await socketPair();
  const c = new Connection(a, { role: 'server' });
  t.teardown(() => c.destroy());
  t.throws(() => servePortForward(c, { allowedPorts: [0], dial: async () => echo() }), InvalidArgumentError);
  t.throws(() => servePortForward(c, { allowedPorts: [70000], dial: async () => echo() }), InvalidArgumentError);
  t.throws(() => servePortForward(c, { maxForwards: 0, dial: async () => echo() }), InvalidArgumentError);
  t.throws(() => servePortForward(c, { dialTimeout: -1, dial: async () => echo() }), InvalidArgumentError);
});

t.test('authorize: called once per request with port, request id and headers; false, a reason or a throw denies', async (t) => {
  const seen: { port: number; requestId: string; streamtype: string | undefined }[] = [];
  let dials = 0;
  const { client } = await serve(t, {
    target: 'ns/p',
    authorize: async (r) => {
      seen.push({ port: r.port, requestId: r.requestId, streamtype: r.headers.streamtype });
      if (r.requestId === '2') return false;
      if (r.requestId === '3') return 'user bob may not forward port 5432';
      if (r.requestId === '4') throw new Error('policy service down');
      return true;
    },
    dial: async () => (dials++, echo()),
  });
  t.equal((await request(client, 80, '1', 'a')).data.toString(), 'a');
  t.equal((await request(client, 80, '2')).error, 'error forwarding port 80 to pod ns/p: forbidden');
  t.equal((await request(client, 5432, '3')).error, 'error forwarding port 5432 to pod ns/p: forbidden: user bob may not forward port 5432');
  t.equal((await request(client, 80, '4')).error, 'error forwarding port 80 to pod ns/p: forbidden', 'a throw denies (its message is not sent)');
  t.same(seen, [
    { port: 80, requestId: '1', streamtype: 'data' },
    { port: 80, requestId: '2', streamtype: 'data' },
    { port: 5432, requestId: '3', streamtype: 'data' },
    { port: 80, requestId: '4', streamtype: 'data' },
  ]);
  t.equal(dials, 1, 'only the authorized request was dialed');
});

t.test('dialTimeout: a dial that never answers fails the request in time and its signal is aborted', async (t) => {
  let signal: AbortSignal | undefined;
  const { client } = await serve(t, {
    target: 'ns/p',
    dialTimeout: 150,
    dial: (_p, s) => ((signal = s), new Promise<Duplex>(() => {})), // ignores its signal
  });
  const t0 = Date.now();
  const r = await request(client, 80, '1');
  const ms = Date.now() - t0;
  t.equal(r.error, 'error forwarding port 80 to pod ns/p: no connection within 150 ms');
  t.ok(ms >= 140 && ms < 5000, `failed after ${ms} ms (bound 150 ms, generous slack)`);
  t.equal(signal?.aborted, true, 'the dial signal was aborted');
});

t.test('one abort signal per dial, removed from the server once the dial is over; stop() aborts a dial in progress', async (t) => {
  const signals: AbortSignal[] = [];
  let pendingDial: AbortSignal | undefined;
  const { client, stop } = await serve(t, {
    dial: (port, s) => {
      signals.push(s);
      if (port === 1) {
        pendingDial = s;
        return new Promise<Duplex>(() => {});
      }
      return Promise.resolve(echo());
    },
  });
  for (let i = 0; i < 50; i++) await request(client, 80, String(i), 'x');
  t.equal(new Set(signals).size, 50, 'each dial got its own signal');
  t.ok(signals.every((s) => !s.aborted), 'finished dials are not aborted');
  const h = { port: '1', requestid: 'p' };
  await Promise.all([client.createStream({ ...h, streamtype: 'error' }), client.createStream({ ...h, streamtype: 'data' })]);
  while (!pendingDial) await new Promise((r) => setTimeout(r, 5));
  stop();
  t.equal(pendingDial.aborted, true, 'stop() aborted the dial in progress');
});

t.test('maxPendingPairs: requests waiting for their second stream are bounded per connection (REFUSED_STREAM past it)', async (t) => {
  const { client } = await serve(t, { maxPendingPairs: 20, streamCreationTimeout: 300, dial: async () => echo() });
  const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => client.createStream({ streamtype: 'error', port: '80', requestid: `lone-${i}` })));
  const refused = results.filter((r) => r.status === 'rejected' && (r.reason as { status?: number }).status === 3).length;
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 20, '20 lone streams wait');
  t.equal(refused, 10, 'the other 10 are refused with REFUSED_STREAM');
  for (const r of results) if (r.status === 'fulfilled') (r.value.end(), r.value.resume());
  // After the pair timeout the waiting streams are gone and new requests are served again.
  await new Promise((r) => setTimeout(r, 500));
  t.equal((await request(client, 80, 'after', 'ok')).data.toString(), 'ok');
});

t.test('maxForwards: forwards open at once are bounded per connection', async (t) => {
  const targets: Duplex[] = [];
  const { client } = await serve(t, { maxForwards: 3, dial: async () => (targets.push(echo()), targets.at(-1)!) });
  const open = [];
  for (let i = 0; i < 3; i++) {
    const h = { port: '80', requestid: String(i) };
    open.push(await Promise.all([client.createStream({ ...h, streamtype: 'error' }), client.createStream({ ...h, streamtype: 'data' })]));
  }
  while (targets.length < 3) await new Promise((r) => setTimeout(r, 5));
  const e = await client.createStream({ streamtype: 'error', port: '80', requestid: '3' }).catch((x) => x);
  t.equal(e.status, 3, 'a 4th request is refused (REFUSED_STREAM) while 3 forwards are open');
  // One forward ends: a new request is served.
  targets[0]!.destroy();
  await new Promise((r) => setTimeout(r, 50));
  t.equal((await request(client, 80, '4', 'again')).data.toString(), 'again');
  for (const [er, d] of open) (er.destroy(), d.destroy());
});

t.test('budget: a server-wide bound shared by connections', async (t) => {
  const budget = new PortForwardBudget({ maxForwards: 2, maxPendingPairs: 100 });
  const hold: Duplex[] = [];
  const dial = async (): Promise<Duplex> => (hold.push(echo()), hold.at(-1)!);
  const one = await serve(t, { budget, dial });
  const two = await serve(t, { budget, dial });
  const open = async (c: Connection, id: string) => {
    const h = { port: '80', requestid: id };
    return Promise.all([c.createStream({ ...h, streamtype: 'error' }), c.createStream({ ...h, streamtype: 'data' })]);
  };
  await open(one.client, 'a');
  await open(two.client, 'b');
  while (hold.length < 2) await new Promise((r) => setTimeout(r, 5));
  t.equal(budget.forwards, 2);
  const e = await open(one.client, 'c').catch((x) => x);
  t.equal(e.status, 3, 'the third forward on either connection is refused');
  t.equal(budget.refused, 2, 'both streams of the refused request');
  hold[0]!.destroy();
  await new Promise((r) => setTimeout(r, 50));
  t.equal(budget.forwards, 1, 'a closed forward gives its place back');
  t.throws(() => new PortForwardBudget({ maxForwards: 0 }), InvalidArgumentError);
});

t.test('a target that closes while the client still sends: both streams of the request finish on the server', async (t) => {
  const srv = net.createServer((s) => {
    s.on('error', () => {});
    s.end('bye');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => srv.close());
  const port = (srv.address() as net.AddressInfo).port;
  const { client, server } = await serve(t, { dial: (p, signal) => Promise.resolve(net.connect({ port: p, host: '127.0.0.1', signal })) });
  const h = { port: String(port), requestid: '1' };
  const [e, d] = await Promise.all([client.createStream({ ...h, streamtype: 'error' }), client.createStream({ ...h, streamtype: 'data' })]);
  e.end();
  e.resume();
  d.on('error', () => {});
  let got = '';
  d.on('data', (c: Buffer) => (got += c.toString()));
  for (let i = 0; i < 20; i++) {
    if (d.destroyed) break;
    d.write(Buffer.alloc(16384));
    await new Promise((r) => setTimeout(r, 5));
  }
  if (!d.destroyed) d.end();
  for (let i = 0; i < 100 && server.openStreams > 0; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(server.openStreams, 0, 'no stream of the request is left open on the server');
  t.ok(got === 'bye' || got === '', `the target's bytes arrived or the stream was reset (got ${JSON.stringify(got)})`);
});

t.test('a UNIDIRECTIONAL data stream (we may not send on it) is reset with PROTOCOL_ERROR, never written to (found by fuzzing: write after end)', async (t) => {
  let dials = 0;
  const { client, server } = await serve(t, { target: 'ns/p', streamCreationTimeout: 300, dial: async () => (dials++, echo()) });
  const serverErrors: Error[] = [];
  server.on('stream', (s) => s.on('error', (e: Error) => serverErrors.push(e)));
  const h = { port: '8080', requestid: '1' };
  const e = await client.createStream({ ...h, streamtype: 'error' });
  e.end();
  const d = await client.createStream({ ...h, streamtype: 'data' }, { unidirectional: true });
  const reset = new Promise<Error | null>((r) => {
    d.on('error', r);
    d.on('close', () => r(d.closeError));
  });
  d.write('ping');
  const [err, errorText] = await Promise.all([reset, readAll(e)]);
  t.ok(err instanceof StreamResetError, `the client's data stream was reset (${String(err)})`);
  t.equal((err as StreamResetError).status, RstStatus.PROTOCOL_ERROR);
  t.equal(errorText.toString(), 'timed out waiting for streams', 'its error stream waits for a data stream, then says so');
  t.equal(dials, 0, 'nothing was dialed');
  t.same(
    serverErrors.filter((x) => !(x instanceof KubeSpdyError)).map(String),
    [],
    'no stream error on the server is anything but a KubeSpdyError',
  );
});
