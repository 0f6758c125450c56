// `kube-spdy exec` end to end: against kube-spdy's fake API server in both transports (WebSocket by
// default, SPDY with KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false), and for SPDY against a Go moby/spdystream
// remotecommand server written for these tests (spec/interop/remotecommand, kubelet-like: it resets
// every stream right after the status). In CI a missing Go toolchain or spdystream fails, never skips.
import t, { type Test } from 'tap';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { startFakeApiServer } from '../lib/fake-apiserver/index.js';
import { BIN, ROOT, run } from './e2e-helpers.js';
import { capture } from './exec-helpers.js';
import { startConnectProxy, startSocks5Proxy } from './kube-proxies.js';

const SPDYSTREAM_SRC = '/usr/share/gocode/src/github.com/docker/spdystream';
const GO_SRC = path.join(ROOT, 'spec', 'interop', 'remotecommand');
const SERVER = path.join(ROOT, 'spec', 'interop', 'bin', 'remotecommand-server');
const goEnv: NodeJS.ProcessEnv = { GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOFLAGS: '' };
if (!process.env.HOME && !process.env.XDG_CACHE_HOME && !process.env.GOCACHE) goEnv.GOCACHE = path.join(os.tmpdir(), 'kube-spdy-go-cache');
const haveGo = spawnSync('go', ['version'], { encoding: 'utf8', env: { ...process.env, ...goEnv } }).status === 0 && existsSync(SPDYSTREAM_SRC);
if (!haveGo && process.env.CI) t.fail('Go and spdystream are required in CI (.ci/run installs them)');

const input = crypto.randomBytes(8 * 1024 * 1024);

/** The checks every server gets: 8 MiB stdin → stdout, stderr apart, exit codes, a missing command. */
async function checks(t: Test, env: NodeJS.ProcessEnv, extra: string[] = []): Promise<void> {
  const exec = (args: string[], stdin?: Buffer) => capture(process.execPath, [BIN, 'exec', ...extra, ...args], env, stdin);
  const big = await exec(['-i', 'pod/web', '--', 'sh', '-c', 'cat; echo to-stderr >&2; exit 3'], input);
  t.equal(big.code, 3, `the remote exit code (3) is the process exit code (stderr: ${big.stderr.slice(0, 300)})`);
  t.ok(big.stdout.equals(input), '8 MiB stdin → stdout byte-exact');
  t.equal(big.stderr, 'to-stderr\ncommand terminated with exit code 3\n', 'stderr apart, then kubectl\'s exit line');
  const zero = await exec(['web', '--', 'true']);
  t.same([zero.code, zero.stderr], [0, '']);
  const missing = await exec(['web', '--', 'no-such-command-kube-spdy']);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /^error: Internal error occurred: error executing command in container: .*"no-such-command-kube-spdy": executable file not found in \$PATH/);
}

