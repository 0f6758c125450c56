/**
 * The port-forward rig of the bench suites `portforward`, `memory` and `load`: the same target reached
 * directly, through `kube-spdy port-forward` and through `kubectl port-forward`, each forwarder a process
 * of its own (as a user runs it) against the same API server and pod. The pod service and kube-spdy's
 * fake API server run in processes of their own too. With `--kubeconfig`, the user's cluster is used
 * instead (no direct path).
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { kubeconfigYaml } from '../fake-apiserver/kubeconfig.js';
import type { BenchOptions } from './harness.js';
import { getOnce } from './http-load.js';
import { BIN, Child, ROOT, buildGo } from './util.js';

export interface RigPath {
  id: 'direct' | 'kube-spdy' | 'kubectl';
  label: string;
  port: number;
  /** The forwarder's process id (none for direct). */
  pid?: number;
}

export interface Rig {
  /** What the forwarders go through, in words. */
  server: string;
  paths: RigPath[];
  /** Path for small requests. */
  path: string;
  /** Path and size of the bulk download, when there is one. */
  bulk?: { path: string; bytes?: number };
  notes: string[];
  stop(): Promise<void>;
}

const FORWARDING = /Forwarding from 127\.0\.0\.1:(\d+)/;

/** Which server the local rig forwards through. */
export type RigServer = 'fake' | 'go';

/** The Go server's programs, built (or why not). */
export function goServer(options: BenchOptions): { kubelet: string; front: string } | { reason: string } {
  if (options.noGo) return { reason: '--no-go' };
  const kubelet = buildGo('spec/interop/kubelet', 'kubelet');
  if ('reason' in kubelet) return kubelet;
  const front = buildGo('bench/go/apifront', 'apifront');
  if ('reason' in front) return front;
  return { kubelet: kubelet.bin, front: front.bin };
}

/**
 * Starts the rig; `bulkBytes` is the download size on the local pod. `server`: kube-spdy's fake API
 * server, or the Go spdystream kubelet-style server (spec/interop/kubelet) behind a Go API front
 * (bench/go/apifront, pod GET + reverse proxy of the upgrade) — ignored with `--kubeconfig`.
 */
