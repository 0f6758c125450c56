// The kube-spdy command, run as a user runs it (node bin/kube-spdy.js, built by `npm test`'s pretest).
import t, { type Test } from 'tap';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cli, freePort } from './e2e-helpers.js';
import { startPodService, fetchVia, patternBytes } from '../lib/cli/demo.js';

async function tmpdir(t: Test): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'kube-spdy-cli-'));
  t.teardown(() => rm(d, { recursive: true, force: true }));
  return d;
}

t.test('usage mistakes: one line, non-zero exit', async (t) => {
  const cases: [string[], RegExp][] = [
    [['bogus'], /^error: unknown command "bogus"/],
    [['port-forward', '--kubeconfig', '/nonexistent/kc', 'pod/web', '80'], /^error: stat \/nonexistent\/kc: no such file or directory$/],
    [['port-forward', 'pod/web'], /^error: TYPE\/NAME and at least one port are required/],
    [['port-forward', '--kubeconfig', '/dev/null', 'pod/web', '99999'], /^error: invalid port "99999"/],
    [['port-forward', '--bogus-flag', 'pod/web', '80'], /^error: Unknown option '--bogus-flag'/],
    [['fake-apiserver'], /^error: at least one --pod NS\/NAME\[=HOST\] or --objects FILE is required/],
    [['fake-apiserver', '--pod', 'Bad/Name!'], /^error: invalid pod "Bad\/Name!"/],
    [['fake-apiserver', '--pod', 'a/b', '--listen', 'nope'], /^error: invalid --listen "nope"/],
    [['fake-apiserver', '--pod', 'a/b', '--kubeconfig-out', '/nonexistent-dir/kc'], /^error: cannot write --kubeconfig-out \/nonexistent-dir\/kc: ENOENT$/],
    [['port-forward', '--kubeconfig', '/dev/null', 'pod/web', '8080:80', '8080:81'], /^error: local port 8080 is given twice$/],
    [['port-forward', '--pod-running-timeout', '60', 'pod/web', '80'], /^error: invalid --pod-running-timeout "60"/],
    [['port-forward', '--transport', 'carrier-pigeon', 'pod/web', '80'], /^error: invalid transport "carrier-pigeon"/],
    [['port-forward', 'job/x', '80'], /^error: unsupported target type "job"/],
    [['demo', '--requests', 'x'], /^error: --requests must be an integer/],
  ];
  for (const [args, re] of cases) {
    const p = cli(args);
    const code = await p.exited;
    t.not(code, 0, `${args.join(' ')} exits non-zero`);
    t.equal(p.err.length, 1, `${args.join(' ')}: one line on stderr (${p.err.join(' | ')})`);
    t.match(p.err[0] ?? '', re);
  }
});

t.test('unreachable server, unknown pod, 403: one line, non-zero exit', async (t) => {
  const dir = await tmpdir(t);
  const deadPort = await freePort();
  const deadKc = path.join(dir, 'dead');
  await writeFile(
    deadKc,
    `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:${deadPort}\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\n`,
  );
  let p = cli(['port-forward', '--kubeconfig', deadKc, 'pod/web', `${await freePort()}:80`]);
  t.not(await p.exited, 0);
  t.equal(p.err.length, 1);
  t.match(p.err[0], /^error: The connection to the server 127\.0\.0\.1:\d+ was refused - did you specify the right host or port\?$/);

  const kc = path.join(dir, 'kc');
  const api = cli(['fake-apiserver', '--pod', 'default/web', '--pod', 'default/locked', '--forbid', 'default/locked', '--kubeconfig-out', kc]);
  t.teardown(() => api.kill());
  await api.waitFor(/^Wrote kubeconfig/);
  p = cli(['port-forward', '--kubeconfig', kc, 'pod/nope', `${await freePort()}:80`]);
  t.not(await p.exited, 0);
  t.same(p.err, ['error: pods "nope" not found']);
  p = cli(['port-forward', '--kubeconfig', kc, 'pod/locked', `${await freePort()}:80`]);
  t.not(await p.exited, 0);
  t.equal(p.err.length, 1);
  t.match(p.err[0], /^error: error upgrading connection: .*403 Forbidden.*cannot create resource "pods\/portforward"/);
});

t.test('kube-spdy port-forward: traffic, then the brief reproduction (target closes, reopens)', async (t) => {
  const dir = await tmpdir(t);
  const kc = path.join(dir, 'kc');
  const pod = await startPodService();
  const podPort = (pod.address() as net.AddressInfo).port;
  t.teardown(() => {
    pod.closeAllConnections();
    pod.close();
  });
  const api = cli(['fake-apiserver', '--pod', `default/web:${podPort}`, '--kubeconfig-out', kc]);
  t.teardown(() => api.kill());
  await api.waitFor(/^Wrote kubeconfig/);
  const pf = cli(['port-forward', '--kubeconfig', kc, 'pod/web', `:${podPort}`]);
  t.teardown(() => pf.kill());
  const m = await pf.waitFor(/^Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)$/);
  const local = Number(m[1]);
  t.equal(Number(m[2]), podPort);
  for (let i = 0; i < 50; i++) t.equal((await fetchVia(local, `/s/${i}`)).body.toString(), `hello from the pod: GET /s/${i}\n`);
  const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => fetchVia(local, `/c/${i}`)));
  t.equal(rs.filter((r, i) => r.body.toString() === `hello from the pod: GET /c/${i}\n`).length, 20, '20 concurrent requests');
  const big = await fetchVia(local, `/bytes?n=${8 * 1024 * 1024}`, 60000);
  t.ok(big.body.equals(patternBytes(8 * 1024 * 1024)), '8 MiB byte-exact');
  await pf.waitFor(new RegExp(`^Handling connection for ${local}$`));

  // The brief: close the pod's port → a request fails cleanly; reopen → requests work again.
  pod.closeAllConnections();
  await new Promise<void>((r) => pod.close(() => r()));
  const failed = await fetchVia(local, '/down').then(
    () => 'answered',
    (e: Error) => e.message,
  );
  t.not(failed, 'answered', `request fails while the port is closed (${failed})`);
  await pf.waitFor(/^error: an error occurred forwarding \d+ -> \d+: error forwarding port \d+ to pod default\/web: .*connection refused/);
  t.equal(pf.child.exitCode, null, 'port-forward keeps running');
  await new Promise<void>((r) => pod.listen(podPort, '127.0.0.1', () => r()));
  for (let i = 0; i < 5; i++) t.equal((await fetchVia(local, `/up/${i}`)).status, 200, `request ${i} after reopening succeeds`);
  await pf.kill();
  t.equal(await pf.exited, 0, 'SIGTERM stops it with exit code 0');
});

t.test('demo exits 0 after real traffic', async (t) => {
  const p = cli(['demo', '--requests', '10']);
  t.equal(await p.exited, 0, p.err.join('\n'));
  t.ok(p.out.includes('demo: all checks passed'));
  t.ok(p.out.some((l) => /^10\/10 sequential requests answered correctly/.test(l)));
  t.ok(p.out.some((l) => /^8 MiB download byte-exact/.test(l)));
  t.ok(p.out.some((l) => /kubectl --kubeconfig .* port-forward pod\/demo/.test(l)));
});
