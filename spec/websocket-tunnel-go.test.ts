// kube-spdy's WebSocket tunnel client against a peer it did not write: the Go kubelet-style server
// (spec/interop/kubelet, moby/spdystream) with its tunnel on Debian's gorilla/websocket (tunnel.go),
// which writes each SPDY frame in several messages as Go does. Byte-exact multi-MiB transfers both
// ways, concurrent connections on one tunnel, client-go's 'auto' fallback rule against it (tunnel
// disabled → 400 → SPDY; connection refused → no fallback), a tap that proves the messages really do
// split frames, and kubectl (default settings, tunnel first) against the same Go tunnel server.
import t, { type Test } from 'tap';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, createHash } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { PortForwarder } from '../lib/portforward/client.js';
import { dialPortForward, portForwardUrl, type PortForwardTransport } from '../lib/portforward/dial.js';
import { UpgradeError } from '../lib/errors.js';
import { startFakeApiServer } from '../lib/fake-apiserver/index.js';
import { buildKubelet, KUBELET_BIN } from './portforward-servers.js';
import { run } from './e2e-helpers.js';

const GORILLA_SRC = '/usr/share/gocode/src/github.com/gorilla/websocket';

interface GoServer {
  url: string;
  port: number;
  /** Every stdout event so far (JSON lines). */
  events: Record<string, unknown>[];
  stop(): Promise<void>;
}

async function startGo(t: Test, args: string[] = []): Promise<GoServer> {
  if (!existsSync(GORILLA_SRC)) throw new Error(`${GORILLA_SRC} not found (.ci/run installs golang-github-gorilla-websocket-dev)`);
  const err = buildKubelet();
  if (err) throw new Error(`the Go kubelet-style server is required (.ci/run installs Go, spdystream, gorilla/websocket): ${err}`);
  // stdin stays open: the server exits on its EOF.
  const child = spawn(KUBELET_BIN, ['-addr', '127.0.0.1:0', ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const events: Record<string, unknown>[] = [];
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const listening = new Promise<string>((resolve, reject) => {
    let rest = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      rest += d;
      const lines = rest.split('\n');
      rest = lines.pop()!;
      for (const l of lines) {
        const e = JSON.parse(l) as Record<string, unknown>;
        events.push(e);
        if (e.event === 'listening') resolve(String(e.addr));
      }
    });
    void exited.then(() => reject(new Error('the Go server exited before listening')));
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  };
  t.teardown(stop);
  const addr = await listening;
  const port = Number(addr.slice(addr.lastIndexOf(':') + 1));
  return { url: `http://127.0.0.1:${port}`, port, events, stop };
}

const upgrades = (go: GoServer, transport: 'websocket' | 'spdy'): number =>
  go.events.filter((e) => e.event === 'upgrade' && (transport === 'websocket' ? e.transport === 'websocket' : e.transport === undefined)).length;

/** The pod: a TCP echo server. */
async function echoPod(t: Test): Promise<number> {
  const srv = net.createServer((s) => {
    s.on('error', () => s.destroy());
    s.pipe(s);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise((r) => srv.close(r)));
  return (srv.address() as net.AddressInfo).port;
}

async function forward(t: Test, base: string, podPort: number, transport: PortForwardTransport): Promise<{ local: number; dials: () => number }> {
  let dials = 0;
  const pf = new PortForwarder({
    ports: [`:${podPort}`],
    addresses: ['127.0.0.1'],
    dial: (signal) => {
      dials++;
      return dialPortForward(portForwardUrl(base, 'default', 'web'), { signal, transport });
    },
  });
  t.teardown(() => pf.close());
  const [bound] = await pf.ready;
  return { local: bound!.local, dials: () => dials };
}

/** Sends `data` through local port `local` to the echo pod and returns what comes back (until the pod's FIN). */
function echo(local: number, data: Buffer, ms = 60_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port: local });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`echo of ${data.length} bytes: no end within ${ms} ms (${chunks.reduce((n, c) => n + c.length, 0)} bytes back)`));
    }, ms);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => {
      clearTimeout(timer);
      s.end();
      resolve(Buffer.concat(chunks));
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.end(data);
  });
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

for (const transport of ['websocket', 'auto'] as const) {
  t.test(`transport ${transport} against the Go gorilla/websocket tunnel: 8 MiB each way byte-exact, 8 concurrent connections`, async (t) => {
    const podPort = await echoPod(t);
    const go = await startGo(t);
    const { local, dials } = await forward(t, go.url, podPort, transport);

    const big = randomBytes(8 * 1024 * 1024);
    const back = await echo(local, big);
    t.equal(back.length, big.length, '8 MiB came back (no truncation)');
    t.equal(sha(back), sha(big), '8 MiB byte-exact both ways');

    const parts = Array.from({ length: 8 }, () => randomBytes(1024 * 1024 + Math.floor(Math.random() * 65536)));
    const results = await Promise.all(parts.map((p) => echo(local, p)));
    t.equal(results.filter((r, i) => r.equals(parts[i]!)).length, 8, '8 concurrent connections of ~1 MiB each, all byte-exact');

    t.equal(dials(), 1, 'one tunnel carried every connection');
    t.equal(upgrades(go, 'websocket'), 1, 'the Go server saw one WebSocket tunnel');
    t.equal(upgrades(go, 'spdy'), 0, 'and no SPDY upgrade');
  });
}

