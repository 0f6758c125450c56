// The side-by-side harness of spec/kubectl-parity*.test.ts: kubectl 1.32 and kube-spdy run with the same
// arguments, kubeconfig and environment, and must have the same outcome (forwarding works, or both fail).
// In CI kubectl must be there: a missing kubectl fails, never skips.
import t, { type Test } from 'tap';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, mkdir } from 'node:fs/promises';
import { startFakeApiServer, type FakeApiServerOptions } from '../lib/fake-apiserver/index.js';
import { generateTlsMaterial, type TlsMaterial } from '../lib/fake-apiserver/tls.js';
import { startPodService, fetchVia } from '../lib/cli/demo.js';
import { run, cli } from './e2e-helpers.js';

export interface Outcome {
  ok: boolean;
  detail: string;
  err: string[];
}

/** Runs `body` with the harness when kubectl is installed (in CI it must be). */
export function sideBySide(title: string, body: (h: Harness) => Promise<void>): void {
  // Each file spawns kubectl and kube-spdy ~35 times each: ~1 min alone, 3–4 min measured on the loaded
  // 2-core machine (load 11) beside the rest of the suite, which the default 300 s file timeout (.taprc) cuts close.
  t.setTimeout(600_000);
  const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  if (kubectl.status !== 0 && process.env.CI) t.fail('kubectl is required in CI (.ci/run checks for it)');
  if (kubectl.status !== 0) t.pass('kubectl not installed (outside CI): side-by-side rows not run');
  else t.test(title, async (tt) => body(await harness(tt)));
}

export type Harness = Awaited<ReturnType<typeof harness>>;

async function harness(t: Test) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kube-spdy-parity-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const podSrv = await startPodService();
  const podPort = (podSrv.address() as net.AddressInfo).port;
  t.teardown(() => {
    podSrv.closeAllConnections();
    podSrv.close();
  });
  let rowN = 0;
  // A clean environment: nothing of the developer's kubeconfig or proxies leaks in.
  const baseEnv = (home: string): NodeJS.ProcessEnv => ({
    HOME: home,
    KUBECACHEDIR: path.join(home, 'cache'),
    KUBECONFIG: '',
    HTTPS_PROXY: '',
    HTTP_PROXY: '',
    https_proxy: '',
    http_proxy: '',
    NO_PROXY: '',
    no_proxy: '',
    KUBECTL_PORT_FORWARD_WEBSOCKETS: '',
  });

  async function attempt(which: 'kubectl' | 'kube-spdy', args: string[], env: NodeJS.ProcessEnv): Promise<Outcome> {
    const p = which === 'kubectl' ? run('kubectl', args, env) : cli(args, env);
    try {
      const m = await p.waitFor(/^Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)$/, 40000);
      const r = await fetchVia(Number(m[1]), '/parity', 20000);
      const ok = r.body.toString() === 'hello from the pod: GET /parity\n';
      return { ok, detail: ok ? 'forwarded' : `unexpected body ${JSON.stringify(r.body.toString().slice(0, 80))}`, err: p.err };
    } catch (e) {
      return { ok: false, detail: (p.err.join(' | ') || (e as Error).message).slice(0, 300), err: p.err };
    } finally {
      await p.kill();
    }
  }

  /** Runs both with `args` (after `port-forward`) and checks both reach `expected`. */
  async function both(t: Test, args: string[], env: NodeJS.ProcessEnv, expected: boolean): Promise<{ k: Outcome; s: Outcome }> {
    const full = ['port-forward', ...args];
    const [k, s] = await Promise.all([attempt('kubectl', full, env), attempt('kube-spdy', full, env)]);
    t.equal(k.ok, expected, `kubectl ${expected ? 'forwards' : 'fails'}: ${k.detail}`);
    t.equal(s.ok, expected, `kube-spdy ${expected ? 'forwards' : 'fails'}: ${s.detail}`);
    return { k, s };
  }

  async function row(name: string, fn: (t: Test, home: string) => Promise<void>): Promise<void> {
    const home = path.join(dir, `row${rowN++}`);
    await mkdir(home, { recursive: true });
    await t.test(name, (tt) => fn(tt, home));
  }

  // One generated CA and server certificate for every row (generating them costs ~0.8 s on a loaded machine).
  let material: TlsMaterial | undefined;
  async function api(t: Test, o: Partial<FakeApiServerOptions> = {}) {
    if (o.tls === true) o = { ...o, tls: (material ??= await generateTlsMaterial('127.0.0.1')) };
    const srv = await startFakeApiServer({
      pods: [
        { namespace: 'default', name: 'web', labels: { app: 'web' }, ports: [{ name: 'http', containerPort: podPort }] },
        { namespace: 'team', name: 'web', labels: { app: 'web' }, ports: [{ name: 'http', containerPort: podPort }] },
      ],
      services: [{ namespace: 'default', name: 'web', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] }],
      workloads: [{ kind: 'Deployment', namespace: 'default', name: 'web', selector: { app: 'web' } }],
      ...o,
    });
    t.teardown(() => srv.close());
    return srv;
  }

  const kubeconfig = (server: string, cluster: string[], user: string[], extra: { ns?: string } = {}): string =>
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: c',
      '  cluster:',
      `    server: ${server}`,
      ...cluster.map((l) => `    ${l}`),
      'users:',
      '- name: u',
      '  user:',
      ...(user.length ? user.map((l) => `    ${l}`) : ['    {}']),
      'contexts:',
      '- name: x',
      '  context:',
      '    cluster: c',
      '    user: u',
      ...(extra.ns ? [`    namespace: ${extra.ns}`] : []),
      'current-context: x',
      '',
    ].join('\n');
  const caData = (pem: string): string => `certificate-authority-data: ${Buffer.from(pem).toString('base64')}`;
  return { podPort, baseEnv, both, row, api, kubeconfig, caData };
}
