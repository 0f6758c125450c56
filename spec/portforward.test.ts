import t, { type Test } from 'tap';
import net from 'node:net';
import { startFakeApiServer } from '../lib/fake-apiserver/index.js';
import { startPodService, fetchVia, patternBytes } from '../lib/cli/demo.js';
import { PortForwarder } from '../lib/portforward/client.js';
import { dialPortForward, portForwardUrl, type DialPortForwardOptions } from '../lib/portforward/dial.js';
import { parsePortSpec, parseAddresses } from '../lib/portforward/ports.js';
import { servePortForward } from '../lib/portforward/server.js';
import { Connection } from '../lib/session/connection.js';
import { UpgradeError, PortForwardError, InvalidArgumentError } from '../lib/errors.js';
import { socketPair, readAll } from './helpers.js';

t.test('port specs and addresses', async (t) => {
  t.same(parsePortSpec('8080:80'), { local: 8080, remote: 80 });
  t.same(parsePortSpec(':80'), { local: 0, remote: 80 });
  t.same(parsePortSpec('5432'), { local: 5432, remote: 5432 });
  for (const bad of ['', 'x', '80:', '1:2:3', '0', '70000', '8080:0', '-1', 'a:80']) {
    t.throws(() => parsePortSpec(bad), InvalidArgumentError, `"${bad}" is rejected`);
  }
  t.same(parseAddresses(['localhost']).map((a) => a.host), ['127.0.0.1', '::1']);
  t.same(parseAddresses(['127.0.0.1,localhost']).map((a) => a.host), ['127.0.0.1', '::1']);
  t.throws(() => parseAddresses(['example.com']), InvalidArgumentError);
});

async function setup(t: Test, otherPorts: number[] = []) {
  const pod = await startPodService();
  const podPort = (pod.address() as net.AddressInfo).port;
  const api = await startFakeApiServer({ pods: [{ namespace: 'default', name: 'web', ports: [podPort, ...otherPorts] }, { namespace: 'default', name: 'locked', forbidden: true }] });
  t.teardown(async () => {
    await api.close();
    pod.closeAllConnections();
    pod.close();
  });
  return { pod, podPort, api };
}


/**
 * A PortForwarder on 127.0.0.1 to `port` of pod default/web through the API server at `url`;
 * `dials()` counts the SPDY connections it made.
 */
async function forwardTo(t: Test, url: string, port: number, session?: DialPortForwardOptions['session']) {
  let dialed = 0;
  const pf = new PortForwarder({
    ports: [`:${port}`],
    addresses: ['127.0.0.1'],
    dial: (signal) => {
      dialed++;
      return dialPortForward(portForwardUrl(url, 'default', 'web'), { signal, ...(session ? { session } : {}) });
    },
  });
  t.teardown(() => pf.close());
  const [bound] = await pf.ready;
  return { pf, bound, dials: () => dialed };
}

t.test('PortForwarder through the fake API server: sequential, concurrent, 8 MiB byte-exact', async (t) => {
  const { podPort, api } = await setup(t);
  const { pf, bound } = await forwardTo(t, api.url, podPort);
  t.equal(bound!.remote, podPort);
  const local = bound!.local;
  const ids: number[] = [];
  pf.on('connection', (c) => ids.push(c.requestId));
  for (let i = 0; i < 50; i++) {
    const r = await fetchVia(local, `/seq/${i}`);
    t.equal(r.body.toString(), `hello from the pod: GET /seq/${i}\n`);
  }
  const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => fetchVia(local, `/c/${i}`)));
  t.equal(rs.filter((r, i) => r.body.toString() === `hello from the pod: GET /c/${i}\n`).length, 20, '20 concurrent requests');
  const size = 8 * 1024 * 1024;
  const big = await fetchVia(local, `/bytes?n=${size}`, 60000);
  t.equal(big.body.length, size);
  t.ok(big.body.equals(patternBytes(size)), '8 MiB byte-exact');
  t.same(ids.slice(0, 3), [0, 1, 2], 'request ids count up from 0');
  t.equal(api.connections.size, 1, 'one SPDY connection carries everything');
});