t.test("'auto' fallback against the Go server, as client-go decides", async (t) => {
  const podPort = await echoPod(t);
  const go = await startGo(t, ['-tunnel=false']);

  const err = await dialPortForward(portForwardUrl(go.url, 'default', 'web'), { transport: 'websocket' }).catch((e: unknown) => e);
  t.ok(err instanceof UpgradeError && err.statusCode === 400, "transport 'websocket', tunnel disabled: the 400 is reported, no fallback");
  t.match((err as Error).message, /WebSocket tunnel upgrade failed: 400.*missing upgrade headers/, "the Go server's reason is in the message");

  const { local } = await forward(t, go.url, podPort, 'auto');
  const data = randomBytes(2 * 1024 * 1024);
  t.ok((await echo(local, data)).equals(data), "'auto', tunnel disabled (non-101): falls back to the SPDY upgrade, 2 MiB byte-exact");
  t.equal(upgrades(go, 'spdy'), 1, 'the Go server saw one SPDY upgrade');
  t.equal(upgrades(go, 'websocket'), 0, 'and no tunnel');

  // Connection refused: the Go server's port once it has stopped. No fallback, one attempt.
  await go.stop();
  let attempts = 0;
  const refused = await dialPortForward(portForwardUrl(go.url, 'default', 'web'), {
    transport: 'auto',
    createConnection: (_opts, cb) => {
      attempts++;
      const s = net.connect({ host: '127.0.0.1', port: go.port });
      s.once('connect', () => cb(null, s));
      s.once('error', (e) => cb(e));
    },
  }).catch((e: unknown) => e);
  t.ok(refused instanceof UpgradeError && refused.statusCode === 0, "'auto', connection refused: an error with no HTTP status");
  t.match((refused as Error).message, /WebSocket tunnel to 127\.0\.0\.1:\d+ failed: connection refused/);
  t.equal(attempts, 1, 'no SPDY attempt after connection refused');
});

// ---- the messages really split frames -----------------------------------------------------------

/**
 * Follows the server→client bytes of a tunnel: the HTTP 101 head, then WebSocket frames (RFC 6455
 * section 5.2, unmasked from a server), then inside the binary messages the SPDY/3.1 frames (8-byte
 * header, 24-bit length). Counts messages that end inside a SPDY frame and continuation frames.
 */
class TunnelTap {
  messages = 0;
  endsInsideFrame = 0;
  continuations = 0;
  spdyFrames = 0;
  private head = true;
  private pending: Buffer = Buffer.alloc(0);
  private payloadLeft = 0;
  private fin = false;
  private data = false;
  // SPDY frame state
  private hdr = Buffer.alloc(8);
  private hdrFill = 0;
  private frameLeft = 0;

  feed(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    if (this.head) {
      const i = this.pending.indexOf('\r\n\r\n');
      if (i < 0) return;
      this.pending = this.pending.subarray(i + 4);
      this.head = false;
    }
    for (;;) {
      if (this.payloadLeft > 0) {
        const n = Math.min(this.payloadLeft, this.pending.length);
        if (n === 0) return;
        if (this.data) this.spdy(this.pending.subarray(0, n));
        this.pending = this.pending.subarray(n);
        this.payloadLeft -= n;
        if (this.payloadLeft === 0) this.frameDone();
        continue;
      }
      if (this.pending.length < 2) return;
      const b0 = this.pending[0]!;
      const b1 = this.pending[1]!;
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.pending.length < 4) return;
        len = this.pending.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.pending.length < 10) return;
        len = Number(this.pending.readBigUInt64BE(2));
        off = 10;
      }
      const opcode = b0 & 0x0f;
      this.fin = (b0 & 0x80) !== 0;
      this.data = opcode === 0 || opcode === 2;
      if (opcode === 0) this.continuations++;
      this.pending = this.pending.subarray(off);
      this.payloadLeft = len;
      if (len === 0) this.frameDone();
    }
  }

  private frameDone(): void {
    if (!this.data || !this.fin) return;
    this.messages++;
    if (this.hdrFill !== 0 || this.frameLeft !== 0) this.endsInsideFrame++;
  }

  private spdy(b: Buffer): void {
    let i = 0;
    while (i < b.length) {
      if (this.frameLeft > 0) {
        const n = Math.min(this.frameLeft, b.length - i);
        this.frameLeft -= n;
        i += n;
        continue;
      }
      const n = Math.min(8 - this.hdrFill, b.length - i);
      b.copy(this.hdr, this.hdrFill, i, i + n);
      this.hdrFill += n;
      i += n;
      if (this.hdrFill === 8) {
        this.hdrFill = 0;
        this.frameLeft = this.hdr.readUIntBE(5, 3);
        this.spdyFrames++;
      }
    }
  }
}

