/**
 * Proxies for API-server connections, as client-go picks and dials them: the cluster's `proxy-url`
 * (`http://`, `https://`, `socks5://`) wins; without it `HTTPS_PROXY`/`HTTP_PROXY` (upper or lower case)
 * for the server's scheme, unless `NO_PROXY` matches or the host is localhost/loopback (Go
 * `golang.org/x/net/http/httpproxy`, used by `http.ProxyFromEnvironment`). An HTTP(S) proxy is used with
 * `CONNECT` for every connection (client-go's SPDY and WebSocket dialers do the same); SOCKS5 through the
 * `socks` library. Proxy credentials (`user:pass@`) are sent as `Proxy-Authorization: Basic` / SOCKS5
 * user/password and never logged.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import createDebug from 'debug';
import { InvalidArgumentError } from '../errors.js';
import type { CreateConnection } from '../httpstream/client.js';

const debug = createDebug('kube-spdy:kube');

/** Time allowed for the proxy to establish the tunnel, ms. */
const PROXY_CONNECT_TIMEOUT = 30000;

/** Parses a proxy URL (`http://`, `https://`, `socks5://`, `socks5h://`). @throws InvalidArgumentError */
export function parseProxyUrl(s: string): URL {
  let u: URL;
  try {
    u = new URL(/^[a-z0-9+.-]+:\/\//i.test(s) ? s : `http://${s}`);
  } catch {
    throw new InvalidArgumentError(`invalid proxy URL "${redact(s)}"`);
  }
  if (!['http:', 'https:', 'socks5:', 'socks5h:'].includes(u.protocol)) {
    throw new InvalidArgumentError(`unsupported proxy scheme "${u.protocol}" (http, https, socks5)`);
  }
  return u;
}

function redact(s: string): string {
  return s.replace(/\/\/[^@/]*@/, '//***@');
}

/**
 * The proxy for `server` from the environment, or undefined (Go `httpproxy.Config.ProxyFunc`):
 * `HTTPS_PROXY` for https:, `HTTP_PROXY` for http: (upper case first), skipped for localhost, loopback
 * IPs and hosts matched by `NO_PROXY` (`*`, exact hosts, domain suffixes with or without a leading dot,
 * IPs, CIDRs, optional `:port`).
 */
export function proxyFromEnvironment(server: URL, env: NodeJS.ProcessEnv): URL | undefined {
  const raw = server.protocol === 'https:' ? env.HTTPS_PROXY || env.https_proxy : env.HTTP_PROXY || env.http_proxy;
  if (!raw) return undefined;
  const host = server.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || isLoopback(host)) return undefined;
  const port = server.port || (server.protocol === 'https:' ? '443' : '80');
  if (noProxyMatches(env.NO_PROXY ?? env.no_proxy ?? '', host, port)) return undefined;
  return parseProxyUrl(raw);
}

function isLoopback(host: string): boolean {
  if (net.isIPv4(host)) return host.startsWith('127.');
  if (net.isIPv6(host)) return host === '::1' || /^::ffff:127\./.test(host);
  return false;
}

/** True when `NO_PROXY` excludes `host:port` (Go httpproxy rules). */
export function noProxyMatches(noProxy: string, host: string, port: string): boolean {
  for (let entry of noProxy.split(',')) {
    entry = entry.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return true;
    if (entry.includes('/')) {
      const [base, bits] = entry.split('/');
      if (net.isIP(host) && net.isIP(base!) === net.isIP(host)) {
        const list = new net.BlockList();
        list.addSubnet(base!, Number(bits), net.isIPv6(base!) ? 'ipv6' : 'ipv4');
        if (list.check(host, net.isIPv6(host) ? 'ipv6' : 'ipv4')) return true;
      }
      continue;
    }
    let entryPort = '';
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(entry);
    if (m) {
      entry = m[1]!.replace(/^\[|\]$/g, '');
      entryPort = m[2]!;
    }
    if (entryPort && entryPort !== port) continue;
    if (net.isIP(entry)) {
      if (entry === host) return true;
      continue;
    }
    const domain = entry.startsWith('.') ? entry.slice(1) : entry;
    if (entry.startsWith('*.')) {
      if (host.endsWith(entry.slice(1))) return true;
    } else if (host === domain || host.endsWith(`.${domain}`)) return true;
  }
  return false;
}

/** Opens a raw TCP tunnel to `host:port` through `proxy`. */
export async function connectThroughProxy(proxy: URL, host: string, port: number, signal?: AbortSignal): Promise<Duplex> {
  if (proxy.protocol === 'socks5:' || proxy.protocol === 'socks5h:') {
    const { SocksClient } = await import('socks');
    const { socket } = await SocksClient.createConnection({
      proxy: {
        host: proxy.hostname.replace(/^\[|\]$/g, ''),
        port: Number(proxy.port || 1080),
        type: 5,
        ...(proxy.username ? { userId: decodeURIComponent(proxy.username), password: decodeURIComponent(proxy.password) } : {}),
      },
      command: 'connect',
      destination: { host, port },
      timeout: PROXY_CONNECT_TIMEOUT,
    });
    debug('socks5 tunnel to %s:%d', host, port);
    return socket;
  }
  return new Promise<Duplex>((resolve, reject) => {
    const authority = `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
    const headers: http.OutgoingHttpHeaders = { Host: authority };
    if (proxy.username) {
      headers['Proxy-Authorization'] = `Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64')}`;
    }
    const req = (proxy.protocol === 'https:' ? https : http).request({
      host: proxy.hostname.replace(/^\[|\]$/g, ''),
      port: Number(proxy.port || (proxy.protocol === 'https:' ? 443 : 80)),
      method: 'CONNECT',
      path: authority,
      headers,
      agent: false,
      timeout: PROXY_CONNECT_TIMEOUT,
      ...(signal ? { signal } : {}),
    });
    req.once('connect', (res, socket, head) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(new Error(`proxyconnect tcp: the proxy answered ${res.statusCode} ${res.statusMessage ?? ''} to CONNECT ${authority}`));
        return;
      }
      if (head.length > 0) socket.unshift(head);
      debug('CONNECT tunnel to %s', authority);
      resolve(socket);
    });
    req.once('timeout', () => req.destroy(new Error(`proxyconnect tcp: no answer from the proxy within ${PROXY_CONNECT_TIMEOUT} ms`)));
    req.once('error', (err) => reject(new Error(`proxyconnect tcp: ${err.message}`)));
    req.end();
  });
}

/**
 * A `createConnection` for requests to `server` through `proxy`: the tunnel, then TLS (with `tlsOptions`)
 * for an https: server, so the request never sees the proxy.
 */
export function proxyConnector(server: URL, proxy: URL, tlsOptions: tls.ConnectionOptions): CreateConnection {
  const host = server.hostname.replace(/^\[|\]$/g, '');
  const secure = server.protocol === 'https:';
  const port = Number(server.port || (secure ? 443 : 80));
  return (_opts, cb) => {
    connectThroughProxy(proxy, host, port).then(
      (raw) => {
        if (!secure) return cb(null, raw);
        const servername = tlsOptions.servername ?? (net.isIP(host) ? undefined : host);
        const sock = tls.connect({ ...tlsOptions, socket: raw as net.Socket, ...(servername ? { servername } : {}), ALPNProtocols: ['http/1.1'] });
        cb(null, sock);
      },
      (err: Error) => cb(err),
    );
  };
}