t.test('target port closes and reopens: one connection fails, forwarding goes on', async (t) => {
  // A target we can close and reopen on the same port (declared as one of the pod's ports).
  const start = (port: number) =>
    new Promise<net.Server>((resolve) => {
      const s = net.createServer((c) => c.end('pong\n'));
      s.listen(port, '127.0.0.1', () => resolve(s));
    });
  let target = await start(0);
  const port = (target.address() as net.AddressInfo).port;
  const { api } = await setup(t, [port]);
  const pf = new PortForwarder({
    ports: [`:${port}`],
    addresses: ['127.0.0.1'],
    dial: (signal) => dialPortForward(portForwardUrl(api.url, 'default', 'web'), { signal }),
  });
  t.teardown(() => pf.close());
  const [bound] = await pf.ready;
  const talk = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const c = net.connect(bound!.local, '127.0.0.1');
      const chunks: Buffer[] = [];
      c.on('data', (d) => chunks.push(d));
      c.on('close', () => resolve(Buffer.concat(chunks).toString()));
      c.on('error', reject);
    });
  t.equal(await talk(), 'pong\n');
  await new Promise<void>((r) => target.close(() => r()));
  const errors: Error[] = [];
  pf.on('forward-error', (e) => errors.push(e));
  t.equal(await talk(), '', 'the local connection is closed with no data');
  await new Promise((r) => setTimeout(r, 50));
  t.equal(errors.length, 1);
  t.ok(errors[0] instanceof PortForwardError);
  t.match(errors[0]!.message, /error forwarding port \d+ to pod default\/web: dial tcp4 127\.0\.0\.1:\d+: connect: connection refused/);
  target = await start(port);
  t.teardown(() => target.close());
  t.equal(await talk(), 'pong\n', 'works again after the target reopens, nothing restarted');
  t.equal(await talk(), 'pong\n');
  t.equal(api.connections.size, 1, 'still the same SPDY connection');
});

t.test('the SPDY connection is dialed again after it is lost', async (t) => {
  const { podPort, api } = await setup(t);
  const { pf, bound, dials } = await forwardTo(t, api.url, podPort);
  t.equal((await fetchVia(bound!.local, '/a')).status, 200);
  const lost = new Promise((r) => pf.once('disconnect', r));
  api.dropConnections();
  await lost;
  t.equal((await fetchVia(bound!.local, '/b')).status, 200, 'works after the connection was dropped');
  t.equal(dials(), 2);
});

t.test('unknown pod and forbidden pod fail with the server status', async (t) => {
  const { podPort, api } = await setup(t);
  for (const [name, status, re] of [
    ['nope', 404, /pods "nope" not found/],
    ['locked', 403, /forbidden/],
  ] as const) {
    const pf = new PortForwarder({
      ports: [`:${podPort}`],
      addresses: ['127.0.0.1'],
      dial: (signal) => dialPortForward(portForwardUrl(api.url, 'default', name), { signal }),
    });
    const err = await pf.ready.catch((e) => e);
    t.ok(err instanceof UpgradeError, `${name}: UpgradeError`);
    t.equal(err.statusCode, status);
    t.match(err.message, re);
  }
});

t.test('server handler: bad headers are reset, lone stream times out with text', async (t) => {
  const [a, b] = await socketPair();
  const server = new Connection(a, { role: 'server', flowControl: false });
  servePortForward(server, { dial: () => Promise.reject(new Error('unused')), streamCreationTimeout: 100 });
  const client = new Connection(b, { role: 'client', flowControl: false });
  t.teardown(() => {
    client.destroy();
    server.destroy();
  });
  const e1 = await client.createStream({ streamtype: 'bogus', port: '80', requestid: '0' }).catch((e) => e);
  t.equal(e1.code, 'ERR_SPDY_RESET', 'unknown streamtype is reset');
  const e2 = await client.createStream({ streamtype: 'data', port: '0', requestid: '0' }).catch((e) => e);
  t.equal(e2.code, 'ERR_SPDY_RESET', 'port 0 is reset');
  const err = await client.createStream({ streamtype: 'error', port: '80', requestid: '7' });
  err.end();
  t.equal((await readAll(err)).toString(), 'timed out waiting for streams');
});

