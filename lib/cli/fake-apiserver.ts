/**
 * A fake Kubernetes API server on loopback that serves what `kubectl port-forward` needs
 * (shared reference kubernetes-portforward.md, "What kubectl 1.31/1.32 needs from an API server"):
 * `/version`, legacy discovery (`/api`, `/apis`, `/api/v1`), pod GET (phase Running; 404 Status for an
 * unknown pod) and the SPDY/3.1 port-forward upgrade, served by kube-spdy's own port-forward server.
 * A WebSocket tunnel request is answered 400, so kubectl falls back to SPDY.
 *
 * Port N of a pod dials `HOST:N` (default 127.0.0.1).
 */
import http from 'node:http';
import net from 'node:net';
import { writeFile } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import createDebug from 'debug';
import { Connection } from '../session/connection.js';
import { createUpgradeHandler, writeHttpError } from '../httpstream/server.js';
import { statusJson } from '../httpstream/status.js';
import { servePortForward } from '../portforward/server.js';
import { PORT_FORWARD_PROTOCOL_V1 } from '../portforward/constants.js';
import { InvalidArgumentError } from '../errors.js';

const log = createDebug('kube-spdy:fake-apiserver');

/** One pod of the fake server. */
export interface FakePod {
  namespace: string;
  name: string;
  /** Where the pod's ports are dialed. Default '127.0.0.1'. */
  host?: string;
  /** When true, the port-forward upgrade for this pod is answered 403 Forbidden. */
  forbidden?: boolean;
}

export interface FakeApiServerOptions {
  pods: FakePod[];
  /** Listen host. Default '127.0.0.1'. */
  host?: string;
  /** Listen port; 0 picks one. Default 0. */
  port?: number;
  /** When set, every request must carry `Authorization: Bearer <token>` (401 otherwise). */
  token?: string;
  /** Wait for both streams of a pair, ms. Default 30000. */
  streamCreationTimeout?: number;
}

export interface FakeApiServer {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  /** Live SPDY connections (port-forward sessions). */
  readonly connections: Set<Connection>;
  /** A kubeconfig (YAML) that points kubectl at this server. */
  kubeconfig(namespace?: string): string;
  /** Writes {@link kubeconfig} to `file`. */
  writeKubeconfig(file: string, namespace?: string): Promise<void>;
  /** Drops every port-forward connection at once (as a restarting API server would). */
  dropConnections(): void;
  close(): Promise<void>;
}

