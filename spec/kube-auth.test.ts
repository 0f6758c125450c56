// lib/kube/client-node-auth.ts against @kubernetes/client-node's own KubeConfig.applyToHTTPSOptions, side
// by side: for each kind of kubeconfig user and cluster, the same TLS options and headers. (kube-spdy uses
// client-node's authenticators without loading KubeConfig, whose generated API client costs ~60 MiB.)
// And the memory that buys: a port-forward to an https server no longer loads client-node's index.
import t from 'tap';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Cluster, User } from '@kubernetes/client-node';
import { ClientNodeAuth, type HttpsAuthOptions } from '../lib/kube/client-node-auth.js';
import { ROOT } from './e2e-helpers.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const b64url = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
/** An unsigned JWT valid for an hour (client-node's OIDC authenticator only reads its exp). */
const idToken = `${b64url({ alg: 'none' })}.${b64url({ iss: 'https://issuer.example', exp: Math.floor(Date.now() / 1000) + 3600 })}.sig`;

t.test('the same options as client-node KubeConfig.applyToHTTPSOptions, user by user', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kube-spdy-auth-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'ca.pem'), 'CA FROM FILE');
  await writeFile(path.join(dir, 'cert.pem'), 'CERT FROM FILE');
  await writeFile(path.join(dir, 'key.pem'), 'KEY FROM FILE');
  await writeFile(path.join(dir, 'token'), 'file-token\n');
  const cluster = (o: Partial<Cluster> = {}): Cluster => ({ name: 'c', server: 'https://127.0.0.1:6443', skipTLSVerify: false, ...o });
  const cases: [string, Cluster, User][] = [
    ['static token, CA data', cluster({ caData: b64('CA DATA') }), { name: 'u', token: 'tok' }],
    ['CA file, client certificate and key files', cluster({ caFile: path.join(dir, 'ca.pem') }), { name: 'u', certFile: path.join(dir, 'cert.pem'), keyFile: path.join(dir, 'key.pem') }],
    ['client certificate and key data, tls-server-name', cluster({ caData: b64('CA'), tlsServerName: 'api.internal' }), { name: 'u', certData: b64('CERT'), keyData: b64('KEY') }],
    ['insecure-skip-tls-verify, username and password', cluster({ skipTLSVerify: true }), { name: 'u', username: 'admin', password: 's3cret' }],
    ['impersonation (as) with a token', cluster(), { name: 'u', token: 'tok', impersonateUser: 'alice' }],
    ['auth-provider oidc with a valid id-token', cluster(), { name: 'u', authProvider: { name: 'oidc', config: { 'id-token': idToken, 'client-id': 'kubectl', 'idp-issuer-url': 'https://issuer.example' } } }],
    ['auth-provider gcp with a valid access-token', cluster(), { name: 'u', authProvider: { name: 'gcp', config: { 'access-token': 'gcp-token', expiry: new Date(Date.now() + 3600_000).toISOString() } } }],
    ['auth-provider with a token file', cluster(), { name: 'u', authProvider: { name: 'file', config: { tokenFile: path.join(dir, 'token') } } }],
    ['auth-provider azure with a valid access-token', cluster(), { name: 'u', authProvider: { name: 'azure', config: { 'access-token': 'az-token', 'expires-on': String(Math.floor(Date.now() / 1000) + 3600) } } }],
    ['no credentials', cluster(), { name: 'u' }],
  ];
  const { KubeConfig } = await import('@kubernetes/client-node');
  for (const [name, c, u] of cases) {
    const kc = new KubeConfig();
    kc.loadFromOptions({ clusters: [c], users: [structuredClone(u)], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
    const want: HttpsAuthOptions = {};
    await kc.applyToHTTPSOptions(want as never);
    const got: HttpsAuthOptions = {};
    await new ClientNodeAuth(c, structuredClone(u)).apply(got);
    const norm = (o: HttpsAuthOptions): Record<string, unknown> =>
      Object.fromEntries(
        Object.entries(o)
          .filter(([k, v]) => v !== undefined && k !== 'agent') // client-node also builds an Agent; kube-spdy dials itself
          .map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString() : v]),
      );
    t.same(norm(got), norm(want), name);
  }
});

t.test('a port-forward to an https server does not load client-node KubeConfig (its generated API client)', async (t) => {
  // A child process resolves the credentials of an https kubeconfig with a token and reports its heap
  // after a full GC: importing client-node's index (KubeConfig, the generated API client) holds ~27 MiB.
  const script = `
    import { loadKubeconfig } from ${JSON.stringify(path.join(ROOT, 'dist', 'kube', 'kubeconfig.js'))};
    import { writeFileSync } from 'node:fs';
    const f = ${JSON.stringify(path.join(os.tmpdir(), `kube-spdy-auth-kc-${process.pid}`))};
    writeFileSync(f, 'apiVersion: v1\\nclusters:\\n- name: c\\n  cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}\\nusers:\\n- name: u\\n  user: {token: tok}\\ncontexts:\\n- name: x\\n  context: {cluster: c, user: u}\\ncurrent-context: x\\n');
    const kc = await loadKubeconfig({ kubeconfig: f });
    const creds = await kc.credentials();
    globalThis.gc();
    console.log(JSON.stringify({ auth: creds.headers.Authorization, heap: process.memoryUsage().heapUsed }));
  `;
  t.teardown(() => rm(path.join(os.tmpdir(), `kube-spdy-auth-kc-${process.pid}`), { force: true }));
  const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr.slice(-500));
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { auth: string; heap: number };
  t.equal(out.auth, 'Bearer tok', 'the token was applied');
  t.ok(out.heap < 20 * 1024 * 1024, `heap after GC ${(out.heap / 1048576).toFixed(1)} MiB (with client-node's KubeConfig loaded: 149 MiB)`);
});
