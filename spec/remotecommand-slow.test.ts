// The slow-client cases Kubernetes tests for remotecommand (cri-streaming remotecommand/slowclient_test.go,
// kubernetes#124571), through the fake API server with real child processes, both transports:
// a 16 MiB output read at ~16 MiB/s arrives complete, and stdin flooded while the command ignores it
// does not hang the session. And over SPDY between kube-spdy's own client and server, flowControl 'auto'
// (issue 6 item 3: the default of every Kubernetes layer) gives per-stream windows: a stdout that is not
// read does not hold back stderr (in compatibility mode, what moby/spdystream peers force, the unread
// stdout would pause the socket and stall stderr with it). Loopback only.
import t from 'tap';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { exec } from '../lib/remotecommand/client.js';
import { startFakeApiServer } from '../lib/fake-apiserver/index.js';

const TRANSPORTS = ['websocket', 'spdy'] as const;
const SIZE = 16 * 1024 * 1024;

/** A Writable that takes ~`rate` bytes/s: each chunk is acknowledged after its share of time. */
function slowSink(rate: number): Writable & { digest(): string; size(): number } {
  const hash = crypto.createHash('sha256');
  let size = 0;
  const w = new Writable({
    highWaterMark: 16 * 1024,
    write(c: Buffer, _e, cb) {
      hash.update(c);
      size += c.length;
      setTimeout(cb, (c.length / rate) * 1000);
    },
  });
  return Object.assign(w, { digest: () => hash.digest('hex'), size: () => size });
}

/** A sink that holds every write until `release` is called, then hashes what it got. */
function heldSink(): Writable & { release(): void; size(): number; digest(): string } {
  const hash = crypto.createHash('sha256');
  let size = 0;
  let waiting: (() => void)[] = [];
  let released = false;
  const w = new Writable({
    highWaterMark: 16 * 1024,
    write(c: Buffer, _e, cb) {
      hash.update(c);
      size += c.length;
      if (released) cb();
      else waiting.push(cb);
    },
  });
  return Object.assign(w, {
    release: () => {
      released = true;
      const cbs = waiting;
      waiting = [];
      for (const cb of cbs) cb();
    },
    size: () => size,
    digest: () => hash.digest('hex'),
  });
}

t.test('slow clients', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kube-spdy-exec-slow-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const data = crypto.randomBytes(SIZE);
  await writeFile(path.join(dir, 'big.bin'), data);
  const want = crypto.createHash('sha256').update(data).digest('hex');
  const api = await startFakeApiServer({ pods: [{ namespace: 'default', name: 'web' }], exec: { cwd: dir } });
  t.teardown(() => api.close());

  for (const transport of TRANSPORTS) {
    t.test(`${transport}: 16 MiB output read at ~16 MiB/s arrives complete`, async (t) => {
      const out = slowSink(SIZE);
      const started = Date.now();
      const r = await exec({ server: api.url, namespace: 'default', pod: 'web', command: ['cat', 'big.bin'], stdout: out, stderr: slowSink(SIZE), transport });
      t.equal(r.exitCode, 0);
      t.equal(out.size(), SIZE, 'every byte');
      t.equal(out.digest(), want, 'the same bytes');
      t.ok(Date.now() - started >= 500, 'the reader really was slow (~1 s)');
    });

    t.test(`${transport}: stdin flooded while the command ignores it does not hang`, async (t) => {
      let produced = 0;
      const flood = new Readable({
        read() {
          produced += 64 * 1024;
          this.push(Buffer.alloc(64 * 1024, 0x61));
        },
      });
      const out = new Writable({ write: (c, _e, cb) => ((text += c.toString()), cb()) });
      let text = '';
      const started = Date.now();
      const r = await exec({ server: api.url, namespace: 'default', pod: 'web', command: ['sh', '-c', 'sleep 1; echo done'], stdin: flood, stdout: out, transport });
      t.equal(r.exitCode, 0);
      t.equal(text, 'done\n');
      t.ok(produced > 1024 * 1024, `the client kept offering stdin (${(produced / 1048576).toFixed(1)} MiB)`);
      t.ok(Date.now() - started < 20000, 'the session ended once the command did');
      const before = produced;
      await new Promise((r) => setTimeout(r, 100));
      t.ok(produced - before <= 2 * 1024 * 1024, 'stdin is no longer read after the end');
      flood.destroy();
    });
  }

  t.test('spdy: an unread stdout does not hold back stderr (per-stream windows with a kube-spdy server)', async (t) => {
    // stdout is held until all of stderr has arrived; the command writes both at once.
    const out = heldSink();
    let errBytes = 0;
    const errHash = crypto.createHash('sha256');
    const err = new Writable({
      write(c: Buffer, _e, cb) {
        errHash.update(c);
        errBytes += c.length;
        if (errBytes === SIZE) out.release();
        cb();
      },
    });
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 30_000);
    const started = Date.now();
    const r = await exec({
      server: api.url,
      namespace: 'default',
      pod: 'web',
      command: ['sh', '-c', 'cat big.bin & cat big.bin >&2; wait'],
      stdout: out,
      stderr: err,
      transport: 'spdy',
      signal: ac.signal,
    }).finally(() => clearTimeout(timer));
    t.equal(r.exitCode, 0);
    t.equal(errBytes, SIZE, 'all of stderr arrived while stdout was not read');
    t.equal(errHash.digest('hex'), want, 'stderr byte-exact');
    t.equal(out.size(), SIZE, 'then all of stdout');
    t.equal(out.digest(), want, 'stdout byte-exact');
    t.ok(Date.now() - started < 30_000);
  });
});
