/**
 * Port-forward targets and ports as kubectl takes them (kubectl `pkg/cmd/portforward/portforward.go`,
 * `pkg/polymorphichelpers/attachablepodforobject.go`):
 * - `pod/NAME`, `po/NAME`, `pods/NAME` or a bare `NAME`; `deployment/` `deploy/`, `replicaset/` `rs/`,
 *   `statefulset/` `sts/` (also `.apps` suffixed), `service/` `svc/`. A workload or service is resolved to
 *   a running pod chosen by its selector (waiting up to `podRunningTimeout`).
 * - Ports `[LOCAL:]REMOTE` where REMOTE is a number or a named container port (`8080:http`); for a
 *   service, REMOTE is a service port (number or name), mapped to its `targetPort` (a number, or a
 *   named container port of the chosen pod). Duplicate local ports are rejected while parsing.
 */
import { InvalidArgumentError } from '../errors.js';
import type { PortMapping } from '../portforward/ports.js';
import type { Kubeconfig } from './kubeconfig.js';
import { getObject, ApiError, type RequestOptions } from './request.js';

export type TargetKind = 'pod' | 'service' | 'deployment' | 'replicaset' | 'statefulset';

export interface Target {
  kind: TargetKind;
  name: string;
}

const KINDS: Record<string, TargetKind> = {
  pod: 'pod', pods: 'pod', po: 'pod',
  service: 'service', services: 'service', svc: 'service',
  deployment: 'deployment', deployments: 'deployment', deploy: 'deployment',
  replicaset: 'replicaset', replicasets: 'replicaset', rs: 'replicaset',
  statefulset: 'statefulset', statefulsets: 'statefulset', sts: 'statefulset',
};

const NAME = /^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/;

/** Parses `TYPE/NAME` or `NAME` (a pod). @throws InvalidArgumentError */
export function parseTarget(s: string): Target {
  const slash = s.indexOf('/');
  if (slash < 0) {
    if (!NAME.test(s)) throw new InvalidArgumentError(`invalid pod name "${s}"`);
    return { kind: 'pod', name: s };
  }
  let type = s.slice(0, slash).toLowerCase();
  const name = s.slice(slash + 1);
  const group = /^([a-z]+)\.(apps|v1\.apps|apps\/v1)$/.exec(type);
  if (group && ['deployment', 'deployments', 'replicaset', 'replicasets', 'statefulset', 'statefulsets'].includes(group[1]!)) type = group[1]!;
  const kind = KINDS[type];
  if (!kind) throw new InvalidArgumentError(`unsupported target type "${s.slice(0, slash)}": use pod/, deployment/, replicaset/, statefulset/ or service/ (or their short names po, deploy, rs, sts, svc)`);
  if (!NAME.test(name)) throw new InvalidArgumentError(`invalid ${kind} name "${name}"`);
  return { kind, name };
}

/** One requested port: `local` undefined means "the same as the resolved remote port"; 0 means any free port. */
export interface PortRequest {
  local: number | undefined;
  remote: number | string;
  spec: string;
}

const PORT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function parsePortNumber(s: string, what: string, spec: string, allowZero: boolean): number {
  if (!/^\d{1,5}$/.test(s)) throw new InvalidArgumentError(`invalid port "${spec}": ${what} "${s}" is not a number in 1..65535`);
  const n = Number(s);
  if (n > 65535 || (n === 0 && !allowZero)) throw new InvalidArgumentError(`invalid port "${spec}": ${what} ${n} is out of range 1..65535`);
  return n;
}

/**
 * Parses `[LOCAL:]REMOTE` specs (REMOTE a number or a port name; LOCAL empty for any free port).
 * @throws InvalidArgumentError for a bad spec or a local port given twice.
 */
export function parsePortRequests(specs: string[]): PortRequest[] {
  if (specs.length === 0) throw new InvalidArgumentError('at least 1 PORT is required for port-forward');
  const out: PortRequest[] = [];
  const locals = new Set<string>();
  for (const spec of specs) {
    const parts = spec.split(':');
    if (parts.length > 2) throw new InvalidArgumentError(`invalid port "${spec}": expected [LOCAL:]REMOTE`);
    const remoteText = parts[parts.length - 1]!;
    const remote = /^\d+$/.test(remoteText) ? parsePortNumber(remoteText, 'remote port', spec, false) : remoteText;
    if (typeof remote === 'string' && (!PORT_NAME.test(remote) || remote.length > 15)) throw new InvalidArgumentError(`invalid port "${spec}": remote port "${remote}" is neither a number nor a port name`);
    let local: number | undefined;
    if (parts.length === 2) local = parts[0] === '' ? 0 : parsePortNumber(parts[0]!, 'local port', spec, true);
    else if (typeof remote === 'number') local = remote;
    const key = local === undefined ? `name:${String(remote)}` : String(local);
    if (local !== 0 && locals.has(key)) throw new InvalidArgumentError(`local port ${local ?? remote} is given twice`);
    locals.add(key);
    out.push({ local, remote, spec });
  }
  return out;
}

interface ContainerPort { name?: string; containerPort: number; protocol?: string }
interface PodObject {
  metadata: { name: string; namespace?: string; creationTimestamp?: string; deletionTimestamp?: string };
  spec?: { containers?: { ports?: ContainerPort[] }[] };
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
}
interface ServiceObject {
  metadata: { name: string };
  spec?: { selector?: Record<string, string>; ports?: { name?: string; port: number; targetPort?: number | string; protocol?: string }[] };
}
/** A `metav1.LabelSelector`. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}
interface Workload {
  spec?: { selector?: LabelSelector };
}

/** A label selector in its query form (`a=b,c in (d,e),!f`). */
export function selectorString(sel: LabelSelector | undefined): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(sel?.matchLabels ?? {})) parts.push(`${k}=${v}`);
  for (const e of sel?.matchExpressions ?? []) {
    const vals = (e.values ?? []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${vals})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${vals})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.join(',');
}

