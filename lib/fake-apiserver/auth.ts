/**
 * Authentication as the API server does it with anonymous access off: a request is authenticated by a
 * bearer token from the accepted list, or by a client certificate that the TLS layer verified against
 * the CA; otherwise 401. With no tokens and no client-certificate auth configured, everything passes.
 */
import type http from 'node:http';
import type { TLSSocket } from 'node:tls';

export interface AuthConfig {
  tokens: Set<string>;
  clientCertificates: boolean;
}

export function authenticate(req: http.IncomingMessage, auth: AuthConfig): boolean {
  if (auth.tokens.size === 0 && !auth.clientCertificates) return true;
  const h = req.headers.authorization;
  if (h !== undefined) {
    // A presented token that is not valid is a 401, even with a valid certificate (the API server's union authenticator tries both; we keep it strict).
    const m = /^Bearer\s+(.+)$/i.exec(h);
    if (m && auth.tokens.has(m[1]!.trim())) return true;
  }
  if (auth.clientCertificates) {
    const sock = req.socket as TLSSocket;
    if (typeof sock.authorized === 'boolean' && sock.authorized && sock.getPeerCertificate?.()?.subject) return true;
  }
  return false;
}
