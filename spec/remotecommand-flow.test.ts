// remotecommand over SPDY between kube-spdy's own client and server uses flowControl 'auto' (issue 6 item 3:
// the default of every Kubernetes layer): both ends send SETTINGS, so windows apply per stream and a stdout
// that is not read does not hold back stderr on the same connection. In compatibility mode (what
// moby/spdystream peers force) the unread stdout would pause the socket and stall stderr with it.
// Loopback only.
import t from 'tap';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { Writable } from 'node:stream';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { exec } from '../lib/remotecommand/client.js';
import { startFakeApiServer } from '../lib/fake-apiserver/index.js';

const SIZE = 4 * 1024 * 1024;

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

t.test('spdy: an unread stdout does not hold back stderr (per-stream windows with a kube-spdy server)', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kube-spdy-exec-flow-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const data = crypto.randomBytes(SIZE);
  await writeFile(path.join(dir, 'big.bin'), data);
  const want = crypto.createHash('sha256').update(data).digest('hex');
  const api = await startFakeApiServer({ pods: [{ namespace: 'default', name: 'web' }], exec: { cwd: dir } });
  t.teardown(() => api.close());

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
