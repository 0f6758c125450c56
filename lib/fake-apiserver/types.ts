/**
 * Public shapes of the fake Kubernetes API server ({@link startFakeApiServer}).
 */
import type { Connection } from '../session/connection.js';
import type { LocalProcessOptions } from '../remotecommand/local.js';

/** One pod of the fake server. */
export interface FakePod {
  namespace: string;
  name: string;
  /** Where the pod's ports are dialed. Default '127.0.0.1'. */
  host?: string;
  /** When true, the port-forward upgrade for this pod is answered 403 Forbidden. */
  forbidden?: boolean;
  /** Labels (matched by service and workload selectors). */
  labels?: Record<string, string>;
  /**
   * Container ports (numbers, or named: a name lets clients use it, `8080:http`, a service's named
   * `targetPort`). Port-forward dials only these unless the server was started with `anyPort`; another
   * port gets `port P is not allowed` on its error stream.
   */
  ports?: (number | { name?: string; containerPort: number })[];
  /** `status.phase`. Default `Running`. */
  phase?: string;
  /** `metadata.creationTimestamp` (RFC 3339). Default 2026-01-01T00:00:00Z. */
  created?: string;
}

/** A service: `selector` picks pods; each port maps to `targetPort` (a number or a named container port). */
export interface FakeService {
  namespace: string;
  name: string;
  selector?: Record<string, string>;
  ports: { name?: string; port: number; targetPort?: number | string }[];
}

/** A deployment, replicaset or statefulset: its pods are those its selector matches. */
export interface FakeWorkload {
  kind: 'Deployment' | 'ReplicaSet' | 'StatefulSet';
  namespace: string;
  name: string;
  selector: Record<string, string>;
}

export interface FakeApiServerOptions {
  pods: FakePod[];
  services?: FakeService[];
  /** Deployments, replicasets and statefulsets. */
  workloads?: FakeWorkload[];
  /**
   * Serve HTTPS: `true` generates a CA, a server certificate and a client certificate (tls.ts); or given
   * PEM material. The kubeconfig then carries `certificate-authority-data`. Default: plain http.
   */
  tls?: boolean | { cert: string; key: string; caCert: string; clientCert?: string; clientKey?: string };
  /**
   * Require authentication (else 401, as the API server with anonymous auth off): a bearer token from
   * `tokens` (or `token`), or a client certificate signed by the CA (`clientCertificates`, HTTPS only).
   */
  tokens?: string[];
  clientCertificates?: boolean;
  /** Listen host. Default '127.0.0.1'. */
  host?: string;
  /** Listen port; 0 picks one. Default 0. */
  port?: number;
  /** When set, every request must carry `Authorization: Bearer <token>` (401 otherwise); same as `tokens: [token]`. */
  token?: string;
  /** Wait for both streams of a pair, ms. Default 30000. */
  streamCreationTimeout?: number;
  /**
   * Port-forward transports served. Default `['websocket', 'spdy']`. Without `'spdy'` the SPDY upgrade
   * is answered 400 (a gateway that passes only WebSockets: kubectl's default path must work); without
   * `'websocket'` the tunnel is answered 400 (an API server before 1.31: clients fall back to SPDY).
   */
  transports?: ('websocket' | 'spdy')[];
  /**
   * Most streams one port-forward connection may have open; more are refused (RST_STREAM REFUSED_STREAM)
   * and the limit is advertised in SETTINGS MAX_CONCURRENT_STREAMS. Default 100000 (the kubelet has no cap).
   */
  maxConcurrentStreams?: number;
  /** Let port-forward dial any port of a pod, not only its declared `ports`. Default false. */
  anyPort?: boolean;
  /** Most time to receive a request's headers (an upgrade included), ms; slower clients are dropped. Default 10000. */
  headersTimeout?: number;
  /** Most live port-forward (SPDY) connections; more upgrades are answered 503. Default 1024. */
  maxConnections?: number;
  /** Server-wide bounds over all port-forward connections: streams waiting for their partner (default 4096) and forwards open (default 4096). */
  portForwardLimits?: { maxPendingPairs?: number; maxForwards?: number };
  /**
   * Serve `pods/exec` and `pods/attach` (WebSocket and SPDY, lib/remotecommand): every pod's one
   * container (`main`) is this machine, commands run as local child processes with `cwd`/`env`
   * (`attachCommand` is the main process attach joins). Default: off (404, as for an unknown route).
   */
  exec?: LocalProcessOptions | boolean;
}

export interface FakeApiServer {
  /** `http://127.0.0.1:PORT`, or `https://…` with TLS. */
  readonly url: string;
  /** The TLS material (PEM), when serving HTTPS. */
  readonly tls: { caCert: string; clientCert?: string; clientKey?: string } | undefined;
  /** Requests seen, by method and path (no query), for tests. */
  readonly requests: { method: string; path: string; authorization: boolean }[];
  /** Adds or replaces a pod (a pod restarted under a new name: add the new one, delete the old). */
  setPod(pod: FakePod): void;
  deletePod(namespace: string, name: string): void;
  /** Requests answered 401 Unauthorized so far (API requests and upgrades). */
  readonly unauthorized: number;
  /** Replaces the accepted bearer tokens (a rotated token). */
  setTokens(tokens: string[]): void;
  readonly port: number;
  /** Live SPDY connections (port-forward sessions). */
  readonly connections: Set<Connection>;
  /**
   * A kubeconfig (YAML) that points kubectl at this server: with TLS, `certificate-authority-data`;
   * the user has the first token (if any) and the client certificate (if `clientCertificates`).
   */
  kubeconfig(namespace?: string): string;
  /** Writes {@link kubeconfig} to `file`. */
  writeKubeconfig(file: string, namespace?: string): Promise<void>;
  /** exec/attach sessions served so far (the last 1000): transport, negotiated protocol, kind and command. */
  readonly execSessions: { transport: 'spdy' | 'websocket'; protocol: string; kind: 'exec' | 'attach'; command: string[] }[];
  /** Drops every port-forward connection at once (as a restarting API server would). */
  dropConnections(): void;
  close(): Promise<void>;
}
