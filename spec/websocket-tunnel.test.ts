// The WebSocket tunnel (SPDY/3.1+portforward.k8s.io): kube-spdy's client in each transport mode against
// the fake API server, client-go's fallback rule, byte streams split across arbitrary messages, and
// real kubectl (default settings: tunnel first) through the fake API server with the SPDY upgrade refused.
import t, { type Test } from 'tap';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Duplex } from 'node:stream';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { startFakeApiServer } from '../lib/fake-apiserver/index.js';
import { startPodService, fetchVia, patternBytes } from '../lib/cli/demo.js';
import { PortForwarder } from '../lib/portforward/client.js';
import { dialPortForward, portForwardUrl, type PortForwardTransport } from '../lib/portforward/dial.js';
import { servePortForward } from '../lib/portforward/server.js';
import { Connection } from '../lib/session/connection.js';
import { createTunnelHandler } from '../lib/httpstream/websocket-server.js';
import { dialWebSocketTunnel, TUNNEL_PROTOCOL_PORT_FORWARD } from '../lib/httpstream/websocket-client.js';
import { webSocketAccept } from '../lib/httpstream/websocket-stream.js';
import { UpgradeError } from '../lib/errors.js';
import { run } from './e2e-helpers.js';

async function pod(t: Test) {
  const srv = await startPodService();
  t.teardown(() => {
    srv.closeAllConnections();
    srv.close();
  });
  return (srv.address() as net.AddressInfo).port;
}

async function forward(t: Test, url: string, podPort: number, transport: PortForwardTransport) {
  const pf = new PortForwarder({
    ports: [`:${podPort}`],
    addresses: ['127.0.0.1'],
    dial: (signal) => dialPortForward(portForwardUrl(url, 'default', 'web'), { signal, transport }),
  });
  t.teardown(() => pf.close());
  const [bound] = await pf.ready;
  return bound!.local;
}

async function exercise(t: Test, local: number, what: string) {
  let ok = 0;
  for (let i = 0; i < 10; i++) if ((await fetchVia(local, `/s/${i}`)).body.toString() === `hello from the pod: GET /s/${i}\n`) ok++;
  t.equal(ok, 10, `${what}: 10 sequential requests`);
  const size = 4 * 1024 * 1024;
  const big = await fetchVia(local, `/bytes?n=${size}`, 60000);
  t.ok(big.body.equals(patternBytes(size)), `${what}: 4 MiB byte-exact`);
}

const modes: [PortForwardTransport, ('websocket' | 'spdy')[], string][] = [
  ['websocket', ['websocket'], 'tunnel only, SPDY refused by the server'],
  ['auto', ['websocket'], 'auto, SPDY refused by the server (tunnel used)'],
  ['auto', ['spdy'], 'auto, tunnel refused by the server (falls back to SPDY)'],
  ['spdy', ['spdy'], 'SPDY only'],
];
for (const [transport, served, what] of modes) {
  t.test(`kube-spdy port-forward, transport ${transport}: ${what}`, async (t) => {
    const podPort = await pod(t);
    const api = await startFakeApiServer({ pods: [{ namespace: 'default', name: 'web', ports: [podPort] }], transports: served });
    t.teardown(() => api.close());
    await exercise(t, await forward(t, api.url, podPort, transport), what);
    t.equal(api.connections.size, 1, 'one port-forward connection on the server');
  });
}

