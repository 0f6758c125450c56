// Real kubectl exec through kube-spdy's fake API server (lib/remotecommand server, commands run as local
// child processes): the default WebSocket path (v5.channel.k8s.io) and SPDY
// (KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false). In CI kubectl must be there: missing fails, never skips.
import t from 'tap';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { startFakeApiServer } from '../lib/fake-apiserver/index.js';
import { capture } from './exec-helpers.js';

const haveKubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
if (!haveKubectl && process.env.CI) t.fail('kubectl is required in CI (.ci/run checks for it)');
const skip = haveKubectl ? false : 'kubectl not installed (outside CI)';

const TRANSPORTS = [
  { name: 'WebSocket (default)', env: {}, transport: 'websocket', protocol: 'v5.channel.k8s.io' },
  { name: 'SPDY (KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false)', env: { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' }, transport: 'spdy', protocol: 'v5.channel.k8s.io' },
] as const;

t.test('kubectl exec through the fake API server', { skip }, async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kube-spdy-exec-kubectl-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const api = await startFakeApiServer({ pods: [{ namespace: 'default', name: 'web' }], exec: { cwd: dir, env: { ...process.env, KS_MARK: 'fake-container' } } });
  t.teardown(() => api.close());
  const kc = path.join(dir, 'kubeconfig');
  await api.writeKubeconfig(kc);
  const base = { KUBECONFIG: kc, HOME: dir, KUBECACHEDIR: path.join(dir, 'cache') };
  const input = crypto.randomBytes(8 * 1024 * 1024);

  for (const tr of TRANSPORTS) {
    t.test(tr.name, async (t) => {
      const env = { ...base, ...tr.env };
      const before = api.execSessions.length;
      const big = await capture('kubectl', ['exec', '-i', 'web', '--', 'sh', '-c', 'cat; echo to-stderr >&2'], env, input);
      t.equal(big.code, 0, `exit 0 (stderr: ${big.stderr})`);
      t.equal(big.stdout.length, input.length, '8 MiB came back');
      t.ok(big.stdout.equals(input), 'stdin → stdout byte-exact');
      t.equal(big.stderr, 'to-stderr\n', 'stderr apart from stdout');
      const s = api.execSessions[before];
      t.same(s && { transport: s.transport, protocol: s.protocol }, { transport: tr.transport, protocol: tr.protocol }, `kubectl used ${tr.transport} ${tr.protocol}`);

      const env2 = await capture('kubectl', ['exec', 'web', '--', 'sh', '-c', 'echo "$KS_MARK $(pwd)"'], env);
      t.equal(env2.code, 0);
      t.equal(env2.stdout.toString(), `fake-container ${dir}\n`, 'environment and working directory from the fake container options');

      const three = await capture('kubectl', ['exec', 'web', '--', 'sh', '-c', 'echo out; exit 3'], env);
      t.equal(three.code, 3, 'remote exit code 3 is kubectl\'s');
      t.equal(three.stdout.toString(), 'out\n');
      t.match(three.stderr, /command terminated with exit code 3/);

      const zero = await capture('kubectl', ['exec', 'web', '--', 'true'], env);
      t.equal(zero.code, 0);
      t.equal(zero.stderr, '');

      const missing = await capture('kubectl', ['exec', 'web', '--', 'no-such-command-kube-spdy'], env);
      t.equal(missing.code, 1, 'a command that does not exist: kubectl exits 1');
      t.match(missing.stderr, /error: Internal error occurred: error executing command in container: .*exec: "no-such-command-kube-spdy": executable file not found in \$PATH/);

      const badContainer = await capture('kubectl', ['exec', 'web', '-c', 'sidecar', '--', 'true'], env);
      t.equal(badContainer.code, 1);
      t.match(badContainer.stderr, /container sidecar is not valid for pod web/);
    });
  }
});