/** Where to forward: the pod and the numeric port mappings. */
export interface ResolvedTarget {
  pod: string;
  ports: PortMapping[];
}

export interface ResolveOptions extends RequestOptions {
  /** How long to wait for a running pod (kubectl `--pod-running-timeout`), ms. Default 60000. */
  podRunningTimeout?: number;
}

const ns = (n: string): string => `/api/v1/namespaces/${encodeURIComponent(n)}`;
const apps = (n: string): string => `/apis/apps/v1/namespaces/${encodeURIComponent(n)}`;

/** Resolves just the pod of `target` (for a redial: a replaced pod is followed). */
export async function resolvePod(kc: Kubeconfig, namespace: string, target: Target, options: ResolveOptions = {}): Promise<PodObject> {
  if (target.kind === 'pod') {
    const pod = await getObject<PodObject>(kc, `${ns(namespace)}/pods/${encodeURIComponent(target.name)}`, options);
    if (pod.status?.phase !== 'Running') throw new ApiError(`unable to forward port because pod is not running. Current status=${pod.status?.phase ?? 'Unknown'}`);
    return pod;
  }
  let selector: string;
  if (target.kind === 'service') {
    const svc = await getObject<ServiceObject>(kc, `${ns(namespace)}/services/${encodeURIComponent(target.name)}`, options);
    const sel = svc.spec?.selector ?? {};
    if (Object.keys(sel).length === 0) throw new ApiError(`invalid service '${target.name}': Service is defined without a selector`);
    selector = selectorString({ matchLabels: sel });
  } else {
    const w = await getObject<Workload>(kc, `${apps(namespace)}/${target.kind}s/${encodeURIComponent(target.name)}`, options);
    selector = selectorString(w.spec?.selector);
    if (!selector) throw new ApiError(`${target.kind} "${target.name}" has no selector`);
  }
  return waitForRunningPod(kc, namespace, selector, options);
}

async function waitForRunningPod(kc: Kubeconfig, namespace: string, selector: string, options: ResolveOptions): Promise<PodObject> {
  const deadline = Date.now() + (options.podRunningTimeout ?? 60000);
  for (;;) {
    const list = await getObject<{ items?: PodObject[] }>(kc, `${ns(namespace)}/pods?labelSelector=${encodeURIComponent(selector)}`, options);
    const pods = (list.items ?? []).filter((p) => !p.metadata.deletionTimestamp);
    const running = pods.filter((p) => p.status?.phase === 'Running');
    const ready = (p: PodObject): number => (p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? 1 : 0);
    // kubectl sorts by activity (sort.Reverse(podutils.ActivePods)): running and ready first, then newest.
    running.sort((a, b) => ready(b) - ready(a) || String(b.metadata.creationTimestamp ?? '').localeCompare(String(a.metadata.creationTimestamp ?? '')) || a.metadata.name.localeCompare(b.metadata.name));
    if (running[0]) return running[0];
    if (Date.now() >= deadline) {
      if (pods[0]) throw new ApiError(`unable to forward port because pod is not running. Current status=${pods[0].status?.phase ?? 'Unknown'}`);
      throw new ApiError(`timed out waiting for a running pod matching ${selector} (--pod-running-timeout)`);
    }
    if (options.signal?.aborted) throw new ApiError('aborted');
    await new Promise((r) => setTimeout(r, Math.min(500, Math.max(0, deadline - Date.now()))));
  }
}

function containerPortByName(pod: PodObject, name: string): number {
  for (const c of pod.spec?.containers ?? []) for (const p of c.ports ?? []) if (p.name === name) return p.containerPort;
  throw new ApiError(`Pod '${pod.metadata.name}' does not have a named port '${name}'`);
}

/**
 * Resolves `target` and the port requests to a pod and numeric mappings, as kubectl does
 * (`translateServicePortToTargetPort`, `convertPodNamedPortToNumber`).
 * @throws ApiError with kubectl's message (not found, not running, no such port).
 */
export async function resolveTarget(kc: Kubeconfig, namespace: string, target: Target, requests: PortRequest[], options: ResolveOptions = {}): Promise<ResolvedTarget> {
  let svc: ServiceObject | undefined;
  if (target.kind === 'service') svc = await getObject<ServiceObject>(kc, `${ns(namespace)}/services/${encodeURIComponent(target.name)}`, options);
  const pod = await resolvePod(kc, namespace, target, options);
  const ports: PortMapping[] = requests.map((r) => {
    let remote: number;
    let local = r.local;
    if (svc) {
      let svcPort: number;
      if (typeof r.remote === 'number') svcPort = r.remote;
      else {
        const sp = svc.spec?.ports?.find((p) => p.name === r.remote);
        if (!sp) throw new ApiError(`Service '${svc.metadata.name}' does not have a named port '${r.remote}'`);
        svcPort = sp.port;
        local ??= svcPort;
      }
      const sp = svc.spec?.ports?.find((p) => p.port === svcPort);
      if (!sp) throw new ApiError(`Service ${svc.metadata.name} does not have a service port ${svcPort}`);
      const tp = sp.targetPort;
      if (tp === undefined || tp === 0) remote = sp.port;
      else if (typeof tp === 'number' || /^\d+$/.test(tp)) remote = Number(tp);
      else remote = containerPortByName(pod, tp);
    } else {
      remote = typeof r.remote === 'number' ? r.remote : containerPortByName(pod, r.remote);
    }
    return { local: local ?? remote, remote };
  });
  return { pod: pod.metadata.name, ports };
}
