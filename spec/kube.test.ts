// lib/kube: kubeconfig rules (merge, paths, defaults), proxies from the environment, durations, targets
// and ports; portForward() following a replaced pod, fresh credentials on every dial (token file rotated,
// exec credential expired); @kubernetes/client-node's own PortForward through the fake API server.
import t, { type Test } from 'tap';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { mkdtemp, rm, writeFile, chmod, readFile } from 'node:fs/promises';
import { loadKubeconfig, DEFAULT_SERVER } from '../lib/kube/kubeconfig.js';
import { proxyFromEnvironment, noProxyMatches } from '../lib/kube/proxy.js';
import { parseDuration } from '../lib/kube/duration.js';
import { parseTarget, parsePortRequests } from '../lib/kube/target.js';
import { portForward } from '../lib/kube/portforward.js';
import { startFakeApiServer } from '../lib/fake-apiserver/index.js';
import { startPodService, fetchVia } from '../lib/cli/demo.js';
import { splitShortEquals } from '../lib/cli/port-forward.js';
import { InvalidArgumentError } from '../lib/errors.js';

async function tmp(t: Test): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'kube-spdy-kube-'));
  t.teardown(() => rm(d, { recursive: true, force: true }));
  return d;
}

const kc = (o: { cluster: string; server: string; ctx: string; ns?: string; user?: string; userLines?: string[]; current?: string; clusterLines?: string[] }): string =>
  [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${o.cluster}`,
    '  cluster:',
    `    server: ${o.server}`,
    ...(o.clusterLines ?? []).map((l) => `    ${l}`),
    'users:',
    `- name: ${o.user ?? 'u'}`,
    '  user:',
    ...(o.userLines ?? ['token: t']).map((l) => `    ${l}`),
    'contexts:',
    `- name: ${o.ctx}`,
    '  context:',
    `    cluster: ${o.cluster}`,
    `    user: ${o.user ?? 'u'}`,
    ...(o.ns ? [`    namespace: ${o.ns}`] : []),
    ...(o.current ? [`current-context: ${o.current}`] : []),
    '',
  ].join('\n');

t.test('KUBECONFIG merge: first wins for every map and for current-context; missing files skipped', async (t) => {
  const d = await tmp(t);
  await writeFile(path.join(d, 'a'), kc({ cluster: 'c', server: 'https://a.example:6443', ctx: 'ca', ns: 'na', current: 'ca' }));
  await writeFile(path.join(d, 'b'), kc({ cluster: 'c', server: 'https://b.example:6443', ctx: 'cb', ns: 'nb', current: 'cb' }));
  const env = { KUBECONFIG: [path.join(d, 'a'), path.join(d, 'nope'), path.join(d, 'b')].join(path.delimiter), HOME: d };
  const k = await loadKubeconfig({ env });
  t.equal(k.server, 'https://a.example:6443');
  t.equal(k.namespace, 'na');
  t.equal(k.context, 'ca');
  t.same(k.origin.files, [path.join(d, 'a'), path.join(d, 'b')]);
  const kb = await loadKubeconfig({ env, context: 'cb' });
  t.equal(kb.server, 'https://a.example:6443', 'context cb names cluster c, and the first definition of c wins');
  t.equal(kb.namespace, 'nb');
  t.equal((await loadKubeconfig({ env, context: 'cb', namespace: 'x' })).namespace, 'x');
  await t.rejects(loadKubeconfig({ env, context: 'zz' }), /context was not found for specified context: zz/);
  await t.rejects(loadKubeconfig({ kubeconfig: path.join(d, 'nope') }), /stat .*nope: no such file or directory/);
});

t.test('no kubeconfig, no current-context, unknown cluster: localhost:8080 with the reason', async (t) => {
  const d = await tmp(t);
  let k = await loadKubeconfig({ env: { HOME: d } });
  t.equal(k.server, DEFAULT_SERVER);
  t.match(k.origin.defaultReason, /no kubeconfig found/);
  await writeFile(path.join(d, 'nocur'), kc({ cluster: 'c', server: 'https://a.example', ctx: 'x' }));
  k = await loadKubeconfig({ kubeconfig: path.join(d, 'nocur') });
  t.equal(k.server, DEFAULT_SERVER);
  t.match(k.origin.defaultReason, /sets no current-context/);
  await writeFile(path.join(d, 'nocl'), kc({ cluster: 'c', server: 'https://a.example', ctx: 'x', current: 'x' }).replace('    cluster: c', '    cluster: other'));
  k = await loadKubeconfig({ kubeconfig: path.join(d, 'nocl') });
  t.match(k.origin.defaultReason, /names cluster "other", which the kubeconfig does not define/);
});

t.test('http server: no credentials; tokenFile re-read on every call', async (t) => {
  const d = await tmp(t);
  await writeFile(path.join(d, 'h'), kc({ cluster: 'c', server: 'http://127.0.0.1:1', ctx: 'x', current: 'x' }));
  const h = await loadKubeconfig({ kubeconfig: path.join(d, 'h') });
  t.same((await h.credentials()).headers, {}, 'no Authorization over http');
  await writeFile(path.join(d, 'tok'), 'one\n');
  await writeFile(path.join(d, 's'), kc({ cluster: 'c', server: 'https://127.0.0.1:1', ctx: 'x', current: 'x', userLines: ['tokenFile: tok'] }));
  const s = await loadKubeconfig({ kubeconfig: path.join(d, 's') });
  t.equal((await s.credentials()).headers.Authorization, 'Bearer one');
  await writeFile(path.join(d, 'tok'), 'two\n');
  t.equal((await s.credentials()).headers.Authorization, 'Bearer two', 'a rotated token file is picked up');
});

t.test('proxies from the environment, NO_PROXY, durations, targets, ports, -n=ns', async (t) => {
  const u = (s: string) => new URL(s);
  t.equal(proxyFromEnvironment(u('https://k.example:6443'), { HTTPS_PROXY: 'http://p:3128' })?.href, 'http://p:3128/');
  t.equal(proxyFromEnvironment(u('https://k.example:6443'), { https_proxy: 'socks5://p:1080' })?.protocol, 'socks5:');
  t.equal(proxyFromEnvironment(u('http://k.example'), { HTTPS_PROXY: 'http://p:3128' }), undefined, 'HTTPS_PROXY is for https servers');
  t.equal(proxyFromEnvironment(u('https://127.0.0.1:6443'), { HTTPS_PROXY: 'http://p:3128' }), undefined, 'loopback is never proxied');
  t.equal(proxyFromEnvironment(u('https://localhost:6443'), { HTTPS_PROXY: 'http://p:3128' }), undefined);
  t.equal(proxyFromEnvironment(u('https://k.example:6443'), { HTTPS_PROXY: 'http://p:3128', NO_PROXY: '.example' }), undefined);
  t.ok(noProxyMatches('*', 'a', '1'));
  t.ok(noProxyMatches('example.com', 'api.example.com', '443'));
  t.ok(noProxyMatches('10.0.0.0/8', '10.1.2.3', '443'));
  t.notOk(noProxyMatches('10.0.0.0/8', '11.1.2.3', '443'));
  t.ok(noProxyMatches('k.example:6443', 'k.example', '6443'));
  t.notOk(noProxyMatches('k.example:6443', 'k.example', '443'));
  t.notOk(noProxyMatches('ample.com', 'example.com', '443'));

  t.equal(parseDuration('1m0s'), 60000);
  t.equal(parseDuration('30s'), 30000);
  t.equal(parseDuration('1.5h'), 5400000);
  t.equal(parseDuration('250ms'), 250);
  t.equal(parseDuration('0'), 0);
  t.equal(parseDuration('5', 'x', true), 5000, 'bare seconds for --request-timeout');
  for (const bad of ['', '5', '1x', 'm', '1m0', '--1s']) t.throws(() => parseDuration(bad), InvalidArgumentError, `"${bad}" is not a duration`);

  const targets: [string, string, string][] = [
    ['web', 'pod', 'web'], ['pod/web', 'pod', 'web'], ['po/web', 'pod', 'web'], ['pods/web', 'pod', 'web'],
    ['deployment/web', 'deployment', 'web'], ['deploy/web', 'deployment', 'web'], ['deployments.apps/web', 'deployment', 'web'],
    ['replicaset/web', 'replicaset', 'web'], ['rs/web', 'replicaset', 'web'], ['statefulset/db', 'statefulset', 'db'], ['sts/db', 'statefulset', 'db'],
    ['service/web', 'service', 'web'], ['svc/web', 'service', 'web'],
  ];
  for (const [s, kind, name] of targets) t.same(parseTarget(s), { kind, name }, s);
  t.throws(() => parseTarget('job/x'), /unsupported target type "job"/);
  t.throws(() => parseTarget('pod/Bad!'), InvalidArgumentError);

  t.same(parsePortRequests(['8080:http', ':80', '5432', 'http']).map((r) => [r.local, r.remote]), [[8080, 'http'], [0, 80], [5432, 5432], [undefined, 'http']]);
  t.throws(() => parsePortRequests(['8080:80', '8080:81']), /local port 8080 is given twice/);
  t.throws(() => parsePortRequests(['http', 'http']), /given twice/);
  t.same(parsePortRequests([':80', ':81']).length, 2, 'several free local ports are fine');
  for (const bad of ['0', '70000', 'a:80', '1:2:3', 'Bad_Name', '8080:']) t.throws(() => parsePortRequests([bad]), InvalidArgumentError, `"${bad}" is rejected`);
  t.same(splitShortEquals(['-n=team', '--namespace=x', '-v=4', 'pod/a']), ['-n', 'team', '--namespace=x', '-v', '4', 'pod/a']);
});

async function podService(t: Test): Promise<number> {
  const srv = await startPodService();
  t.teardown(() => {
    srv.closeAllConnections();
    srv.close();
  });
  return (srv.address() as net.AddressInfo).port;
}

t.test('portForward(deploy/…) follows a replaced pod on redial, with fresh exec credentials', async (t) => {
  const d = await tmp(t);
  const podPort = await podService(t);
  const api = await startFakeApiServer({
    pods: [{ namespace: 'default', name: 'web-aaa', labels: { app: 'web' }, ports: [{ name: 'http', containerPort: podPort }] }],
    workloads: [{ kind: 'Deployment', namespace: 'default', name: 'web', selector: { app: 'web' } }],
    tls: true,
    tokens: ['tok-1'],
  });
  t.teardown(() => api.close());
  // The plugin prints the token in `current` with an expiration 1 s ahead, and counts its runs.
  await writeFile(path.join(d, 'current'), 'tok-1');
  const plugin = path.join(d, 'cred.sh');
  await writeFile(
    plugin,
    `#!/bin/sh\necho run >> ${d}/runs\nexp=$(date -u -d "+1 seconds" +%Y-%m-%dT%H:%M:%SZ)\ntok=$(cat ${d}/current)\n` +
      'echo "{\\"apiVersion\\":\\"client.authentication.k8s.io/v1beta1\\",\\"kind\\":\\"ExecCredential\\",\\"status\\":{\\"token\\":\\"$tok\\",\\"expirationTimestamp\\":\\"$exp\\"}}"\n',
  );
  await chmod(plugin, 0o755);
  const file = path.join(d, 'kc');
  await writeFile(
    file,
    kc({ cluster: 'c', server: api.url, ctx: 'x', current: 'x', clusterLines: [`certificate-authority-data: ${Buffer.from(api.tls!.caCert).toString('base64')}`], userLines: ['exec:', '  apiVersion: client.authentication.k8s.io/v1beta1', `  command: ${plugin}`] }),
  );
  const pf = await portForward({ kubeconfig: file, target: 'deploy/web', ports: [':http'], addresses: ['127.0.0.1'], env: { HOME: d } });
  t.teardown(() => pf.forwarder.close());
  const [bound] = await pf.forwarder.ready;
  t.equal(bound!.remote, podPort, 'the named port resolved to the container port');
  t.equal(pf.pod, 'web-aaa');
  t.equal((await fetchVia(bound!.local, '/one')).body.toString(), 'hello from the pod: GET /one\n');

  // The pod is replaced (a new name), the API server rotates its token, and the connection drops.
  api.setPod({ namespace: 'default', name: 'web-bbb', labels: { app: 'web' }, ports: [{ name: 'http', containerPort: podPort }] });
  api.deletePod('default', 'web-aaa');
  api.setTokens(['tok-2']);
  await writeFile(path.join(d, 'current'), 'tok-2');
  api.dropConnections();
  await new Promise((r) => setTimeout(r, 2100)); // the cached credential (1 s, second precision) has expired
  let body = '';
  for (let i = 0; i < 20 && body === ''; i++) {
    body = await fetchVia(bound!.local, '/two', 5000).then((r) => r.body.toString(), () => '');
    if (body === '') await new Promise((r) => setTimeout(r, 200));
  }
  t.equal(body, 'hello from the pod: GET /two\n', 'a request after the drop succeeds');
  t.equal(pf.pod, 'web-bbb', 'the redial went to the new pod');
  t.ok(api.requests.some((r) => r.path === '/api/v1/namespaces/default/pods/web-bbb/portforward'), 'the server saw the port-forward to web-bbb');
  const runs = (await readFile(path.join(d, 'runs'), 'utf8')).trim().split('\n').length;
  t.ok(runs >= 2, `the exec plugin ran again after its credential expired (${runs} runs)`);
});

