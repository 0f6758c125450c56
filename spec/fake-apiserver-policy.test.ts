// The fake API server opens no doors by default (issue 10): port-forward dials only a pod's declared
// container ports (any port only with anyPort / --any-port); it refuses to listen beyond loopback without
// a token and warns when it does; slow upgrade requests are dropped; live connections are bounded.
import t, { type Test } from 'tap';
import net from 'node:net';
import { startFakeApiServer, parsePodSpec } from '../lib/fake-apiserver/index.js';
import { checkListen, isLoopback } from '../lib/fake-apiserver/listen-policy.js';
import { startPodService } from '../lib/cli/demo.js';
import { dialPortForward, portForwardUrl } from '../lib/portforward/dial.js';
import { UpgradeError, InvalidArgumentError } from '../lib/errors.js';
import type { Connection } from '../lib/session/connection.js';
import { readAll } from './helpers.js';
import { cli } from './e2e-helpers.js';

async function pod(t: Test): Promise<number> {
  const s = await startPodService();
  t.teardown(() => {
    s.closeAllConnections();
    s.close();
  });
  return (s.address() as net.AddressInfo).port;
}

async function get(conn: Connection, port: number, id: string): Promise<{ error: string; data: string }> {
  const h = { port: String(port), requestid: id };
  const [e, d] = await Promise.all([conn.createStream({ ...h, streamtype: 'error' }), conn.createStream({ ...h, streamtype: 'data' })]);
  e.end();
  d.end('GET / HTTP/1.0\r\n\r\n');
  const [error, data] = await Promise.all([readAll(e), readAll(d)]);
  return { error: error.toString(), data: data.toString() };
}

t.test('declared container ports are the default dial policy; anyPort opens the rest', async (t) => {
  const podPort = await pod(t);
  const other = await pod(t);
  const api = await startFakeApiServer({ pods: [{ namespace: 'default', name: 'web', ports: [podPort] }] });
  t.teardown(() => api.close());
  const conn = await dialPortForward(portForwardUrl(api.url, 'default', 'web'));
  t.teardown(() => conn.destroy());
  const ok = await get(conn, podPort, '1');
  t.equal(ok.error, '');
  t.match(ok.data, /hello from the pod/, 'the declared port is forwarded');
  const no = await get(conn, other, '2');
  t.equal(no.error, `error forwarding port ${other} to pod default/web: port ${other} is not allowed`);
  t.equal(no.data, '', 'nothing was forwarded to the undeclared port');

  // The Pod object lists the declared ports (kubectl resolves named ports from them).
  const res = await fetch(`${api.url}/api/v1/namespaces/default/pods/web`);
  const body = (await res.json()) as { spec: { containers: { ports: { containerPort: number }[] }[] } };
  t.same(body.spec.containers[0]!.ports.map((p) => p.containerPort), [podPort]);

  const open = await startFakeApiServer({ pods: [{ namespace: 'default', name: 'web', ports: [podPort] }], anyPort: true });
  t.teardown(() => open.close());
  const c2 = await dialPortForward(portForwardUrl(open.url, 'default', 'web'));
  t.teardown(() => c2.destroy());
  t.match((await get(c2, other, '1')).data, /hello from the pod/, 'anyPort: an undeclared port is forwarded');
});

t.test('pod specs carry container ports: NS/NAME:PORT,PORT=HOST', async (t) => {
  t.same(parsePodSpec('default/web:8080,9090=127.0.0.2'), { namespace: 'default', name: 'web', host: '127.0.0.2', ports: [8080, 9090] });
  t.same(parsePodSpec('web:80'), { namespace: 'default', name: 'web', ports: [80] });
  t.same(parsePodSpec('ns/web'), { namespace: 'ns', name: 'web' });
  t.throws(() => parsePodSpec('web:0'), InvalidArgumentError);
  t.throws(() => parsePodSpec('web:70000'), InvalidArgumentError);
  t.throws(() => parsePodSpec('web:'), InvalidArgumentError);
});

t.test('listen policy: loopback is fine; beyond it a token is required, and it warns', async (t) => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1']) t.ok(isLoopback(h), `${h} is loopback`);
  for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', '::ffff:10.0.0.1']) t.notOk(isLoopback(h), `${h} is not loopback`);
  t.equal(checkListen('127.0.0.1', { token: false, clientCertificates: false }), null);
  t.throws(() => checkListen('0.0.0.0', { token: false, clientCertificates: false }), InvalidArgumentError);
  t.match(checkListen('0.0.0.0', { token: true, clientCertificates: false }), /beyond loopback/);
  t.match(checkListen('::', { token: false, clientCertificates: true }), /beyond loopback/);
  // The library refuses before listening.
  const err = await startFakeApiServer({ pods: [], host: '0.0.0.0' }).catch((e) => e);
  t.ok(err instanceof InvalidArgumentError, 'startFakeApiServer rejects 0.0.0.0 without a token');
  t.match(err.message, /refusing to listen on 0\.0\.0\.0/);
  // The CLI: one line, non-zero exit.
  const p = cli(['fake-apiserver', '--pod', 'default/web:80', '--listen', '0.0.0.0:0']);
  t.not(await p.exited, 0);
  t.equal(p.err.length, 1);
  t.match(p.err[0], /^error: refusing to listen on 0\.0\.0\.0/);
});

t.test('a slow upgrade request (headers never finished) is dropped after headersTimeout', async (t) => {
  const api = await startFakeApiServer({ pods: [{ namespace: 'default', name: 'web', ports: [80] }], headersTimeout: 300 });
  t.teardown(() => api.close());
  const s = net.connect(api.port, '127.0.0.1');
  s.on('error', () => {});
  await new Promise((r) => s.once('connect', r));
  s.write('POST /api/v1/namespaces/default/pods/web/portforward HTTP/1.1\r\nHost: x\r\nUpgrade: SPDY/3.1\r\n');
  const t0 = Date.now();
  const drip = setInterval(() => s.write('X-Slow: 1\r\n'), 50); // slowloris: a header line now and then
  await new Promise((r) => s.once('close', r));
  clearInterval(drip);
  const ms = Date.now() - t0;
  t.ok(ms < 5000, `dropped after ${ms} ms (headersTimeout 300 ms, checked every 300 ms; generous slack)`);
});

t.test('maxConnections: upgrades past the bound are answered 503', async (t) => {
  const podPort = await pod(t);
  const api = await startFakeApiServer({ pods: [{ namespace: 'default', name: 'web', ports: [podPort] }], maxConnections: 2 });
  t.teardown(() => api.close());
  const url = portForwardUrl(api.url, 'default', 'web');
  const a = await dialPortForward(url);
  const b = await dialPortForward(url);
  t.teardown(() => (a.destroy(), b.destroy()));
  await get(a, podPort, '1');
  await get(b, podPort, '1');
  const err = await dialPortForward(url).catch((e) => e);
  t.ok(err instanceof UpgradeError);
  t.equal(err.statusCode, 503, 'the third connection is refused with 503');
  a.destroy();
  for (let i = 0; i < 50 && api.connections.size > 1; i++) await new Promise((r) => setTimeout(r, 20));
  const c = await dialPortForward(url);
  t.teardown(() => c.destroy());
  t.match((await get(c, podPort, '2')).data, /hello from the pod/, 'a closed connection gives its place back');
});
