// Real kubectl through kube-spdy's fake API server (kube-spdy's SPDY/3.1 server side and port-forward
// handler) to a real HTTP server. In CI kubectl must be there: a missing kubectl fails, never skips.
import t from 'tap';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { startFakeApiServer } from '../lib/fake-apiserver/index.js';
import { startPodService, fetchVia, patternBytes } from '../lib/cli/demo.js';
import { run } from './e2e-helpers.js';

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
const haveKubectl = kubectl.status === 0;
if (!haveKubectl && process.env.CI) {
  t.fail('kubectl is required in CI (.ci/run checks for it)');
}

t.test('kubectl port-forward through the fake API server', { skip: haveKubectl ? false : 'kubectl not installed (outside CI)' }, async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kube-spdy-kubectl-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const pod = await startPodService();
  const podPort = (pod.address() as net.AddressInfo).port;
  t.teardown(() => {
    pod.closeAllConnections();
    pod.close();
  });
  const api = await startFakeApiServer({ pods: [{ namespace: 'default', name: 'web', ports: [podPort] }] });
  t.teardown(() => api.close());
  const kc = path.join(dir, 'kubeconfig');
  await api.writeKubeconfig(kc);
  const k = run('kubectl', ['--kubeconfig', kc, 'port-forward', 'pod/web', `:${podPort}`], { KUBECACHEDIR: path.join(dir, 'cache'), HOME: dir });
  t.teardown(() => k.kill());
  const m = await k.waitFor(/^Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)$/, 30000);
  const local = Number(m[1]);
  t.equal(Number(m[2]), podPort);

  let ok = 0;
  for (let i = 0; i < 50; i++) if ((await fetchVia(local, `/s/${i}`)).body.toString() === `hello from the pod: GET /s/${i}\n`) ok++;
  t.equal(ok, 50, '50 sequential requests through kubectl');
  const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => fetchVia(local, `/c/${i}`)));
  t.equal(rs.filter((r, i) => r.body.toString() === `hello from the pod: GET /c/${i}\n`).length, 20, '20 concurrent requests through kubectl');
  const size = 8 * 1024 * 1024;
  const big = await fetchVia(local, `/bytes?n=${size}`, 60000);
  t.equal(big.body.length, size);
  t.ok(big.body.equals(patternBytes(size)), '8 MiB byte-exact through kubectl');
  await k.waitFor(new RegExp(`^Handling connection for ${local}$`));
  t.equal(api.connections.size, 1, 'kubectl used one SPDY connection for all of it');
  t.equal(k.child.exitCode, null, 'kubectl is still running');
});