t.test("@kubernetes/client-node's PortForward (v4.channel.k8s.io) through the fake API server", async (t) => {
  const podPort = await podService(t);
  const api = await startFakeApiServer({ pods: [{ namespace: 'default', name: 'web', ports: [podPort] }] });
  t.teardown(() => api.close());
  const k8s = await import('@kubernetes/client-node');
  const kcObj = new k8s.KubeConfig();
  kcObj.loadFromString(api.kubeconfig());
  const forward = new k8s.PortForward(kcObj);
  // One local TCP connection, forwarded the way client-node's docs show.
  const server = net.createServer((sock) => {
    void forward.portForward('default', 'web', [podPort], sock, null, sock);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const local = (server.address() as net.AddressInfo).port;
  const r = await fetchVia(local, '/client-node', 10000);
  t.equal(r.body.toString(), 'hello from the pod: GET /client-node\n');
  // Several in sequence, each its own WebSocket.
  let ok = 0;
  for (let i = 0; i < 5; i++) if ((await fetchVia(local, `/n/${i}`, 10000)).body.toString() === `hello from the pod: GET /n/${i}\n`) ok++;
  t.equal(ok, 5);
  t.ok(api.requests.filter((x) => x.path.endsWith('/portforward')).length >= 6, 'each went through the fake API server');
  void PassThrough;
});

t.test('--pod-running-timeout: a workload target waits for its pod to run; a pod target does not (kubectl)', async (t) => {
  const podPort = await podService(t);
  const pod = (name: string, phase: string) => ({ namespace: 'default', name, phase, labels: { app: 'web' }, ports: [{ name: 'http', containerPort: podPort }] });
  const api = await startFakeApiServer({
    pods: [pod('web-aaa', 'Pending')],
    workloads: [{ kind: 'Deployment', namespace: 'default', name: 'web', selector: { app: 'web' } }, { kind: 'StatefulSet', namespace: 'default', name: 'db', selector: { app: 'db' } }],
  });
  t.teardown(() => api.close());
  const d = await tmp(t);
  const file = path.join(d, 'kc');
  await writeFile(file, kc({ cluster: 'c', server: api.url, ctx: 'x', current: 'x' }));
  const opts = { kubeconfig: file, ports: [':http'], addresses: ['127.0.0.1'], env: { HOME: d } };

  // Pending, then Running 1.5 s later: deploy/web resolves only once it runs.
  let ranAt = 0;
  const timer = setTimeout(() => {
    ranAt = Date.now();
    api.setPod(pod('web-aaa', 'Running'));
  }, 1500);
  t.teardown(() => clearTimeout(timer));
  const started = Date.now();
  const pf = await portForward({ ...opts, target: 'deploy/web', podRunningTimeout: 20_000 });
  t.teardown(() => pf.forwarder.close());
  t.ok(ranAt > 0 && Date.now() >= ranAt, `resolved ${Date.now() - started} ms after the start, once the pod ran`);
  const [bound] = await pf.forwarder.ready;
  t.equal((await fetchVia(bound!.local, '/ran')).body.toString(), 'hello from the pod: GET /ran\n', 'forwarding to the pod that came up');

  // No pod at all, one appears and runs 1 s later: sts/db waits for it.
  const later = setTimeout(() => api.setPod({ ...pod('db-0', 'Running'), labels: { app: 'db' } }), 1000);
  t.teardown(() => clearTimeout(later));
  const db = await portForward({ ...opts, target: 'sts/db', podRunningTimeout: 20_000 });
  t.teardown(() => db.forwarder.close());
  t.equal(db.pod, 'db-0', 'a pod that did not exist yet is waited for');

  // Never running: the timeout ends the wait with kubectl's message.
  api.setPod(pod('web-aaa', 'Pending'));
  const t0 = Date.now();
  const err = await portForward({ ...opts, target: 'deploy/web', podRunningTimeout: 1000 }).catch((e: unknown) => e as Error);
  t.match((err as Error).message, /unable to forward port because pod is not running\. Current status=Pending/);
  t.ok(Date.now() - t0 >= 900, `the wait lasted the timeout (${Date.now() - t0} ms)`);

  // pod/NAME: kubectl checks the phase once, no wait.
  const t1 = Date.now();
  const perr = await portForward({ ...opts, target: 'pod/web-aaa', podRunningTimeout: 20_000 }).catch((e: unknown) => e as Error);
  t.match((perr as Error).message, /unable to forward port because pod is not running\. Current status=Pending/);
  t.ok(Date.now() - t1 < 10_000, 'pod/NAME: no wait');
});

t.test("kubectl's connection flags over the kubeconfig (loadKubeconfig overrides)", async (t) => {
  const d = await tmp(t);
  const file = path.join(d, 'kc');
  await writeFile(
    file,
    kc({ cluster: 'c', server: 'https://10.0.0.1:6443', ctx: 'x', current: 'x', clusterLines: ['certificate-authority-data: bm90LWEtY2E=', 'tls-server-name: kubernetes'], userLines: ['token: from-file'] }),
  );
  const base = { kubeconfig: file, env: { HOME: d } };
  const a = await loadKubeconfig({ ...base, overrides: { token: 'from-flag', as: 'alice' } });
  const ca = await a.credentials();
  t.equal(ca.headers.Authorization, 'Bearer from-flag', '--token replaces the kubeconfig token');
  t.equal(ca.headers['Impersonate-User'], 'alice', '--as sends Impersonate-User');
  t.equal(ca.tls.servername, 'kubernetes', "the kubeconfig's tls-server-name is kept without --server");

  const b = await loadKubeconfig({ ...base, overrides: { server: 'https://10.0.0.2:6443', insecureSkipTlsVerify: true } });
  const cb = await b.credentials();
  t.equal(b.server, 'https://10.0.0.2:6443', '--server replaces the server');
  t.equal(cb.tls.rejectUnauthorized, false, '--insecure-skip-tls-verify');
  t.equal(cb.tls.ca, undefined, "--insecure-skip-tls-verify drops the kubeconfig's CA");
  t.equal(cb.tls.servername, undefined, "--server clears the kubeconfig's tls-server-name");

  const c = await loadKubeconfig({ env: { HOME: d }, overrides: { server: '127.0.0.1:8001' } });
  t.equal(c.server, 'http://127.0.0.1:8001', 'no kubeconfig, --server without a scheme and no TLS: http (client-go DefaultServerURL)');
  const e = await loadKubeconfig({ env: { HOME: d }, overrides: { server: '127.0.0.1:6443', insecureSkipTlsVerify: true } });
  t.equal(e.server, 'https://127.0.0.1:6443', 'with TLS settings: https');

  await t.rejects(loadKubeconfig({ ...base, overrides: { user: 'nobody' } }), /auth info "nobody" does not exist/);
  await t.rejects(loadKubeconfig({ ...base, overrides: { cluster: 'nowhere' } }), /cluster "nowhere" does not exist/);
});
