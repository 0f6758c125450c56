/**
 * How the fake API server reaches a pod's port: a TCP dial, with the kubelet's error text on failure.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';

/** Dials `host:port`; rejects with the kubelet's text ("dial tcp4 127.0.0.1:5432: connect: connection refused"). */
export function dialTcp(host: string, port: number, signal: AbortSignal): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port, signal, noDelay: true, allowHalfOpen: true });
    sock.once('connect', () => {
      sock.off('error', onErr);
      resolve(sock);
    });
    const onErr = (err: NodeJS.ErrnoException): void => {
      // The kubelet's text: "dial tcp4 127.0.0.1:5432: connect: connection refused".
      const reason = err.code === 'ECONNREFUSED' ? 'connect: connection refused' : err.message;
      reject(new Error(`dial tcp${net.isIPv6(host) ? '6' : '4'} ${net.isIPv6(host) ? `[${host}]` : host}:${port}: ${reason}`));
    };
    sock.once('error', onErr);
  });
}