/** Parses `NS/NAME[=HOST]` (or `NAME[=HOST]`, namespace `default`). */
export function parsePodSpec(spec: string): FakePod {
  const m = /^(?:([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/)?([a-z0-9]([-.a-z0-9]*[a-z0-9])?)(?:=(.+))?$/.exec(spec);
  if (!m) throw new InvalidArgumentError(`invalid pod "${spec}": expected NAMESPACE/NAME[=HOST]`);
  const host = m[5];
  if (host !== undefined && net.isIP(host) === 0 && host !== 'localhost') throw new InvalidArgumentError(`invalid pod "${spec}": HOST must be an IP address or localhost`);
  return { namespace: m[1] ?? 'default', name: m[3]!, ...(host !== undefined ? { host } : {}) };
}

function json(res: http.ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function podObject(p: FakePod): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: p.name, namespace: p.namespace, uid: `00000000-0000-4000-8000-${hash12(p.namespace + '/' + p.name)}`, resourceVersion: '1' },
    spec: { containers: [{ name: 'main', image: 'kube-spdy/fake', ports: [] }] },
    status: { phase: 'Running', podIP: p.host ?? '127.0.0.1', conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

function hash12(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0').padEnd(12, '0');
}

const PORTFORWARD_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/portforward$/;
const POD_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/;

/** Starts the server. Rejects if it cannot listen. */
export async function startFakeApiServer(options: FakeApiServerOptions): Promise<FakeApiServer> {
  const pods = new Map<string, FakePod>();
  for (const p of options.pods) pods.set(`${p.namespace}/${p.name}`, p);
  const connections = new Set<Connection>();
  const host = options.host ?? '127.0.0.1';
  let port = 0;

  const authorized = (req: http.IncomingMessage): boolean => !options.token || req.headers.authorization === `Bearer ${options.token}`;

  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    log('%s %s', req.method, path);
    if (!authorized(req)) return json(res, 401, statusJson(401, 'Unauthorized', 'Unauthorized'));
    if (req.method !== 'GET') {
      if (PORTFORWARD_PATH.test(path)) return json(res, 400, statusJson(400, 'BadRequest', 'unable to upgrade: missing upgrade headers in request'));
      return json(res, 405, statusJson(405, 'MethodNotAllowed', `method ${req.method} not allowed`));
    }
    if (path === '/version') {
      return json(res, 200, { major: '1', minor: '32', gitVersion: 'v1.32.0-kube-spdy-fake', platform: `${process.platform}/${process.arch}` });
    }
    if (path === '/api') {
      return json(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `${host}:${port}` }] });
    }
    if (path === '/apis') return json(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
    if (path === '/api/v1') {
      return json(res, 200, {
        kind: 'APIResourceList',
        groupVersion: 'v1',
        resources: [
          { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['get', 'list'], shortNames: ['po'] },
          { name: 'pods/portforward', singularName: '', namespaced: true, kind: 'PodPortForwardOptions', verbs: ['create', 'get'] },
        ],
      });
    }
    const m = POD_PATH.exec(path);
    if (m) {
      const pod = pods.get(`${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`);
      if (!pod) return json(res, 404, statusJson(404, 'NotFound', `pods "${decodeURIComponent(m[2]!)}" not found`));
      return json(res, 200, podObject(pod));
    }
    return json(res, 404, statusJson(404, 'NotFound', 'the server could not find the requested resource'));
  });

  const spdyUpgrade = createUpgradeHandler({
    protocols: [PORT_FORWARD_PROTOCOL_V1],
    onUpgrade: (socket, _protocol, req) => {
      const pod = (req as http.IncomingMessage & { pod: FakePod }).pod;
      socket.on('error', (err) => log('port-forward socket error: %s', err.message));
      const conn = new Connection(socket, { role: 'server', flowControl: false });
      connections.add(conn);
      conn.once('close', () => connections.delete(conn));
      const target = pod.host ?? '127.0.0.1';
      servePortForward(conn, {
        target: `${pod.namespace}/${pod.name}`,
        ...(options.streamCreationTimeout !== undefined ? { streamCreationTimeout: options.streamCreationTimeout } : {}),
        dial: (p, signal) => dialTcp(target, p, signal),
      });
    },
  });

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    log('upgrade %s %s (%s)', req.method, path, req.headers.upgrade);
    if (!authorized(req)) return writeHttpError(socket, 401, statusJson(401, 'Unauthorized', 'Unauthorized'));
    const m = PORTFORWARD_PATH.exec(path);
    if (!m) return writeHttpError(socket, 404, statusJson(404, 'NotFound', 'the server could not find the requested resource'));
    const pod = pods.get(`${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`);
    if (!pod) return writeHttpError(socket, 404, statusJson(404, 'NotFound', `pods "${decodeURIComponent(m[2]!)}" not found`));
    if (pod.forbidden) {
      return writeHttpError(
        socket,
        403,
        statusJson(403, 'Forbidden', `pods "${pod.name}" is forbidden: User "kube-spdy" cannot create resource "pods/portforward" in API group "" in the namespace "${pod.namespace}"`),
      );
    }
    if (/websocket/i.test(String(req.headers.upgrade ?? ''))) {
      // The WebSocket tunnel is not served yet: a 400 makes kubectl fall back to the SPDY upgrade.
      return writeHttpError(socket, 400, statusJson(400, 'BadRequest', 'WebSocket port-forward tunnel not supported by this server'));
    }
    (req as http.IncomingMessage & { pod: FakePod }).pod = pod;
    spdyUpgrade(req, socket, head);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as net.AddressInfo).port;
  const url = `http://${net.isIPv6(host) ? `[${host}]` : host}:${port}`;

  const kubeconfig = (namespace = 'default'): string =>
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: kube-spdy-fake',
      '  cluster:',
      `    server: ${url}`,
      // Plain http: @kubernetes/client-node accepts an http server only with this set (no TLS to verify).
      '    insecure-skip-tls-verify: true',
      'users:',
      '- name: kube-spdy-fake',
      '  user:',
      `    token: ${options.token ?? 'kube-spdy-fake-token'}`,
      'contexts:',
      '- name: kube-spdy-fake',
      '  context:',
      '    cluster: kube-spdy-fake',
      '    user: kube-spdy-fake',
      `    namespace: ${namespace}`,
      'current-context: kube-spdy-fake',
      '',
    ].join('\n');

  return {
    url,
    port,
    connections,
    kubeconfig,
    writeKubeconfig: (file, namespace) => writeFile(file, kubeconfig(namespace), { mode: 0o600 }),
    dropConnections: () => {
      for (const c of connections) c.socket.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of connections) c.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function dialTcp(host: string, port: number, signal: AbortSignal): Promise<Duplex> {
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