t.test('the Go tunnel writes SPDY frames across several messages, and kube-spdy reassembles them', async (t) => {
  const podPort = await echoPod(t);
  const go = await startGo(t);
  const tap = new TunnelTap();
  // A TCP relay between kube-spdy and the Go server that reads the server's side.
  const relay = net.createServer((c) => {
    const up = net.connect({ host: '127.0.0.1', port: go.port });
    up.on('data', (d: Buffer) => tap.feed(d));
    c.pipe(up).pipe(c);
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise((r) => relay.close(r)));
  const { local } = await forward(t, `http://127.0.0.1:${(relay.address() as net.AddressInfo).port}`, podPort, 'websocket');
  const data = randomBytes(3 * 1024 * 1024);
  t.ok((await echo(local, data)).equals(data), '3 MiB byte-exact through the tap');
  t.ok(tap.spdyFrames > 10, `${tap.spdyFrames} SPDY frames from the server`);
  t.ok(tap.endsInsideFrame > tap.spdyFrames / 2, `${tap.endsInsideFrame} of ${tap.messages} messages end inside a SPDY frame`);
  t.ok(tap.continuations > 0, `${tap.continuations} continuation frames (gorilla fragments large writes)`);
});

// ---- kubectl against the same Go tunnel server ---------------------------------------------------

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
if (kubectl.status !== 0 && process.env.CI) t.fail('kubectl is required in CI (.ci/run checks for it)');

t.test('kubectl (default settings: tunnel first) port-forwards through the Go tunnel server', { skip: kubectl.status === 0 ? false : 'kubectl not installed (outside CI)' }, async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kube-spdy-go-tunnel-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const podPort = await echoPod(t);
  const go = await startGo(t);
  // kubectl asks the API server for discovery and the pod first: the fake API server answers those, and
  // a front sends every upgrade (the tunnel GET) to the Go server as it is.
  const api = await startFakeApiServer({ pods: [{ namespace: 'default', name: 'web', ports: [podPort] }] });
  t.teardown(() => api.close());
  const apiUrl = new URL(api.url);
  const front = http.createServer((req, res) => {
    const p = http.request({ host: apiUrl.hostname, port: apiUrl.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    p.on('error', () => res.writeHead(502).end());
    req.pipe(p);
  });
  let tunnelled = 0;
  front.on('upgrade', (req, socket, head) => {
    tunnelled++;
    const up = net.connect({ host: '127.0.0.1', port: go.port }, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      up.write(`${lines.join('\r\n')}\r\n\r\n`);
      up.write(head);
      socket.pipe(up).pipe(socket);
    });
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    front.closeAllConnections();
    return new Promise((r) => front.close(r));
  });
  const kc = path.join(dir, 'kubeconfig');
  await writeFile(
    kc,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters: [{name: go, cluster: {server: "http://127.0.0.1:' + (front.address() as net.AddressInfo).port + '"}}]',
      'users: [{name: u, user: {}}]',
      'contexts: [{name: go, context: {cluster: go, user: u, namespace: default}}]',
      'current-context: go',
      '',
    ].join('\n'),
  );
  const env = { KUBECACHEDIR: path.join(dir, 'cache'), HOME: dir, KUBECTL_PORT_FORWARD_WEBSOCKETS: '' };
  const k = run('kubectl', ['--kubeconfig', kc, 'port-forward', 'pod/web', `:${podPort}`], env);
  t.teardown(() => k.kill());
  const m = await k.waitFor(/^Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)$/, 30_000);
  const data = randomBytes(4 * 1024 * 1024);
  t.ok((await echo(Number(m[1]), data)).equals(data), 'kubectl: 4 MiB byte-exact through the Go tunnel');
  const parts = Array.from({ length: 4 }, () => randomBytes(512 * 1024));
  const results = await Promise.all(parts.map((p) => echo(Number(m[1]), p)));
  t.equal(results.filter((r, i) => r.equals(parts[i]!)).length, 4, 'kubectl: 4 concurrent connections byte-exact');
  t.equal(tunnelled, 1, 'one upgrade request reached the Go server');
  t.equal(upgrades(go, 'websocket'), 1, 'kubectl used the WebSocket tunnel');
  t.equal(upgrades(go, 'spdy'), 0, 'and no SPDY upgrade');
  t.equal(k.child.exitCode, null, 'kubectl is still running');
});
