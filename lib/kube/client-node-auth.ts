/**
 * The TLS options and headers of one kubeconfig cluster and user, as @kubernetes/client-node's
 * `KubeConfig.applyToHTTPSOptions` computes them (its `config.js`: `applyHTTPSOptions`, then
 * `applyAuthorizationHeader`, then basic auth), without loading `KubeConfig` itself: `config.js` imports
 * client-node's generated API client (`gen/index.js`), which a port-forward never uses and which costs
 * ~60 MiB of RSS and ~0.35 s at the first https dial (measured on Node 20: a bare process 40 MiB RSS;
 * importing `config.js` 106 MiB; importing only the authenticators below 43–49 MiB).
 *
 * The authentication stays client-node's: its authenticators (`AzureAuth`, `GoogleCloudPlatformAuth`,
 * `ExecAuth`, `FileAuth`, `OpenIDConnectAuth`, in the order of `KubeConfig`'s constructor) are imported
 * from their own modules, once, and only for a user with an `auth-provider` or `exec` (each checks
 * `isAuthProvider(user)` itself). What is here is the glue around them: CA, client certificate and key
 * from a file or base64 data, `insecure-skip-tls-verify`, `tls-server-name`, `as` (Impersonate-User), a
 * static token and username/password.
 */
import fs from 'node:fs';
import type { Cluster, User } from '@kubernetes/client-node';

/** The fields of https request options that client-node's authenticators and glue set. */
export interface HttpsAuthOptions {
  headers?: Record<string, unknown>;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized?: boolean;
  servername?: string;
  /** `user:password` (client-node sets `opts.auth`; the caller turns it into a Basic header). */
  auth?: string;
}

interface Authenticator {
  isAuthProvider(user: User): boolean;
  applyAuthentication(user: User, opts: HttpsAuthOptions): Promise<void>;
}

const MODULES = [
  ['azure_auth', 'AzureAuth'],
  ['gcp_auth', 'GoogleCloudPlatformAuth'],
  ['exec_auth', 'ExecAuth'],
  ['file_auth', 'FileAuth'],
  ['oidc_auth', 'OpenIDConnectAuth'],
] as const;

/** client-node's `bufferFromFileOrString`: a file wins over base64 data. @throws the file's read error */
function fileOrData(file: string | undefined, data: string | undefined): Buffer | undefined {
  if (file) return fs.readFileSync(file);
  if (data) return Buffer.from(data, 'base64');
  return undefined;
}

/**
 * Applies one cluster and user to `opts`, as `KubeConfig.applyToHTTPSOptions` does. Authenticators are
 * stateful (token caches, OIDC refresh): one instance per kubeconfig, kept here.
 */
export class ClientNodeAuth {
  private authenticators: Promise<Authenticator[]> | undefined;

  constructor(
    private readonly cluster: Cluster | undefined,
    private readonly user: User | undefined,
  ) {}

  /**
   * Fills `opts` for one request or dial.
   * @throws an authenticator's error (a failed auth-provider), or a CA, certificate or key file's read error
   */
  async apply(opts: HttpsAuthOptions): Promise<void> {
    const { cluster, user } = this;
    if (!user) return;
    // applyHTTPSOptions
    if (cluster?.skipTLSVerify) opts.rejectUnauthorized = false;
    if (cluster?.tlsServerName) opts.servername = cluster.tlsServerName;
    const ca = cluster ? fileOrData(cluster.caFile, cluster.caData) : undefined;
    if (ca) opts.ca = ca;
    const cert = fileOrData(user.certFile, user.certData);
    if (cert) opts.cert = cert;
    const key = fileOrData(user.keyFile, user.keyData);
    if (key) opts.key = key;
    opts.headers ??= {};
    if (user.impersonateUser != null) opts.headers['Impersonate-User'] = user.impersonateUser;
    // applyAuthorizationHeader
    if (user.authProvider || user.exec) {
      const found = (await this.load()).find((a) => a.isAuthProvider(user));
      if (found) await found.applyAuthentication(user, opts);
    }
    if (user.token) opts.headers.Authorization = `Bearer ${user.token}`;
    // applyToHTTPSOptions
    if (user.username) opts.auth = `${user.username}:${user.password}`;
  }

  private load(): Promise<Authenticator[]> {
    this.authenticators ??= Promise.all(
      MODULES.map(async ([file, name]) => {
        const mod = (await import(`@kubernetes/client-node/dist/${file}.js`)) as Record<string, new () => Authenticator>;
        return new mod[name]!();
      }),
    );
    return this.authenticators;
  }
}
