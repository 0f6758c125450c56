// Side by side: kubectl 1.32 and kube-spdy run with the same kubeconfig and environment for every row of
// issue 7's table, and must have the same outcome (forwarding works, or both fail). In CI kubectl must be
// there: a missing kubectl fails, never skips.
import t, { type Test } from 'tap';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir, chmod } from 'node:fs/promises';
import { startFakeApiServer, type FakeApiServerOptions } from '../lib/fake-apiserver/index.js';
import { startPodService, fetchVia } from '../lib/cli/demo.js';
import { run, cli, freePort } from './e2e-helpers.js';
import { startConnectProxy, startSocks5Proxy } from './kube-proxies.js';

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
if (kubectl.status !== 0 && process.env.CI) t.fail('kubectl is required in CI (.ci/run checks for it)');
if (kubectl.status !== 0) {
  t.pass('kubectl not installed (outside CI): side-by-side rows not run');
} else {
  t.test('kubectl and kube-spdy side by side, same kubeconfig and environment', (tt) => main(tt));
}

interface Outcome {
  ok: boolean;
  detail: string;
  err: string[];
}

async function main(t: Test): Promise<void> {
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

  async function api(t: Test, o: Partial<FakeApiServerOptions> = {}) {
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

  await row('TLS with certificate-authority-data and a bearer token', async (t, home) => {
    const srv = await api(t, { tls: true, tokens: ['tok-1'] });
    const kc = path.join(home, 'kc');
    await writeFile(kc, kubeconfig(srv.url, [caData(srv.tls!.caCert)], ['token: tok-1']));
    await both(t, ['--kubeconfig', kc, 'pod/web', `:${podPort}`], baseEnv(home), true);
  });

  await row('a wrong bearer token: both fail (401)', async (t, home) => {
    const srv = await api(t, { tls: true, tokens: ['tok-1'] });
    const kc = path.join(home, 'kc');
    await writeFile(kc, kubeconfig(srv.url, [caData(srv.tls!.caCert)], ['token: wrong']));
    const { s } = await both(t, ['--kubeconfig', kc, 'pod/web', `:${podPort}`], baseEnv(home), false);
    t.match(s.err.join('\n'), /Unauthorized/);
  });

  await row('client certificates from files with paths relative to the kubeconfig', async (t, home) => {
    const srv = await api(t, { tls: true, clientCertificates: true });
    await mkdir(path.join(home, 'conf', 'certs'), { recursive: true });
    await writeFile(path.join(home, 'conf', 'certs', 'ca.crt'), srv.tls!.caCert);
    await writeFile(path.join(home, 'conf', 'certs', 'client.crt'), srv.tls!.clientCert!);
    await writeFile(path.join(home, 'conf', 'certs', 'client.key'), srv.tls!.clientKey!);
    const kc = path.join(home, 'conf', 'kc');
    await writeFile(kc, kubeconfig(srv.url, ['certificate-authority: certs/ca.crt'], ['client-certificate: certs/client.crt', 'client-key: certs/client.key']));
    await both(t, ['--kubeconfig', kc, 'pod/web', `:${podPort}`], baseEnv(home), true);
  });

  await row('a TLS server whose CA is not given: both fail', async (t, home) => {
    const srv = await api(t, { tls: true, tokens: ['tok-1'] });
    const kc = path.join(home, 'kc');
    await writeFile(kc, kubeconfig(srv.url, [], ['token: tok-1']));
    await both(t, ['--kubeconfig', kc, 'pod/web', `:${podPort}`], baseEnv(home), false);
  });

  await row('user tokenFile (relative path)', async (t, home) => {
    const srv = await api(t, { tls: true, tokens: ['from-file'] });
    await mkdir(path.join(home, 'conf', 'secret'), { recursive: true });
    await writeFile(path.join(home, 'conf', 'secret', 'token'), 'from-file\n');
    const kc = path.join(home, 'conf', 'kc');
    await writeFile(kc, kubeconfig(srv.url, [caData(srv.tls!.caCert)], ['tokenFile: secret/token']));
    await both(t, ['--kubeconfig', kc, 'pod/web', `:${podPort}`], baseEnv(home), true);
  });

  await row('exec plugin with a relative command; KUBERNETES_EXEC_INFO required by the plugin', async (t, home) => {
    const srv = await api(t, { tls: true, tokens: ['exec-tok'] });
    await mkdir(path.join(home, 'conf', 'bin'), { recursive: true });
    const plugin = path.join(home, 'conf', 'bin', 'cred.sh');
    await writeFile(
      plugin,
      '#!/bin/sh\n[ -n "$KUBERNETES_EXEC_INFO" ] || { echo "KUBERNETES_EXEC_INFO is not set" >&2; exit 1; }\n' +
        'case "$KUBERNETES_EXEC_INFO" in *ExecCredential*) ;; *) echo "bad KUBERNETES_EXEC_INFO" >&2; exit 1;; esac\n' +
        'echo \'{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"exec-tok"}}\'\n',
    );
    await chmod(plugin, 0o755);
    const kc = path.join(home, 'conf', 'kc');
    await writeFile(
      kc,
      kubeconfig(srv.url, [caData(srv.tls!.caCert)], ['exec:', '  apiVersion: client.authentication.k8s.io/v1', '  command: ./bin/cred.sh', '  interactiveMode: Never']),
    );
    await both(t, ['--kubeconfig', kc, 'pod/web', `:${podPort}`], baseEnv(home), true);
  });

  await row('exec plugin whose credential expires (expirationTimestamp in 2 s)', async (t, home) => {
    const srv = await api(t, { tls: true, tokens: ['exp-tok'] });
    const plugin = path.join(home, 'cred.sh');
    await writeFile(
      plugin,
      '#!/bin/sh\nexp=$(date -u -d "+2 seconds" +%Y-%m-%dT%H:%M:%SZ)\n' +
        'echo "{\\"apiVersion\\":\\"client.authentication.k8s.io/v1beta1\\",\\"kind\\":\\"ExecCredential\\",\\"status\\":{\\"token\\":\\"exp-tok\\",\\"expirationTimestamp\\":\\"$exp\\"}}"\n',
    );
    await chmod(plugin, 0o755);
    const kc = path.join(home, 'kc');
    await writeFile(kc, kubeconfig(srv.url, [caData(srv.tls!.caCert)], ['exec:', '  apiVersion: client.authentication.k8s.io/v1beta1', `  command: ${plugin}`]));
    await both(t, ['--kubeconfig', kc, 'pod/web', `:${podPort}`], baseEnv(home), true);
  });

  await row('http:// server without insecure-skip-tls-verify; the token is never sent in clear text', async (t, home) => {
    const srv = await api(t);
    const kc = path.join(home, 'kc');
    await writeFile(kc, kubeconfig(srv.url, [], ['token: secret-token']));
    await both(t, ['--kubeconfig', kc, 'pod/web', `:${podPort}`], baseEnv(home), true);
    t.ok(srv.requests.length > 4, `${srv.requests.length} requests seen`);
    t.equal(srv.requests.filter((r) => r.authorization).length, 0, 'no request carried an Authorization header');
  });

  await row('KUBECONFIG=a:missing:b: first file wins for current-context and a duplicate cluster name', async (t, home) => {
    const srv = await api(t, { tls: true, tokens: ['tok-a'] });
    const dead = await freePort();
    const a = path.join(home, 'a');
    const b = path.join(home, 'b');
    await writeFile(a, kubeconfig(srv.url, [caData(srv.tls!.caCert)], ['token: tok-a'], { ns: 'team' }));
    await writeFile(
      b,
      kubeconfig(`https://127.0.0.1:${dead}`, ['insecure-skip-tls-verify: true'], ['token: tok-b'], { ns: 'nowhere' }).replace('current-context: x', 'current-context: other').replace('- name: x', '- name: other'),
    );
    const env = { ...baseEnv(home), KUBECONFIG: [a, path.join(home, 'missing'), b].join(path.delimiter) };
    await both(t, ['pod/web', `:${podPort}`], env, true);
    const pf = srv.requests.filter((r) => r.path.endsWith('/portforward'));
    t.ok(pf.length >= 2 && pf.every((r) => r.path.startsWith('/api/v1/namespaces/team/')), 'both used the namespace of the first file');
  });

  await row('proxy-url: an HTTP CONNECT proxy', async (t, home) => {
    const srv = await api(t, { tls: true, tokens: ['tok-1'] });
    const proxy = await startConnectProxy();
    t.teardown(() => proxy.close());
    const kc = path.join(home, 'kc');
    await writeFile(kc, kubeconfig(srv.url, [caData(srv.tls!.caCert), `proxy-url: ${proxy.url}`], ['token: tok-1']));
    await both(t, ['--kubeconfig', kc, 'pod/web', `:${podPort}`], baseEnv(home), true);
    t.ok(proxy.tunnels() >= 2, `${proxy.tunnels()} CONNECT tunnels (both went through the proxy)`);
  });

  await row('proxy-url: a SOCKS5 proxy', async (t, home) => {
    const srv = await api(t, { tls: true, tokens: ['tok-1'] });
    const proxy = await startSocks5Proxy();
    t.teardown(() => proxy.close());
    const kc = path.join(home, 'kc');
    await writeFile(kc, kubeconfig(srv.url, [caData(srv.tls!.caCert), `proxy-url: ${proxy.url}`], ['token: tok-1']));
    await both(t, ['--kubeconfig', kc, 'pod/web', `:${podPort}`], baseEnv(home), true);
    t.ok(proxy.tunnels() >= 2, `${proxy.tunnels()} SOCKS5 tunnels (both went through the proxy)`);
  });

  await row('HTTPS_PROXY set, loopback server: both connect directly (Go skips proxies for loopback)', async (t, home) => {
    const srv = await api(t, { tls: true, tokens: ['tok-1'] });
    const proxy = await startConnectProxy();
    t.teardown(() => proxy.close());
    const kc = path.join(home, 'kc');
    await writeFile(kc, kubeconfig(srv.url, [caData(srv.tls!.caCert)], ['token: tok-1']));
    await both(t, ['--kubeconfig', kc, 'pod/web', `:${podPort}`], { ...baseEnv(home), HTTPS_PROXY: proxy.url }, true);
    t.equal(proxy.tunnels(), 0, 'the proxy was not used');
  });

  await row('no kubeconfig at all: both fail on localhost:8080', async (t, home) => {
    const { s } = await both(t, ['pod/web', `:${podPort}`], baseEnv(home), false);
    t.match(s.err.join('\n'), /The connection to the server localhost:8080 was refused.*no kubeconfig found/);
  });

  await row('-n=team and --namespace team', async (t, home) => {
    const srv = await api(t, { tls: true, tokens: ['tok-1'] });
    const kc = path.join(home, 'kc');
    await writeFile(kc, kubeconfig(srv.url, [caData(srv.tls!.caCert)], ['token: tok-1']));
    srv.deletePod('default', 'web');
    await both(t, ['--kubeconfig', kc, '-n=team', 'pod/web', `:${podPort}`], baseEnv(home), true);
    await both(t, ['--kubeconfig', kc, '--namespace', 'team', 'pod/web', `:${podPort}`], baseEnv(home), true);
    await both(t, ['--kubeconfig', kc, 'pod/web', `:${podPort}`], baseEnv(home), false);
  });

  await row('svc/ (service port 80 → targetPort "http"), deploy/ with a named port, durations', async (t, home) => {
    const srv = await api(t, { tls: true, tokens: ['tok-1'] });
    const kc = path.join(home, 'kc');
    await writeFile(kc, kubeconfig(srv.url, [caData(srv.tls!.caCert)], ['token: tok-1']));
    const env = baseEnv(home);
    const { s } = await both(t, ['--kubeconfig', kc, '--pod-running-timeout=1m0s', '--request-timeout', '30s', 'svc/web', ':80'], env, true);
    t.ok(s.err.length === 0, 'kube-spdy printed no error');
    await both(t, ['--kubeconfig', kc, 'service/web', ':http'], env, true);
    await both(t, ['--kubeconfig', kc, 'deploy/web', ':http'], env, true);
    await both(t, ['--kubeconfig', kc, 'deployment/web', `:${podPort}`], env, true);
    await both(t, ['--kubeconfig', kc, 'svc/nope', ':80'], env, false);
  });

  const portForwards = (srv: { requests: { method: string; path: string }[] }, method: string): number =>
    srv.requests.filter((r) => r.method === method && r.path.endsWith('/portforward')).length;

  await row('the WebSocket tunnel first; SPDY refused (a gateway that passes only WebSockets): both forward over the tunnel', async (t, home) => {
    const srv = await api(t, { tls: true, tokens: ['tok-1'], transports: ['websocket'] });
    const kc = path.join(home, 'kc');
    await writeFile(kc, kubeconfig(srv.url, [caData(srv.tls!.caCert)], ['token: tok-1']));
    await both(t, ['--kubeconfig', kc, 'pod/web', `:${podPort}`], baseEnv(home), true);
    t.equal(portForwards(srv, 'GET'), 2, 'one tunnel GET each');
    t.equal(portForwards(srv, 'POST'), 0, 'no SPDY upgrade tried');
  });

  await row('a server without the tunnel (its GET answered 400): both fall back to the SPDY upgrade', async (t, home) => {
    const srv = await api(t, { tls: true, tokens: ['tok-1'], transports: ['spdy'] });
    const kc = path.join(home, 'kc');
    await writeFile(kc, kubeconfig(srv.url, [caData(srv.tls!.caCert)], ['token: tok-1']));
    await both(t, ['--kubeconfig', kc, 'pod/web', `:${podPort}`], baseEnv(home), true);
    t.equal(portForwards(srv, 'GET'), 2, 'each tried the tunnel first');
    t.equal(portForwards(srv, 'POST'), 2, 'then the SPDY upgrade');
  });

  await row('KUBECTL_PORT_FORWARD_WEBSOCKETS=false: both skip the tunnel', async (t, home) => {
    const env = { ...baseEnv(home), KUBECTL_PORT_FORWARD_WEBSOCKETS: 'false' };
    const spdy = await api(t, { tls: true, tokens: ['tok-1'], transports: ['spdy'] });
    const kc = path.join(home, 'kc');
    await writeFile(kc, kubeconfig(spdy.url, [caData(spdy.tls!.caCert)], ['token: tok-1']));
    await both(t, ['--kubeconfig', kc, 'pod/web', `:${podPort}`], env, true);
    t.equal(portForwards(spdy, 'GET'), 0, 'no tunnel GET');
    t.equal(portForwards(spdy, 'POST'), 2, 'the SPDY upgrade only');
    const ws = await api(t, { tls: true, tokens: ['tok-1'], transports: ['websocket'] });
    const kc2 = path.join(home, 'kc2');
    await writeFile(kc2, kubeconfig(ws.url, [caData(ws.tls!.caCert)], ['token: tok-1']));
    await both(t, ['--kubeconfig', kc2, 'pod/web', `:${podPort}`], env, false);
    t.equal(portForwards(ws, 'GET'), 0, 'a server with only the tunnel: still no tunnel GET, both fail');
  });

  await row('-v=4 and --v 6 (kubectl log levels) are accepted', async (t, home) => {
    const srv = await api(t, { tls: true, tokens: ['tok-1'] });
    const kc = path.join(home, 'kc');
    await writeFile(kc, kubeconfig(srv.url, [caData(srv.tls!.caCert)], ['token: tok-1']));
    await both(t, ['--kubeconfig', kc, '-v=4', 'pod/web', `:${podPort}`], baseEnv(home), true);
    const { s } = await both(t, ['--kubeconfig', kc, '--v', '6', 'svc/web', ':80'], baseEnv(home), true);
    t.notMatch(s.err.join('\n'), /tok-1/, 'kube-spdy at -v 6 never prints the token');
  });

  await row('a pod that is not running (Pending): both fail with the same message', async (t, home) => {
    const srv = await api(t, {
      tls: true,
      tokens: ['tok-1'],
      pods: [{ namespace: 'default', name: 'web', phase: 'Pending', labels: { app: 'web' }, ports: [{ name: 'http', containerPort: podPort }] }],
    });
    const kc = path.join(home, 'kc');
    await writeFile(kc, kubeconfig(srv.url, [caData(srv.tls!.caCert)], ['token: tok-1']));
    for (const target of ['pod/web', 'deploy/web']) {
      const { k, s } = await both(t, ['--kubeconfig', kc, '--pod-running-timeout=2s', target, ':http'], baseEnv(home), false);
      const msg = /unable to forward port because pod is not running\. Current status=Pending/;
      t.match(k.err.join('\n'), msg, `${target}: kubectl's message`);
      t.match(s.err.join('\n'), msg, `${target}: kube-spdy's is the same`);
    }
  });

  await row('one of two local ports busy: a warning, the other is forwarded', async (t, home) => {
    const srv = await api(t, { tls: true, tokens: ['tok-1'] });
    const kc = path.join(home, 'kc');
    await writeFile(kc, kubeconfig(srv.url, [caData(srv.tls!.caCert)], ['token: tok-1']));
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    t.teardown(() => busy.close());
    const busyPort = (busy.address() as net.AddressInfo).port;
    const { k, s } = await both(t, ['--kubeconfig', kc, '--address', '127.0.0.1', 'pod/web', `${busyPort}:${podPort}`, `:${podPort}`], baseEnv(home), true);
    t.match(k.err.join('\n'), new RegExp(`Unable to listen on port ${busyPort}`), 'kubectl warns');
    t.match(s.err.join('\n'), new RegExp(`Unable to listen on port ${busyPort}`), 'kube-spdy warns');
  });
}
