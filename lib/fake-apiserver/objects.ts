/**
 * The objects the fake API server serves (pods, services, deployments, replicasets, statefulsets), as
 * `v1`/`apps/v1` JSON, and their creation from Kubernetes manifests (YAML/JSON objects).
 */
import { InvalidArgumentError } from '../errors.js';
import type { FakePod, FakeService, FakeWorkload } from './types.js';

export function hash12(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0').padEnd(12, '0');
}

const uid = (kind: string, ns: string, name: string): string => `00000000-0000-4000-8000-${hash12(`${kind}/${ns}/${name}`)}`;
const created = '2026-01-01T00:00:00Z';

/** A pod's container ports as `{ name?, containerPort }`. */
export function containerPorts(p: FakePod): { name?: string; containerPort: number }[] {
  return (p.ports ?? []).map((x) => (typeof x === 'number' ? { containerPort: x } : x));
}

/** The `v1` Pod object for `p`. */
export function podObject(p: FakePod): unknown {
  const phase = p.phase ?? 'Running';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: p.name, namespace: p.namespace, uid: uid('Pod', p.namespace, p.name), resourceVersion: '1', creationTimestamp: p.created ?? created, labels: p.labels ?? {} },
    spec: { containers: [{ name: 'main', image: 'kube-spdy/fake', ports: containerPorts(p).map((x) => ({ ...(x.name ? { name: x.name } : {}), containerPort: x.containerPort, protocol: 'TCP' })) }] },
    status: { phase, podIP: p.host ?? '127.0.0.1', conditions: [{ type: 'Ready', status: phase === 'Running' ? 'True' : 'False' }] },
  };
}

export function serviceObject(s: FakeService): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: s.name, namespace: s.namespace, uid: uid('Service', s.namespace, s.name), resourceVersion: '1', creationTimestamp: created },
    spec: {
      ...(s.selector ? { selector: s.selector } : {}),
      type: 'ClusterIP',
      ports: s.ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), protocol: 'TCP', port: p.port, targetPort: p.targetPort ?? p.port })),
    },
  };
}

export function workloadObject(w: FakeWorkload): unknown {
  return {
    apiVersion: 'apps/v1',
    kind: w.kind,
    metadata: { name: w.name, namespace: w.namespace, uid: uid(w.kind, w.namespace, w.name), resourceVersion: '1', creationTimestamp: created },
    spec: { replicas: 1, selector: { matchLabels: w.selector }, template: { metadata: { labels: w.selector }, spec: { containers: [{ name: 'main', image: 'kube-spdy/fake' }] } } },
  };
}

/** The fake objects of Kubernetes manifests (kinds Pod, Service, Deployment, ReplicaSet, StatefulSet). */
export function fromManifests(docs: unknown[]): { pods: FakePod[]; services: FakeService[]; workloads: FakeWorkload[] } {
  const pods: FakePod[] = [];
  const services: FakeService[] = [];
  const workloads: FakeWorkload[] = [];
  for (const d of docs) {
    if (d === null || d === undefined) continue;
    const o = d as { kind?: string; metadata?: { name?: string; namespace?: string; labels?: Record<string, string> }; spec?: Record<string, unknown>; status?: Record<string, unknown> };
    const name = o.metadata?.name;
    const namespace = o.metadata?.namespace ?? 'default';
    if (!name) throw new InvalidArgumentError(`a ${o.kind ?? 'manifest'} without metadata.name`);
    const spec = o.spec ?? {};
    switch (o.kind) {
      case 'Pod': {
        const containers = (spec.containers as { ports?: { name?: string; containerPort: number }[] }[] | undefined) ?? [];
        const ports = containers.flatMap((c) => c.ports ?? []).map((p) => ({ ...(p.name ? { name: p.name } : {}), containerPort: Number(p.containerPort) }));
        const host = o.status?.podIP as string | undefined;
        const phase = o.status?.phase as string | undefined;
        pods.push({ namespace, name, ...(o.metadata?.labels ? { labels: o.metadata.labels } : {}), ports, ...(host ? { host } : {}), ...(phase ? { phase } : {}) });
        break;
      }
      case 'Service': {
        const ports = ((spec.ports as { name?: string; port: number; targetPort?: number | string }[] | undefined) ?? []).map((p) => ({
          ...(p.name ? { name: p.name } : {}),
          port: Number(p.port),
          ...(p.targetPort !== undefined ? { targetPort: p.targetPort } : {}),
        }));
        services.push({ namespace, name, ...(spec.selector ? { selector: spec.selector as Record<string, string> } : {}), ports });
        break;
      }
      case 'Deployment':
      case 'ReplicaSet':
      case 'StatefulSet': {
        const sel = (spec.selector as { matchLabels?: Record<string, string> } | undefined)?.matchLabels;
        if (!sel) throw new InvalidArgumentError(`${o.kind} ${namespace}/${name}: spec.selector.matchLabels is required`);
        workloads.push({ kind: o.kind, namespace, name, selector: sel });
        break;
      }
      default:
        throw new InvalidArgumentError(`unsupported kind "${o.kind}" (Pod, Service, Deployment, ReplicaSet, StatefulSet)`);
    }
  }
  return { pods, services, workloads };
}
