/**
 * The fake API server's port-forward upgrades, both served by kube-spdy's own port-forward server:
 * the WebSocket tunnel (`GET`, `SPDY/3.1+portforward.k8s.io`, kubectl's default since 1.31) and the
 * SPDY/3.1 upgrade (`POST`). Either can be refused (`transports` option) to exercise a client's
 * fallback or a gateway that passes only WebSockets. Port N of a pod dials `HOST:N` (default 127.0.0.1).
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import createDebug from 'debug';
import { Connection } from '../session/connection.js';
import { createUpgradeHandler, writeHttpError } from '../httpstream/server.js';
import { statusJson } from '../httpstream/status.js';
import { servePortForward } from '../portforward/server.js';
import type { PortForwardBudget } from '../portforward/server-policy.js';
import { PORT_FORWARD_PROTOCOL_V1, PORT_FORWARD_SESSION_DEFAULTS } from '../portforward/constants.js';
import { createTunnelHandler, isWebSocketUpgrade } from '../httpstream/websocket-server.js';
import { TUNNEL_PROTOCOL_PORT_FORWARD } from '../httpstream/websocket-client.js';
import type { RemoteCommandServer } from '../remotecommand/server.js';
import { dialTcp } from './dial.js';
import { containerPorts } from './objects.js';
import { offersChannelProtocol, serveChannelPortForward } from './channel.js';
import { PORTFORWARD_PATH, type RouteContext } from './routes.js';
import { serveExecUpgrade } from './exec.js';
import type { FakePod } from './types.js';

const log = createDebug('kube-spdy:fake-apiserver');

export interface UpgradeContext extends RouteContext {
  /** Live SPDY connections; each is added on upgrade and removed on close. */
  connections: Set<Connection>;
  /** Wait for both streams of a pair, ms (undefined: the port-forward server's default). */
  streamCreationTimeout: number | undefined;
  /** Serve the WebSocket tunnel (else 400, as API servers before 1.31). */
  websocket: boolean;
  /** Serve the SPDY upgrade (else 400, as a gateway that passes only WebSockets). */
  spdy: boolean;
  /** Stream cap per connection (undefined: 100000). */
  maxConcurrentStreams: number | undefined;
  /** Dial any port, not only the pod's declared ones. */
  anyPort: boolean;
  /** Most live SPDY connections (503 past it). */
  maxConnections: number;
  /** Server-wide port-forward bounds. */
  budget: PortForwardBudget;
  /** exec/attach, when enabled (`exec` option). */
  remoteCommand: RemoteCommandServer | undefined;
}

/** The `upgrade` handler of the HTTP server. */
export function createUpgradeListener(ctx: UpgradeContext): (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void {
  const serve = (socket: Duplex, req: http.IncomingMessage): void => {
    const pod = (req as http.IncomingMessage & { pod: FakePod }).pod;
    socket.on('error', (err) => log('port-forward socket error: %s', err.message));
    // The kubelet has no stream cap; 100,000 is far above what a port-forward session needs.
    const conn = new Connection(socket, { ...PORT_FORWARD_SESSION_DEFAULTS, maxConcurrentStreams: ctx.maxConcurrentStreams ?? 100000, role: 'server' });
    ctx.connections.add(conn);
    conn.once('close', () => ctx.connections.delete(conn));
    const target = pod.host ?? '127.0.0.1';
    servePortForward(conn, {
      target: `${pod.namespace}/${pod.name}`,
      ...(ctx.streamCreationTimeout !== undefined ? { streamCreationTimeout: ctx.streamCreationTimeout } : {}),
      // The pod's declared container ports, unless the server was told to allow any (README "Security").
      allowedPorts: ctx.anyPort ? 'any' : containerPorts(pod).map((x) => x.containerPort),
      budget: ctx.budget,
      dial: (p, signal) => dialTcp(target, p, signal),
    });
  };
  const spdyUpgrade = createUpgradeHandler({ protocols: [PORT_FORWARD_PROTOCOL_V1], onUpgrade: (socket, _protocol, req) => serve(socket, req) });
  const tunnel = createTunnelHandler({ protocols: [TUNNEL_PROTOCOL_PORT_FORWARD], onTunnel: (socket, _protocol, req) => serve(socket, req) });

  return (req, socket, head) => {
    socket.on('error', () => {});
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    log('upgrade %s %s (%s)', req.method, path, req.headers.upgrade);
    ctx.record(req, path);
    if (!ctx.authorized(req)) return writeHttpError(socket, 401, statusJson(401, 'Unauthorized', 'Unauthorized'));
    if (serveExecUpgrade(ctx, req, socket, head)) return;
    const m = PORTFORWARD_PATH.exec(path);
    if (!m) return writeHttpError(socket, 404, statusJson(404, 'NotFound', 'the server could not find the requested resource'));
    const pod = ctx.pods.get(`${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`);
    if (!pod) return writeHttpError(socket, 404, statusJson(404, 'NotFound', `pods "${decodeURIComponent(m[2]!)}" not found`));
    if (pod.forbidden) {
      return writeHttpError(
        socket,
        403,
        statusJson(403, 'Forbidden', `pods "${pod.name}" is forbidden: User "kube-spdy" cannot create resource "pods/portforward" in API group "" in the namespace "${pod.namespace}"`),
      );
    }
    if (ctx.connections.size >= ctx.maxConnections) {
      log('upgrade refused: %d connections (maxConnections)', ctx.connections.size);
      return writeHttpError(socket, 503, statusJson(503, 'ServiceUnavailable', 'too many port-forward connections'));
    }
    (req as http.IncomingMessage & { pod: FakePod }).pod = pod;
    if (isWebSocketUpgrade(req) && offersChannelProtocol(req) && ctx.websocket) {
      // The older channel protocol (@kubernetes/client-node's PortForward, the Python client, kube-rs).
      const target = pod.host ?? '127.0.0.1';
      const allowed = new Set(containerPorts(pod).map((x) => x.containerPort));
      return serveChannelPortForward(req, socket, head, (p, signal) =>
        ctx.anyPort || allowed.has(p) ? dialTcp(target, p, signal) : Promise.reject(new Error(`port ${p} is not allowed`)),
      );
    }
    if (isWebSocketUpgrade(req)) {
      // An API server before 1.31 answers 400 here (`query parameter "port" is required`): kubectl falls back.
      if (!ctx.websocket) return writeHttpError(socket, 400, statusJson(400, 'BadRequest', 'WebSocket port-forward tunnel not supported by this server'));
      return tunnel(req, socket, head);
    }
    if (!ctx.spdy) return writeHttpError(socket, 400, statusJson(400, 'BadRequest', 'the SPDY/3.1 upgrade is refused by this server (WebSocket tunnel only)'));
    spdyUpgrade(req, socket, head);
  };
}
