// Issue 6, row 4 and item 5: fail one pair, not the connection. 510 local connections at once through a
// server that refuses streams past 1000 per connection (500 pairs): the refused pairs are retried on
// another connection, and not one of the healthy forwards is lost. Against kube-spdy's fake API server
// (which also advertises its limit in SETTINGS MAX_CONCURRENT_STREAMS) and the Go spdystream
// kubelet-style server (-max-streams: RST_STREAM REFUSED_STREAM). And a pair whose SYN_REPLY never comes
// on a live connection is retried elsewhere without touching the forwards on that connection.
import t from 'tap';
import net from 'node:net';
import http from 'node:http';
import { Connection } from '../lib/session/connection.js';
import { createUpgradeHandler } from '../lib/httpstream/server.js';
import { servePortForward } from '../lib/portforward/server.js';
import { PORT_FORWARD_PROTOCOL_V1 } from '../lib/portforward/constants.js';
import type { Stream } from '../lib/session/stream.js';
import { SERVER_KINDS, SERVER_NAMES, startServer, startPod, forward, get } from './portforward-servers.js';

const LOCAL_CONNECTIONS = 510;
const SERVER_STREAM_CAP = 1000;

/** A keep-alive HTTP client on one raw TCP connection: `ask(path)` resolves with the body text. */
class KeepAlive {
  readonly socket: net.Socket;
  private buf = '';
  private waiter: { expect: string; resolve: (ok: boolean) => void } | null = null;
  closed = false;
  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.setEncoding('utf8');
    this.socket.on('data', (d: string) => {
      this.buf += d;
      if (this.waiter && this.buf.includes(this.waiter.expect)) {
        const w = this.waiter;
        this.waiter = null;
        this.buf = '';
        w.resolve(true);
      }
    });
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      this.closed = true;
      this.waiter?.resolve(false);
      this.waiter = null;
    });
  }
  ask(path: string, ms = 20_000): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        resolve(false);
      }, ms);
      this.waiter = {
        expect: `hello ${path}\n`,
        resolve: (ok) => {
          clearTimeout(timer);
          resolve(ok);
        },
      };
      this.socket.write(`GET ${path} HTTP/1.1\r\nHost: pod\r\n\r\n`);
    });
  }
}

for (const kind of SERVER_KINDS) {
  t.test(`${SERVER_NAMES[kind]}: ${LOCAL_CONNECTIONS} local connections at once, streams refused past ${SERVER_STREAM_CAP}: 0 healthy forwards lost`, async (t) => {
    const server = await startServer(t, kind, { maxStreams: SERVER_STREAM_CAP });
    const podPort = await startPod(t);
    const { pf, local } = await forward(t, server.url, podPort);
    const errors: string[] = [];
    pf.on('forward-error', (err) => errors.push(err.message));
    const clients = Array.from({ length: LOCAL_CONNECTIONS }, () => new KeepAlive(local));
    t.teardown(() => clients.forEach((c) => c.socket.destroy()));
    const first = await Promise.all(clients.map((c, i) => c.ask(`/a/${i}`)));
    t.equal(first.filter(Boolean).length, LOCAL_CONNECTIONS, `all ${LOCAL_CONNECTIONS} forwards answered`);
    // Every forward is still open and healthy: a second request on each.
    const second = await Promise.all(clients.map((c, i) => c.ask(`/b/${i}`)));
    t.equal(second.filter(Boolean).length, LOCAL_CONNECTIONS, `all ${LOCAL_CONNECTIONS} forwards still open: 0 lost`);
    t.equal(clients.filter((c) => c.closed).length, 0, 'no local connection was closed');
    const st = pf.stats();
    t.ok(st.refused >= 1, `${st.refused} refusals seen (the server's cap, or its SETTINGS)`);
    t.ok(st.retried >= st.refused, `${st.retried} pairs retried`);
    t.ok(st.connections.length >= 2, `the refused pairs went to another connection (${st.connections.length} open)`);
    t.equal(st.disconnects, 0, 'no connection was treated as dead');
    t.equal(st.failed, 0, 'no forward failed');
    t.same(errors, []);
    t.comment(`${kind}: refused ${st.refused}, retried ${st.retried}, connections ${st.connections.length}, streams ${st.connections.map((c) => c.openStreams).join('+')}`);
  });
}

t.test('a pair whose SYN_REPLY never comes on a live connection is retried elsewhere; its neighbours live on', async (t) => {
  const podPort = await startPod(t);
  // A port-forward server that, on its first connection, ignores the streams of request ids ≥ 1 (they
  // never get a SYN_REPLY) but answers PINGs: a live connection with one stuck pair.
  let upgrades = 0;
  const conns: Connection[] = [];
  const held: Stream[] = [];
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  const handler = createUpgradeHandler({
    protocols: [PORT_FORWARD_PROTOCOL_V1],
    onUpgrade: (socket) => {
      const n = ++upgrades;
      const conn = new Connection(socket, { role: 'server', flowControl: 'auto' });
      conns.push(conn);
      if (n === 1) {
        // Request 0 is forwarded; the streams of later requests are held without a reply.
        conn.on('stream', (s) => {
          s.on('error', () => {});
          if (s.headers.requestid !== '0') return void held.push(s);
          s.reply({});
          if (s.headers.streamtype === 'error') return void s.resume();
          void connectTcp(podPort).then((sock) => {
            s.pipe(sock).on('error', () => {});
            sock.pipe(s);
          });
        });
      } else {
        servePortForward(conn, { dial: (port) => connectTcp(port) });
      }
    },
  });
  server.on('upgrade', handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    conns.forEach((c) => c.destroy());
    server.closeAllConnections();
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  const { pf, local } = await forward(t, url, podPort, { streamTimeout: 500 });
  const keep = new KeepAlive(local);
  t.teardown(() => keep.socket.destroy());
  t.ok(await keep.ask('/first'), 'request 0 is forwarded on the first connection');
  const start = performance.now();
  const r = await get(local, '/stuck', 10_000);
  const ms = performance.now() - start;
  t.equal(r.body, 'hello /stuck\n', 'the stuck pair was retried elsewhere and answered');
  t.ok(ms >= 450 && ms < 5000, `after the pair timeout (${ms.toFixed(0)} ms, streamTimeout 500)`);
  t.equal(upgrades, 2, 'on a second connection');
  t.ok(await keep.ask('/second'), 'the forward on the first connection still works');
  t.notOk(conns[0]!.isClosed, 'the first connection was not closed');
  const st = pf.stats();
  t.equal(st.pairTimeouts, 1);
  t.equal(st.failed, 0);
  t.equal(st.disconnects, 0);
});

function connectTcp(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}