t.test('kube-spdy exec against the fake API server', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kube-spdy-exec-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const api = await startFakeApiServer({ pods: [{ namespace: 'default', name: 'web' }], exec: { cwd: dir } });
  t.teardown(() => api.close());
  const kc = path.join(dir, 'kubeconfig');
  await api.writeKubeconfig(kc);
  for (const [name, env, transport] of [
    ['WebSocket (default)', {}, 'websocket'],
    ['SPDY (KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false)', { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' }, 'spdy'],
  ] as const) {
    t.test(name, async (t) => {
      const before = api.execSessions.length;
      await checks(t, { KUBECONFIG: kc, ...env });
      const used = new Set(api.execSessions.slice(before).map((s) => `${s.transport} ${s.protocol}`));
      t.same([...used], [`${transport} v5.channel.k8s.io`], `every session used ${transport}`);
    });
  }

  t.test('usage mistakes: one error line, exit 1', async (t) => {
    const env = { KUBECONFIG: kc };
    const cases: [string[], RegExp][] = [
      [['web', 'ls'], /^error: exec \[POD\] \[COMMAND\] is not supported anymore/],
      [['--', 'ls'], /^error: pod or type\/name must be specified/],
      [['web', '--'], /^error: you must specify at least one command/],
      [['nope', '--', 'true'], /^error: pods "nope" not found/],
      [['--transport', 'carrier-pigeon', 'web', '--', 'true'], /^error: invalid --transport/],
      [['--bogus', 'web', '--', 'true'], /^error: Unknown option '--bogus'/],
    ];
    for (const [args, re] of cases) {
      const r = await capture(process.execPath, [BIN, 'exec', ...args], env);
      t.equal(r.code, 1, args.join(' '));
      t.match(r.stderr, re);
      t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    }
    const tty = await capture(process.execPath, [BIN, 'exec', '-i', '-t', 'web', '--', 'cat'], env, Buffer.from('no terminal\n'));
    t.equal(tty.code, 0);
    t.equal(tty.stdout.toString(), 'no terminal\n');
    t.match(tty.stderr, /Unable to use a TTY - input is not a terminal/, 'as kubectl: -t without a terminal is dropped with a warning');
  });
});

t.test('kube-spdy exec through the kubeconfig proxy-url (HTTP CONNECT, SOCKS5), both transports', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kube-spdy-exec-proxy-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const api = await startFakeApiServer({ pods: [{ namespace: 'default', name: 'web' }], exec: { cwd: dir }, tls: true, tokens: ['tok-1'] });
  t.teardown(() => api.close());
  const plain = path.join(dir, 'plain');
  await api.writeKubeconfig(plain);
  for (const [kind, start] of [
    ['HTTP CONNECT', startConnectProxy],
    ['SOCKS5', startSocks5Proxy],
  ] as const) {
    const proxy = await start();
    t.teardown(() => proxy.close());
    const kc = path.join(dir, `kc-${kind.replace(/ /g, '')}`);
    await writeFile(kc, (await readFile(plain, 'utf8')).replace(/^( +)server: (.*)$/m, `$1server: $2\n$1proxy-url: ${proxy.url}`));
    for (const [transport, env] of [
      ['websocket', {}],
      ['spdy', { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' }],
    ] as const) {
      const before = proxy.tunnels();
      const sessions = api.execSessions.length;
      const r = await capture(process.execPath, [BIN, 'exec', '-i', 'pod/web', '--', 'sh', '-c', 'cat; echo done >&2'], { KUBECONFIG: kc, ...env }, Buffer.from('through the proxy\n'));
      t.equal(r.code, 0, `${kind}, ${transport}: exit 0 (stderr: ${r.stderr.slice(0, 300)})`);
      t.equal(r.stdout.toString(), 'through the proxy\n', `${kind}, ${transport}: stdin → stdout`);
      t.equal(r.stderr, 'done\n');
      t.same(api.execSessions.slice(sessions).map((s) => s.transport), [transport], `${kind}: one ${transport} session`);
      t.ok(proxy.tunnels() - before >= 2, `${kind}, ${transport}: the pod GET and the upgrade went through the proxy (${proxy.tunnels() - before} tunnels)`);
    }
  }
});

t.test('kube-spdy exec against a Go spdystream remotecommand server (SPDY)', { skip: haveGo ? false : 'Go spdystream not installed (outside CI)' }, async (t) => {
  mkdirSync(path.dirname(SERVER), { recursive: true });
  const b = spawnSync('go', ['build', '-o', SERVER, '.'], { cwd: GO_SRC, encoding: 'utf8', env: { ...process.env, ...goEnv }, timeout: 120_000 });
  t.equal(b.status, 0, `go build: ${b.stderr}`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kube-spdy-exec-go-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const srv = run(SERVER, ['-addr', '127.0.0.1:0']);
  t.teardown(() => srv.kill());
  const addr = (await srv.waitFor(/"addr":"([^"]+)","event":"listening"/))[1]!;
  const kc = path.join(dir, 'kubeconfig');
  await writeFile(kc, ['apiVersion: v1', 'kind: Config', 'clusters:', '- name: go', '  cluster:', `    server: http://${addr}`, '    insecure-skip-tls-verify: true', 'users:', '- name: go', '  user: {}', 'contexts:', '- name: go', '  context: {cluster: go, user: go, namespace: default}', 'current-context: go', ''].join('\n'));
  t.test('--transport spdy', (t) => checks(t, { KUBECONFIG: kc }, ['--transport', 'spdy']));
  t.test('default: the WebSocket upgrade is refused (400), SPDY follows', async (t) => {
    const r = await capture(process.execPath, [BIN, 'exec', 'web', '--', 'sh', '-c', 'echo fell back; exit 4'], { KUBECONFIG: kc });
    t.same([r.code, r.stdout.toString(), r.stderr], [4, 'fell back\n', 'command terminated with exit code 4\n']);
  });
});
