/**
 * TLS material for the fake API server: a generated CA, a server certificate for the listen host
 * (plus localhost, 127.0.0.1, ::1) and a client certificate (`CN=kube-spdy-user`, `O=system:masters`),
 * all ECDSA P-256 signed with SHA-256, via the `selfsigned` package. Or given PEM files.
 */
import net from 'node:net';

export interface TlsMaterial {
  /** CA certificate (PEM): clients verify the server with it; client certificates are checked against it. */
  caCert: string;
  /** Server certificate and key (PEM). */
  cert: string;
  key: string;
  /** A client certificate and key signed by the CA (PEM), when the CA key was at hand (generated material). */
  clientCert?: string;
  clientKey?: string;
}

/** Generates a CA, a server certificate for `host` and a client certificate. Takes ~50–200 ms. */
export async function generateTlsMaterial(host: string): Promise<TlsMaterial> {
  const { generate } = await import('selfsigned');
  const notAfterDate = new Date(Date.now() + 365 * 24 * 3600 * 1000);
  const common = { keyType: 'ec' as const, algorithm: 'sha256' as const, notAfterDate };
  const ca = await generate([{ name: 'commonName', value: 'kube-spdy-fake-ca' }], {
    ...common,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const altNames: { type: number; value?: string; ip?: string }[] = [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }];
  if (net.isIP(host) && host !== '127.0.0.1' && host !== '::1') altNames.push({ type: 7, ip: host });
  else if (!net.isIP(host) && host !== 'localhost') altNames.push({ type: 2, value: host });
  const server = await generate([{ name: 'commonName', value: 'kube-spdy-fake-apiserver' }], {
    ...common,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames } as never,
    ],
  });
  const client = await generate(
    [
      { name: 'commonName', value: 'kube-spdy-user' },
      { name: 'organizationName', value: 'system:masters' },
    ],
    {
      ...common,
      ca: { key: ca.private, cert: ca.cert },
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', clientAuth: true },
      ],
    },
  );
  return { caCert: ca.cert, cert: server.cert, key: server.private, clientCert: client.cert, clientKey: client.private };
}
