// Side by side: kubectl 1.32 and kube-spdy run with the same kubeconfig and environment for every row of
// issue 7's table about kubeconfigs, credentials, proxies, namespaces, targets and local ports, and must
// have the same outcome (forwarding works, or both fail). Transports, log levels, pod phases and kubectl's
// connection flags are in spec/kubectl-parity-flags.test.ts (the two files run in parallel).
import net from 'node:net';
import path from 'node:path';
import { writeFile, mkdir, chmod } from 'node:fs/promises';
import { freePort } from './e2e-helpers.js';
import { startConnectProxy, startSocks5Proxy } from './kube-proxies.js';
import { sideBySide } from './kubectl-parity-harness.js';

sideBySide('kubectl and kube-spdy side by side, same kubeconfig and environment', async ({ podPort, baseEnv, both, row, api, kubeconfig, caData }) => {
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
});
