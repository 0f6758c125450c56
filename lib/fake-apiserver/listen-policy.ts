/**
 * Where the fake API server may listen. It serves every pod it knows to anyone who reaches it, so beyond
 * loopback it must authenticate: listening on another address without a bearer token (or TLS client
 * certificates) is refused, and with one it still warns loudly (a process warning, code
 * `KUBE_SPDY_FAKE_APISERVER_EXPOSED`, printed on stderr by Node and by the CLI).
 */
import net from 'node:net';
import { InvalidArgumentError } from '../errors.js';

/** True for 127.0.0.0/8, ::1, ::ffff:127.x and `localhost`. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  if (net.isIPv6(host)) {
    const h = host.toLowerCase();
    return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  }
  return false;
}

/** How requests are authenticated, as far as the listen policy is concerned. */
export interface ListenAuth {
  /** A bearer token is required. */
  token: boolean;
  /** TLS client certificates are required. */
  clientCertificates: boolean;
}

/**
 * Checks `host` against the policy. Returns the warning to give (beyond loopback, authenticated), or null.
 * @throws InvalidArgumentError beyond loopback without token or client-certificate authentication.
 */
export function checkListen(host: string, auth: ListenAuth): string | null {
  if (isLoopback(host)) return null;
  if (!auth.token && !auth.clientCertificates) {
    throw new InvalidArgumentError(
      `refusing to listen on ${host}: beyond loopback the fake API server requires a bearer token (--token) or TLS client certificates; it would forward to its pods for anyone who can reach it`,
    );
  }
  return `the fake API server listens on ${host}, beyond loopback: anyone who can reach it and authenticates can port-forward to its pods`;
}
