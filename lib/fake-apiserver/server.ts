/**
 * A fake Kubernetes API server on loopback that serves what `kubectl port-forward` needs
 * (shared reference kubernetes-portforward.md, "What kubectl 1.31/1.32 needs from an API server"):
 * the REST routes in routes.ts, the port-forward upgrades in upgrade.ts (WebSocket tunnel, SPDY, and
 * the older channel protocol in channel.ts), HTTPS with a generated CA (tls.ts) and authentication
 * (auth.ts).
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { writeFile } from 'node:fs/promises';
import type { Connection } from '../session/connection.js';
import { kubeconfigYaml } from './kubeconfig.js';
import { createRequestHandler } from './routes.js';
import { createUpgradeListener } from './upgrade.js';
import { authenticate, type AuthConfig } from './auth.js';
import { generateTlsMaterial, type TlsMaterial } from './tls.js';
import { checkListen } from './listen-policy.js';
import { PortForwardBudget } from '../portforward/server-policy.js';
import { createExecServer } from './exec.js';
import type { FakeApiServer, FakeApiServerOptions, FakePod, FakeService, FakeWorkload } from './types.js';

/** Requests kept in {@link FakeApiServer.requests}. */
const MAX_RECORDED = 1000;

/** Starts the server. Rejects if it cannot listen or the TLS material is unusable. */
export async function startFakeApiServer(options: FakeApiServerOptions): Promise<FakeApiServer> {
  const pods = new Map<string, FakePod>();
  for (const p of options.pods) pods.set(`${p.namespace}/${p.name}`, p);
  const services = new Map<string, FakeService>();
  for (const s of options.services ?? []) services.set(`${s.namespace}/${s.name}`, s);
  const workloads = new Map<string, FakeWorkload>();
  for (const w of options.workloads ?? []) workloads.set(`${w.kind}/${w.namespace}/${w.name}`, w);
  const connections = new Set<Connection>();
  const host = options.host ?? '127.0.0.1';
  let port = 0;
  const auth: AuthConfig = {
    tokens: new Set([...(options.tokens ?? []), ...(options.token ? [options.token] : [])]),
    clientCertificates: options.clientCertificates === true,
  };
  let material: TlsMaterial | undefined;
  if (options.tls === true) material = await generateTlsMaterial(host);
  else if (options.tls) material = { ...options.tls };
  if (auth.clientCertificates && !material) throw new Error('clientCertificates needs tls');
  const exposed = checkListen(host, { token: auth.tokens.size > 0, clientCertificates: auth.clientCertificates });
  if (exposed) process.emitWarning(exposed, { code: 'KUBE_SPDY_FAKE_APISERVER_EXPOSED' });
  const budget = new PortForwardBudget(options.portForwardLimits ?? {});
  const requests: FakeApiServer['requests'] = [];
  const record = (req: http.IncomingMessage, path: string): void => {
    if (requests.length >= MAX_RECORDED) requests.shift();
    requests.push({ method: req.method ?? '', path, authorization: req.headers.authorization !== undefined });
  };

  let unauthorized = 0;
  const execSessions: FakeApiServer['execSessions'] = [];
  const remoteCommand = createExecServer(options, execSessions);
  const ctx = {
    pods,
    services,
    workloads,
    authorized: (req: http.IncomingMessage) => {
      const ok = authenticate(req, auth);
      if (!ok) unauthorized++;
      return ok;
    },
    address: () => `${host}:${port}`,
    record,
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

  const handler = createRequestHandler(ctx);
  // Slow clients (slowloris, an upgrade request that never ends its headers) are dropped.
  const headersTimeout = options.headersTimeout ?? 10000;
  const timeouts = { headersTimeout, requestTimeout: Math.max(30000, headersTimeout), connectionsCheckingInterval: Math.min(1000, headersTimeout) };
  const server = material
    ? https.createServer({ ...timeouts, cert: material.cert, key: material.key, ca: material.caCert, requestCert: auth.clientCertificates, rejectUnauthorized: false }, handler)
    : http.createServer(timeouts, handler);
  server.on('upgrade', createUpgradeListener(upgradeCtx));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as net.AddressInfo).port;
  const url = `${material ? 'https' : 'http'}://${net.isIPv6(host) ? `[${host}]` : host}:${port}`;

  const kubeconfig = (namespace = 'default'): string =>
    kubeconfigYaml({
      url,
      namespace,
      ...(material ? { caData: Buffer.from(material.caCert).toString('base64') } : {}),
      ...(auth.tokens.size > 0 || !options.clientCertificates ? { token: [...auth.tokens][0] ?? 'kube-spdy-fake-token' } : {}),
      ...(auth.clientCertificates && material?.clientCert && material.clientKey
        ? { clientCertData: Buffer.from(material.clientCert).toString('base64'), clientKeyData: Buffer.from(material.clientKey).toString('base64') }
        : {}),
    });

  return {
    url,
    port,
    tls: material ? { caCert: material.caCert, ...(material.clientCert ? { clientCert: material.clientCert, clientKey: material.clientKey! } : {}) } : undefined,
    requests,
    get unauthorized() {
      return unauthorized;
    },
    connections,
    execSessions,
    kubeconfig,
    writeKubeconfig: (file, namespace) => writeFile(file, kubeconfig(namespace), { mode: 0o600 }),
    setPod: (p) => void pods.set(`${p.namespace}/${p.name}`, p),
    deletePod: (ns, name) => void pods.delete(`${ns}/${name}`),
    setTokens: (tokens) => {
      auth.tokens = new Set(tokens);
    },
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