t.test('server handler: dial failure is written to the error stream', async (t) => {
  const [a, b] = await socketPair();
  const server = new Connection(a, { role: 'server', flowControl: false });
  servePortForward(server, { target: 'ns/p', dial: () => Promise.reject(new Error('boom')) });
  const client = new Connection(b, { role: 'client', flowControl: false });
  t.teardown(() => {
    client.destroy();
    server.destroy();
  });
  const h = { port: '81', requestid: '0' };
  const [e, d] = await Promise.all([client.createStream({ ...h, streamtype: 'error' }), client.createStream({ ...h, streamtype: 'data' })]);
  e.end();
  d.end();
  t.equal((await readAll(e)).toString(), 'error forwarding port 81 to pod ns/p: boom');
  t.equal((await readAll(d)).length, 0, 'the data stream is closed with nothing on it');
});

t.test('a burst of short connections keeps one SPDY connection (no needless RST_STREAM, no flood GOAWAY)', async (t) => {
  const { podPort, api } = await setup(t);
  const { pf, bound } = await forwardTo(t, api.url, podPort);
  let dropped = 0;
  pf.on('disconnect', () => dropped++);
  let ok = 0;
  await Promise.all(
    Array.from({ length: 16 }, async (_, w) => {
      for (let i = 0; i < 40; i++) {
        const r = await fetchVia(bound!.local, `/burst/${w}/${i}`);
        if (r.body.toString() === `hello from the pod: GET /burst/${w}/${i}\n`) ok++;
      }
    }),
  );
  t.equal(ok, 640, '640 requests, 16 in flight');
  t.equal(dropped, 0, 'the SPDY connection was never lost');
  const st = pf.connection!.stats().framesByType.out;
  t.equal(st.SYN_STREAM, 640 * 2, 'one stream pair per request, all on this connection');
  t.ok((st.RST_STREAM ?? 0) < 64, `RST_STREAM sent for ${st.RST_STREAM ?? 0} of 1280 streams`);
});

/** A TCP proxy whose existing connections can be made to drop traffic silently (as a load balancer that forgot them). */
async function blackholeProxy(targetPort: number): Promise<{ port: number; blackhole(): void; close(): void }> {
  const pairs: { a: net.Socket; b: net.Socket; dead: boolean }[] = [];
  const server = net.createServer((a) => {
    const b = net.connect(targetPort, '127.0.0.1');
    const p = { a, b, dead: false };
    pairs.push(p);
    a.on('data', (d) => void (p.dead || b.write(d)));
    b.on('data', (d) => void (p.dead || a.write(d)));
    a.on('error', () => b.destroy());
    b.on('error', () => a.destroy());
    a.on('close', () => b.destroy());
    b.on('close', () => a.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    blackhole: () => pairs.forEach((p) => (p.dead = true)),
    close: () => {
      pairs.forEach((p) => (p.a.destroy(), p.b.destroy()));
      server.close();
    },
  };
}

t.test('a silently dropped connection is noticed by ping timeout and replaced', async (t) => {
  const { podPort, api } = await setup(t);
  const proxy = await blackholeProxy(api.port);
  t.teardown(() => proxy.close());
  const { pf, bound, dials } = await forwardTo(t, `http://127.0.0.1:${proxy.port}`, podPort, { pingInterval: 100, pingTimeout: 200 });
  t.equal((await fetchVia(bound!.local, '/before')).status, 200);
  const lost = new Promise<Error | undefined>((r) => pf.once('disconnect', r));
  const start = Date.now();
  proxy.blackhole();
  const err = await lost;
  const ms = Date.now() - start;
  t.equal((err as { code?: string })?.code, 'ERR_SPDY_LIVENESS', 'declared dead by the ping timeout');
  t.ok(ms < 2500, `noticed after ${ms} ms (interval 100 + timeout 200, plus scheduling slack)`);
  const r = await fetchVia(bound!.local, '/after');
  t.equal(r.body.toString(), 'hello from the pod: GET /after\n', 'the next connection works over a new SPDY connection');
  t.equal(dials(), 2);
});
