// Child processes for the soak and load benchmarks: the pod service, `kube-spdy fake-apiserver` and
// `kube-spdy port-forward` (and kubectl), each in a process of its own, with RSS and heap sampled
// from inside every Node process by bench/probe.mjs (loaded with --import; it reports over IPC).
import http from 'node:http';
import path from 'node:path';
import { spawn } from 'node:child_process';

export const ROOT = path.join(path.dirname(new URL(import.meta.url).pathname), '..');
export const BIN = path.join(ROOT, 'bin', 'kube-spdy.js');
const PROBE = new URL('./probe.mjs', import.meta.url).href;

/** Spawned processes; kill them all with {@link killAll}. */
export const children = [];

/**
 * Spawns a process. Node processes (`node: true`) get the probe: `child.memory` is their latest
 * `{ rss, heapUsed }` in bytes (sampled every `PROBE_MS`, default 1000).
 */
export function child(name, cmd, args, { node = false, env = {} } = {}) {
  const c = spawn(cmd, node ? ['--import', PROBE, ...args] : args, {
    env: { ...process.env, ...env },
    stdio: node ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  c.label = name;
  c.memory = null;
  if (node) c.on('message', (m) => m && m.probe && (c.memory = m));
  c.stderr.on('data', (d) => process.stderr.write(`[${name}] ${d}`));
  children.push(c);
  return c;
}

/** Resolves with the match of `re` in the child's stdout. */
export function line(c, re) {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d) => {
      out += d;
      const m = re.exec(out);
      if (m) {
        c.stdout.off('data', onData);
        c.stdout.resume();
        resolve(m);
      }
    };
    c.stdout.on('data', onData);
    c.once('exit', (code) => reject(new Error(`${c.label} exited (${code}) before printing ${re}: ${out.slice(-500)}`)));
  });
}

export function killAll() {
  for (const c of children) c.kill();
}

/** The pod: the demo's HTTP service (`/` says hello, `/bytes?n=N` sends N bytes), in its own process. */
export async function startPod() {
  const pod = child('pod', process.execPath, [
    '--input-type=module',
    '-e',
    `import { startPodService } from ${JSON.stringify(path.join(ROOT, 'dist', 'cli', 'demo.js'))};
     const s = await startPodService(); console.log('pod ' + s.address().port);`,
  ], { node: true });
  const port = Number((await line(pod, /pod (\d+)/))[1]);
  return { proc: pod, port };
}

/** `kube-spdy fake-apiserver` serving `default/NAME` with `podPort` declared; writes a kubeconfig. */
export async function startApiServer(name, podPort, kubeconfig) {
  const spec = process.env.SOAK_NO_PORT_ARGS ? `default/${name}` : `default/${name}:${podPort}`; // a build before the port policy
  const api = child('fake-apiserver', process.execPath, [BIN, 'fake-apiserver', '--pod', spec, '--kubeconfig-out', kubeconfig], { node: true });
  await line(api, /Wrote kubeconfig/);
  return api;
}

/** `kube-spdy port-forward pod/NAME :PORT`; resolves with the process and its local port. */
export async function startForwarder(kubeconfig, name, podPort) {
  const pf = child('kube-spdy port-forward', process.execPath, [BIN, 'port-forward', '--kubeconfig', kubeconfig, `pod/${name}`, `:${podPort}`], { node: true });
  const port = Number((await line(pf, /Forwarding from 127\.0\.0\.1:(\d+)/))[1]);
  return { proc: pf, port };
}

/** `kubectl port-forward pod/NAME :PORT`. */
export async function startKubectl(kubeconfig, name, podPort, cacheDir) {
  const k = child('kubectl port-forward', 'kubectl', ['--kubeconfig', kubeconfig, 'port-forward', `pod/${name}`, `:${podPort}`], { env: { KUBECACHEDIR: cacheDir } });
  const port = Number((await line(k, /Forwarding from 127\.0\.0\.1:(\d+)/))[1]);
  return { proc: k, port };
}

/** RSS of any process from /proc, bytes (0 when it is gone). */
export async function procRss(pid) {
  const { readFile } = await import('node:fs/promises');
  try {
    const s = await readFile(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+) kB/.exec(s)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** One GET; resolves with the body length. `agent` false = a new TCP connection per request. */
export function get(port, p, agent = false, timeout = 30000) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent, timeout }, (res) => {
      let n = 0;
      res.on('data', (c) => (n += c.length));
      res.on('end', () => (res.statusCode === 200 ? resolve(n) : reject(new Error(`HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeout} ms`)));
    req.on('error', reject);
  });
}

export const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
export const MiB = (b) => +(b / 1048576).toFixed(1);