t.test('fallback rule: a refusal falls back, no answer does not', async (t) => {
  const api = await startFakeApiServer({ pods: [{ namespace: 'default', name: 'web' }], transports: ['spdy'] });
  t.teardown(() => api.close());
  const url = portForwardUrl(api.url, 'default', 'web');
  const err = await dialPortForward(url, { transport: 'websocket' }).catch((e: unknown) => e);
  t.ok(err instanceof UpgradeError && err.statusCode === 400, 'transport websocket: the 400 is reported, no fallback');
  t.match((err as Error).message, /WebSocket tunnel upgrade failed: 400/);

  const unknown = await dialPortForward(portForwardUrl(api.url, 'default', 'nope'), { transport: 'auto' }).catch((e: unknown) => e);
  t.ok(unknown instanceof UpgradeError && unknown.statusCode === 404, 'auto: a 404 on the tunnel falls back, and the SPDY upgrade reports its own 404');
  t.match((unknown as Error).message, /upgrade to SPDY\/3\.1 failed: 404/);

  // Connection refused: a port nobody listens on (bound then closed).
  const tmp = net.createServer();
  await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
  const dead = (tmp.address() as net.AddressInfo).port;
  await new Promise((r) => tmp.close(r));
  let requests = 0;
  const refused = await dialPortForward(`http://127.0.0.1:${dead}/api/v1/namespaces/default/pods/web/portforward`, {
    transport: 'auto',
    createConnection: (opts, cb) => {
      requests++;
      const s = net.connect({ host: '127.0.0.1', port: dead });
      s.once('connect', () => cb(null, s));
      s.once('error', (e) => cb(e));
    },
  }).catch((e: unknown) => e);
  t.ok(refused instanceof UpgradeError && refused.statusCode === 0, 'connection refused: status 0');
  t.match((refused as Error).message, /WebSocket tunnel/, 'the tunnel error is reported');
  t.equal(requests, 1, 'no fallback attempt after connection refused');

  // A 101 with a subprotocol that was not offered is an upgrade failure (client-go falls back).
  const wrong = http.createServer();
  wrong.on('upgrade', (req, socket) => {
    socket.end(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${webSocketAccept(String(req.headers['sec-websocket-key']))}\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n`,
    );
  });
  await new Promise<void>((r) => wrong.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    wrong.closeAllConnections();
    wrong.close();
  });
  const e3 = await dialWebSocketTunnel(`http://127.0.0.1:${(wrong.address() as net.AddressInfo).port}/x`).catch((e: unknown) => e);
  t.ok(e3 instanceof UpgradeError && e3.statusCode === 101, 'wrong subprotocol: an upgrade failure (status 101)');
});

t.test('the SPDY byte stream split across arbitrary WebSocket messages (1 to 7 bytes each) is reassembled', async (t) => {
  const podPort = await pod(t);
  let messages = 0;
  const onTunnel = (socket: Duplex): void => {
    // Every write of the server session goes out in pieces of 1..7 bytes, one message each, as Go may do.
    const splitter = new Duplex({
      read() {
        socket.resume();
      },
      write(chunk: Buffer, _enc, cb) {
        let off = 0;
        let n = 0;
        while (off < chunk.length) {
          const len = Math.min(chunk.length - off, 1 + ((off + n++) % 7));
          socket.write(chunk.subarray(off, off + len));
          messages++;
          off += len;
        }
        cb();
      },
      final(cb) {
        socket.end();
        cb();
      },
    });
    socket.on('data', (d) => {
      if (!splitter.push(d)) socket.pause();
    });
    socket.on('end', () => splitter.push(null));
    socket.on('error', (e) => splitter.destroy(e));
    const conn = new Connection(splitter, { role: 'server', flowControl: false });
    servePortForward(conn, { target: 'default/web', dial: (p) => Promise.resolve(net.connect({ host: '127.0.0.1', port: p })) });
  };
  const handler = createTunnelHandler({ protocols: [TUNNEL_PROTOCOL_PORT_FORWARD], onTunnel });
  const srv = http.createServer((_req, res) => res.writeHead(404).end());
  srv.on('upgrade', handler);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    srv.closeAllConnections();
    srv.close();
  });
  const url = `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`;
  const local = await forward(t, url, podPort, 'websocket');
  let ok = 0;
  for (let i = 0; i < 5; i++) if ((await fetchVia(local, `/m/${i}`)).body.toString() === `hello from the pod: GET /m/${i}\n`) ok++;
  t.equal(ok, 5, '5 requests through a tunnel of tiny messages');
  const big = await fetchVia(local, `/bytes?n=65536`, 60000);
  t.ok(big.body.equals(patternBytes(65536)), '64 KiB byte-exact');
  t.ok(messages > 10000, `the server sent ${messages} messages`);
});

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
if (kubectl.status !== 0 && process.env.CI) t.fail('kubectl is required in CI (.ci/run checks for it)');

for (const served of [['websocket'], ['spdy']] as ('websocket' | 'spdy')[][]) {
  t.test(`kubectl (default settings) through the fake API server serving only ${served[0]}`, { skip: kubectl.status === 0 ? false : 'kubectl not installed (outside CI)' }, async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kube-spdy-tunnel-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const podPort = await pod(t);
    let tunnels = 0;
    const api = await startFakeApiServer({ pods: [{ namespace: 'default', name: 'web', ports: [podPort] }], transports: served });
    t.teardown(() => api.close());
    const kc = path.join(dir, 'kubeconfig');
    await api.writeKubeconfig(kc);
    const env = { KUBECACHEDIR: path.join(dir, 'cache'), HOME: dir, KUBECTL_PORT_FORWARD_WEBSOCKETS: '' };
    const k = run('kubectl', ['--kubeconfig', kc, 'port-forward', 'pod/web', `:${podPort}`], env);
    t.teardown(() => k.kill());
    const m = await k.waitFor(/^Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)$/, 30000);
    await exercise(t, Number(m[1]), `kubectl over ${served[0]}`);
    tunnels = api.connections.size;
    t.equal(tunnels, 1, 'one port-forward connection');
    t.equal(k.child.exitCode, null, 'kubectl is still running');
  });
}
