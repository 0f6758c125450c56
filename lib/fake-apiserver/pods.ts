/**
 * Pods of the fake API server: the `NS/NAME[=HOST]` spec of the command line.
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
