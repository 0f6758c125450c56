/**
 * Pods of the fake API server: the `NS/NAME[=HOST]` spec and the Pod object served to clients.
 */
import net from 'node:net';
import { InvalidArgumentError } from '../errors.js';
import type { FakePod } from './types.js';

/** Parses `NS/NAME[:PORT[,PORT…]][=HOST]` (or without `NS/`, namespace `default`); PORTs are its declared container ports. */
export function parsePodSpec(spec: string): FakePod {
  const m = /^(?:([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/)?([a-z0-9]([-.a-z0-9]*[a-z0-9])?)(?::([0-9]{1,5}(?:,[0-9]{1,5})*))?(?:=(.+))?$/.exec(spec);
  if (!m) throw new InvalidArgumentError(`invalid pod "${spec}": expected NAMESPACE/NAME[:PORT[,PORT...]][=HOST]`);
  const host = m[6];
  if (host !== undefined && net.isIP(host) === 0 && host !== 'localhost') throw new InvalidArgumentError(`invalid pod "${spec}": HOST must be an IP address or localhost`);
  const ports = m[5]?.split(',').map(Number);
  if (ports?.some((p) => p < 1 || p > 65535)) throw new InvalidArgumentError(`invalid pod "${spec}": a PORT must be 1..65535`);
  return { namespace: m[1] ?? 'default', name: m[3]!, ...(host !== undefined ? { host } : {}), ...(ports ? { ports } : {}) };
}

/** The `v1` Pod object for `p` (phase Running, as kubectl requires before port-forwarding). */
export function podObject(p: FakePod): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: p.name, namespace: p.namespace, uid: `00000000-0000-4000-8000-${hash12(p.namespace + '/' + p.name)}`, resourceVersion: '1' },
    spec: { containers: [{ name: 'main', image: 'kube-spdy/fake', ports: (p.ports ?? []).map((containerPort) => ({ containerPort, protocol: 'TCP' })) }] },
    status: { phase: 'Running', podIP: p.host ?? '127.0.0.1', conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

function hash12(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0').padEnd(12, '0');
}