export async function startRig(options: BenchOptions, bulkBytes: number, progress: (t: string) => void, server_: RigServer = 'fake'): Promise<Rig> {
  const children: Child[] = [];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kube-spdy-bench-'));
  const stop = async () => {
    await Promise.all(children.map((c) => c.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const notes: string[] = [];
    const paths: RigPath[] = [];
    let kubeconfig: string;
    let target: string;
    let remote: number;
    let server: string;
    const extra: string[] = [];
    let bulk: Rig['bulk'];
    if (options.kubeconfig) {
      kubeconfig = options.kubeconfig;
      target = options.target!;
      remote = options.port!;
      server = `your cluster (${target} port ${remote})`;
      if (options.context) extra.push('--context', options.context);
      if (options.namespace) extra.push('--namespace', options.namespace);
      if (options.bulkPath) bulk = { path: options.bulkPath };
      else notes.push('no --bulk-path: bulk download skipped.');
    } else {
      progress('starting the pod service and the fake API server');
      const pod = new Child(process.execPath, [path.join(ROOT, 'dist', 'bench', 'pod.js')]);
      children.push(pod);
      remote = Number((await pod.line(/pod (\d+)/))[1]);
      kubeconfig = path.join(dir, 'kubeconfig');
      if (server_ === 'go') {
        const go = goServer(options);
        if ('reason' in go) throw new Error(`Go server unavailable: ${go.reason}`);
        const kubelet = new Child(go.kubelet, ['-addr', '127.0.0.1:0', '-target', '127.0.0.1', '-pod', 'default/bench'], {}, 'pipe');
        children.push(kubelet);
        const kAddr = (await kubelet.line(/"addr":"([\d.:]+)"/))[1];
        const front = new Child(go.front, ['-addr', '127.0.0.1:0', '-kubelet', `http://${kAddr}`], {}, 'pipe');
        children.push(front);
        const fAddr = (await front.line(/"addr":"([\d.:]+)"/))[1];
        await writeFile(kubeconfig, kubeconfigYaml({ url: `http://${fAddr}`, token: 'bench', namespace: 'default' }));
        server = 'the Go spdystream kubelet-style server (spec/interop/kubelet) behind a Go API front';
      } else {
        // HTTPS with a bearer token, as a real cluster: both tools load their TLS and auth code.
        const api = new Child(process.execPath, [BIN, 'fake-apiserver', '--pod', `default/bench:${remote}`, '--tls', '--token', 'bench', '--kubeconfig-out', kubeconfig]);
        children.push(api);
        await api.line(/Wrote kubeconfig/);
        server = "kube-spdy's fake API server (https, bearer token)";
      }
      target = 'pod/bench';
      paths.push({ id: 'direct', label: 'direct to the pod service', port: remote });
      bulk = { path: `/bytes?n=${bulkBytes}`, bytes: bulkBytes };
    }
    // The same transport for both: KUBECTL_PORT_FORWARD_WEBSOCKETS=false means the SPDY upgrade to both tools.
    const transport = options.transport ?? 'spdy';
    const env: Record<string, string> = transport === 'spdy' ? { KUBECTL_PORT_FORWARD_WEBSOCKETS: 'false' } : {};
    if (transport === 'websocket') extra.push('--transport', 'websocket');
    notes.push(`transport: ${transport === 'spdy' ? 'the SPDY/3.1 upgrade (KUBECTL_PORT_FORWARD_WEBSOCKETS=false)' : transport === 'websocket' ? 'the WebSocket tunnel' : "each tool's default"}.`);
    progress('starting kube-spdy port-forward');
    const ours = new Child(process.execPath, [BIN, 'port-forward', '--kubeconfig', kubeconfig, ...extra, target, `:${remote}`], env);
    children.push(ours);
    paths.push({ id: 'kube-spdy', label: 'kube-spdy port-forward', port: Number((await ours.line(FORWARDING))[1]), pid: ours.pid });
    if (!options.noKubectl) {
      progress('starting kubectl port-forward');
      const kextra = extra.filter((a, i) => a !== '--transport' && extra[i - 1] !== '--transport');
      const kubectl = new Child('kubectl', ['--kubeconfig', kubeconfig, ...kextra, 'port-forward', target, `:${remote}`], { ...env, KUBECACHEDIR: path.join(dir, 'cache') });
      children.push(kubectl);
      paths.push({ id: 'kubectl', label: 'kubectl port-forward', port: Number((await kubectl.line(FORWARDING))[1]), pid: kubectl.pid });
    } else {
      notes.push('kubectl is not installed or --no-kubectl: no kubectl baseline.');
    }
    const reqPath = options.path ?? '/';
    progress('warming up');
    for (const p of paths) for (let i = 0; i < 100; i++) await getOnce(p.port, reqPath);
    return { server, paths, path: reqPath, ...(bulk ? { bulk } : {}), notes, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * The rigs a suite measures through: the user's cluster with `--kubeconfig`; else kube-spdy's fake API
 * server and, when it can be built, the Go kubelet-style server (so that neither side's server is the
 * only judge). `notes` says what was skipped.
 */
export async function startRigs(options: BenchOptions, bulkBytes: number, progress: (t: string) => void): Promise<{ rigs: { key: string; rig: Rig }[]; notes: string[]; stop(): Promise<void> }> {
  const rigs: { key: string; rig: Rig }[] = [];
  const notes: string[] = [];
  const stop = async () => {
    await Promise.all(rigs.map((r) => r.rig.stop()));
  };
  try {
    if (options.kubeconfig) {
      rigs.push({ key: 'user', rig: await startRig(options, bulkBytes, progress) });
      return { rigs, notes, stop };
    }
    rigs.push({ key: 'fake', rig: await startRig(options, bulkBytes, progress, 'fake') });
    const go = goServer(options);
    if ('reason' in go) notes.push(`Go kubelet-style server skipped: ${go.reason}.`);
    else rigs.push({ key: 'go', rig: await startRig(options, bulkBytes, progress, 'go') });
    return { rigs, notes, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
