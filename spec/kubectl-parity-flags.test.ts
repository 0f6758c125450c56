// Side by side with kubectl 1.32 (same arguments and environment, same outcome): the WebSocket tunnel and
// its fallback, KUBECTL_PORT_FORWARD_WEBSOCKETS=false, -v levels, a pod that is not running, and kubectl's
// connection flags (--server, --token, --user, --cluster, --certificate-authority, --client-certificate,
// --insecure-skip-tls-verify) with and without a kubeconfig.
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { freePort } from './e2e-helpers.js';
import { sideBySide } from './kubectl-parity-harness.js';

sideBySide('kubectl and kube-spdy side by side: transports, log levels, pod phase, connection flags', async ({ podPort, baseEnv, both, row, api, kubeconfig, caData }) => {
  const portForwards = (srv: { requests: { method: string; path: string }[] }, method: string): number =>
    srv.requests.filter((r) => r.method === method && r.path.endsWith('/portforward')).length;

  await row('the WebSocket tunnel first; SPDY refused (a gateway that passes only WebSockets): both forward over the tunnel', async (t, home) => {
    const srv = await api(t, { tls: true, tokens: ['tok-1'], transports: ['websocket'] });
    const kc = path.join(home, 'kc');
    await writeFile(kc, kubeconfig(srv.url, [caData(srv.tls!.caCert)], ['token: tok-1']));
    await both(t, ['--kubeconfig', kc, 'pod/web', `:${podPort}`], baseEnv(home), true);
    t.equal(portForwards(srv, 'GET'), 2, 'one tunnel GET each');
    t.equal(portForwards(srv, 'POST'), 0, 'no SPDY upgrade tried');
    await both(t, ['--kubeconfig', kc, 'svc/web', ':80'], baseEnv(home), true);
    await both(t, ['--kubeconfig', kc, 'deploy/web', ':http'], baseEnv(home), true);
    t.equal(portForwards(srv, 'POST'), 0, 'svc/ and deploy/ over the tunnel too');
  });

  await row('every target form: po/, a bare NAME, replicaset/ (rs/), statefulset/ (sts/)', async (t, home) => {
    const srv = await api(t, {
      tls: true,
      tokens: ['tok-1'],
      workloads: [
        { kind: 'ReplicaSet', namespace: 'default', name: 'web-rs', selector: { app: 'web' } },
        { kind: 'StatefulSet', namespace: 'default', name: 'web-sts', selector: { app: 'web' } },
      ],
    });
    const kc = path.join(home, 'kc');
    await writeFile(kc, kubeconfig(srv.url, [caData(srv.tls!.caCert)], ['token: tok-1']));
    for (const target of ['po/web', 'web', 'replicaset/web-rs', 'rs/web-rs', 'statefulset/web-sts', 'sts/web-sts']) {
      await both(t, ['--kubeconfig', kc, target, ':http'], baseEnv(home), true);
    }
    await both(t, ['--kubeconfig', kc, 'sts/nope', ':http'], baseEnv(home), false);
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

  await row('connection flags without a kubeconfig: --server with --token and --certificate-authority, or -s with --insecure-skip-tls-verify', async (t, home) => {
    const srv = await api(t, { tls: true, tokens: ['tok-1'] });
    await writeFile(path.join(home, 'ca.crt'), srv.tls!.caCert);
    await both(t, ['--server', srv.url, '--token', 'tok-1', '--certificate-authority', path.join(home, 'ca.crt'), 'pod/web', `:${podPort}`], baseEnv(home), true);
    await both(t, ['-s', srv.url, '--insecure-skip-tls-verify', '--token=tok-1', 'pod/web', `:${podPort}`], baseEnv(home), true);
    await both(t, ['--server', srv.url, '--token', 'tok-1', 'pod/web', `:${podPort}`], baseEnv(home), false); // CA not given
  });

  await row('connection flags over a kubeconfig: --token replaces a wrong one, --user/--cluster pick other entries, --client-certificate', async (t, home) => {
    const srv = await api(t, { tls: true, tokens: ['tok-1'], clientCertificates: true });
    const dead = await freePort();
    const kc = path.join(home, 'kc');
    await writeFile(
      kc,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `- {name: dead, cluster: {server: "https://127.0.0.1:${dead}", insecure-skip-tls-verify: true}}`,
        `- {name: good, cluster: {server: "${srv.url}", ${caData(srv.tls!.caCert)}}}`,
        'users:',
        '- {name: bad, user: {token: wrong}}',
        '- {name: good, user: {token: tok-1}}',
        '- {name: nocreds, user: {}}',
        'contexts:',
        '- {name: ctx-x, context: {cluster: good, user: bad}}',
        '- {name: ctx-y, context: {cluster: dead, user: good}}',
        '- {name: ctx-z, context: {cluster: good, user: nocreds}}',
        'current-context: ctx-x',
        '',
      ].join('\n'),
    );
    const env = baseEnv(home);
    await both(t, ['--kubeconfig', kc, 'pod/web', `:${podPort}`], env, false); // x: the wrong token
    await both(t, ['--kubeconfig', kc, '--token', 'tok-1', 'pod/web', `:${podPort}`], env, true);
    await both(t, ['--kubeconfig', kc, '--user', 'good', 'pod/web', `:${podPort}`], env, true);
    await both(t, ['--kubeconfig', kc, '--context', 'ctx-y', '--cluster', 'good', 'pod/web', `:${podPort}`], env, true);
    await both(t, ['--kubeconfig', kc, '--user', 'nobody', 'pod/web', `:${podPort}`], env, false);
    await writeFile(path.join(home, 'c.crt'), srv.tls!.clientCert!);
    await writeFile(path.join(home, 'c.key'), srv.tls!.clientKey!);
    await both(t, ['--kubeconfig', kc, '--context', 'ctx-z', '--client-certificate', path.join(home, 'c.crt'), '--client-key', path.join(home, 'c.key'), 'pod/web', `:${podPort}`], env, true);
  });

  await row('--server with an http:// URL and --token: the token is never sent in clear text', async (t, home) => {
    const srv = await api(t);
    await both(t, ['--server', srv.url, '--token', 'secret-token', 'pod/web', `:${podPort}`], baseEnv(home), true);
    t.equal(srv.requests.filter((r) => r.authorization).length, 0, 'no request carried an Authorization header');
  });
});
