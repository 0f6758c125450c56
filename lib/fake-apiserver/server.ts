/**
 * A fake Kubernetes API server on loopback that serves what `kubectl port-forward` needs
 * (shared reference kubernetes-portforward.md, "What kubectl 1.31/1.32 needs from an API server"):
 * the REST routes in routes.ts and the port-forward upgrade in upgrade.ts.
 */
import http from 'node:http';
import net from 'node:net';
import { writeFile } from 'node:fs/promises';
import type { Connection } from '../session/connection.js';
import { kubeconfigYaml } from './kubeconfig.js';
import { createRequestHandler } from './routes.js';
import { createUpgradeListener } from './upgrade.js';
import { checkListen } from './listen-policy.js';
import { PortForwardBudget } from '../portforward/server-policy.js';
import { createExecServer } from './exec.js';
import type { FakeApiServer, FakeApiServerOptions, FakePod } from './types.js';

/**
 * Starts the server. Rejects if it cannot listen, or with an InvalidArgumentError when told to listen
 * beyond loopback without a token (see listen-policy.ts; beyond loopback with one, a process warning
 * `KUBE_SPDY_FAKE_APISERVER_EXPOSED` is emitted).
 */
export async function startFakeApiServer(options: FakeApiServerOptions): Promise<FakeApiServer> {
  const pods = new Map<string, FakePod>();
  for (const p of options.pods) pods.set(`${p.namespace}/${p.name}`, p);
  const connections = new Set<Connection>();
  const host = options.host ?? '127.0.0.1';
  let port = 0;
  const exposed = checkListen(host, { token: !!options.token, clientCertificates: false });
  if (exposed) process.emitWarning(exposed, { code: 'KUBE_SPDY_FAKE_APISERVER_EXPOSED' });
  const budget = new PortForwardBudget(options.portForwardLimits ?? {});

  const authorized = (req: http.IncomingMessage): boolean => !options.token || req.headers.authorization === `Bearer ${options.token}`;
  const execSessions: FakeApiServer['execSessions'] = [];
  const remoteCommand = createExecServer(options, execSessions);
  const ctx = {
    pods,
    authorized,
    address: () => `${host}:${port}`,
    connections,
    streamCreationTimeout: options.streamCreationTimeout,
    maxConcurrentStreams: options.maxConcurrentStreams,
    anyPort: options.anyPort ?? false,
    maxConnections: options.maxConnections ?? 1024,
    budget,
    remoteCommand,
  };
  const transports = options.transports ?? ['websocket', 'spdy'];
  const upgradeCtx = { ...ctx, websocket: transports.includes('websocket'), spdy: transports.includes('spdy') };

  // Slow clients (slowloris, an upgrade request that never ends its headers) are dropped.
  const headersTimeout = options.headersTimeout ?? 10000;
  const server = http.createServer({ headersTimeout, requestTimeout: Math.max(30000, headersTimeout), connectionsCheckingInterval: Math.min(1000, headersTimeout) }, createRequestHandler(ctx));
  server.on('upgrade', createUpgradeListener(upgradeCtx));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as net.AddressInfo).port;
  const url = `http://${net.isIPv6(host) ? `[${host}]` : host}:${port}`;

  const kubeconfig = (namespace = 'default'): string => kubeconfigYaml({ url, token: options.token ?? 'kube-spdy-fake-token', namespace });

  return {
    url,
    port,
    connections,
    execSessions,
    kubeconfig,
    writeKubeconfig: (file, namespace) => writeFile(file, kubeconfig(namespace), { mode: 0o600 }),
    dropConnections: () => {
      for (const c of connections) c.socket.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of connections) c.destroy();
        remoteCommand?.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
