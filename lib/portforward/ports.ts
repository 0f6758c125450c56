/**
 * Port and address arguments, as kubectl port-forward takes them
 * (kubectl pkg/cmd/portforward/portforward.go, client-go tools/portforward parsePorts/parseAddresses).
 */
import { isIP } from 'node:net';
import { InvalidArgumentError } from '../errors.js';

/** One forwarded port: `local` 0 means "pick a free port". */
export interface PortMapping {
  local: number;
  remote: number;
}

function parsePortNumber(text: string, what: string, spec: string, allowZero: boolean): number {
  if (!/^\d{1,5}$/.test(text)) throw new InvalidArgumentError(`invalid port spec "${spec}": ${what} port "${text}" is not a number`);
  const n = Number(text);
  if (n > 65535 || (n === 0 && !allowZero)) throw new InvalidArgumentError(`invalid port spec "${spec}": ${what} port ${n} is out of range 1..65535`);
  return n;
}

/**
 * Parses `L:R`, `:R` (any free local port) or `R` (the same local port).
 * @throws InvalidArgumentError with a one-line message naming the spec.
 */
export function parsePortSpec(spec: string): PortMapping {
  const parts = spec.split(':');
  if (parts.length === 1) {
    const p = parsePortNumber(parts[0]!, 'remote', spec, false);
    return { local: p, remote: p };
  }
  if (parts.length !== 2) throw new InvalidArgumentError(`invalid port spec "${spec}": expected [LOCAL:]REMOTE`);
  const remote = parsePortNumber(parts[1]!, 'remote', spec, false);
  const local = parts[0] === '' ? 0 : parsePortNumber(parts[0]!, 'local', spec, true);
  return { local, remote };
}

/** One address to listen on. */
export interface ListenAddress {
  /** The IP to bind. */
  host: string;
  /** 4 or 6. */
  family: 4 | 6;
  /** True when it came from `localhost` (a failure to bind one of the two loopbacks is tolerated). */
  loopbackAlias: boolean;
}

/**
 * Parses listen addresses: IPs, or `localhost` meaning both 127.0.0.1 and ::1 (as kubectl does).
 * Duplicates are dropped. Default `['localhost']`.
 * @throws InvalidArgumentError for a name that is neither an IP nor `localhost`.
 */
export function parseAddresses(addresses: string[] = ['localhost']): ListenAddress[] {
  const out: ListenAddress[] = [];
  const seen = new Set<string>();
  const add = (a: ListenAddress): void => {
    if (seen.has(a.host)) return;
    seen.add(a.host);
    out.push(a);
  };
  for (const raw of addresses) {
    for (const part of raw.split(',')) {
      const a = part.trim();
      if (a === '') continue;
      if (a === 'localhost') {
        add({ host: '127.0.0.1', family: 4, loopbackAlias: true });
        add({ host: '::1', family: 6, loopbackAlias: true });
        continue;
      }
      const host = a.startsWith('[') && a.endsWith(']') ? a.slice(1, -1) : a;
      const fam = isIP(host);
      if (fam === 0) throw new InvalidArgumentError(`invalid address "${a}": expected an IP address or localhost`);
      add({ host, family: fam as 4 | 6, loopbackAlias: false });
    }
  }
  if (out.length === 0) throw new InvalidArgumentError('no address to listen on');
  return out;
}

/** `127.0.0.1:8080` or `[::1]:8080`, as kubectl prints it. */
export function formatHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
