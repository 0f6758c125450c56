// @kubernetes/client-node's own Exec (its WebSocket path, v5.channel.k8s.io) through kube-spdy's fake
// API server: output, stderr apart, stdin with its v5 CLOSE, and the Status it hands to statusCallback.
import t from 'tap';
import { PassThrough, Readable } from 'node:stream';
import { KubeConfig, Exec, type V1Status } from '@kubernetes/client-node';
import { startFakeApiServer } from '../lib/fake-apiserver/index.js';

function collect(s: PassThrough): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    s.setEncoding('utf8');
    s.on('data', (c: string) => (text += c));
    s.on('end', () => resolve(text));
  });
}

t.test('client-node Exec through the fake API server', async (t) => {
  const api = await startFakeApiServer({ pods: [{ namespace: 'default', name: 'web' }], exec: true });
  t.teardown(() => api.close());
  const kc = new KubeConfig();
  kc.loadFromString(api.kubeconfig());
  const ex = new Exec(kc);

  const run = async (command: string[], stdin: Readable | null): Promise<{ out: string; err: string; status: V1Status }> => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const outP = collect(stdout);
    const errP = collect(stderr);
    const status = await new Promise<V1Status>((resolve, reject) => {
      ex.exec('default', 'web', 'main', command, stdout, stderr, stdin, false, resolve).catch(reject);
    });
    return { out: await outP, err: await errP, status };
  };

  const ok = await run(['sh', '-c', 'cat; echo to-stderr >&2'], Readable.from([Buffer.from('hello from client-node\n')]));
  t.equal(ok.out, 'hello from client-node\n', 'stdin → stdout (stdin ended with the v5 CLOSE)');
  t.equal(ok.err, 'to-stderr\n', 'stderr apart');
  t.equal(ok.status.status, 'Success');

  const three = await run(['sh', '-c', 'echo x; exit 3'], null);
  t.equal(three.out, 'x\n');
  t.equal(three.status.status, 'Failure');
  t.equal(three.status.reason, 'NonZeroExitCode');
  t.same(three.status.details?.causes, [{ reason: 'ExitCode', message: '3' }], 'the exit code cause client-node users read');

  const missing = await run(['no-such-command-kube-spdy'], null);
  t.equal(missing.status.reason, 'InternalError');
  t.match(missing.status.message, /executable file not found in \$PATH/);
  t.same(
    api.execSessions.map((s) => `${s.transport} ${s.protocol}`),
    ['websocket v5.channel.k8s.io', 'websocket v5.channel.k8s.io', 'websocket v5.channel.k8s.io'],
  );
});
