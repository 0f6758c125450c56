/**
 * Kubeconfig like kubectl (client-go `tools/clientcmd`), with @kubernetes/client-node doing the parsing
 * and authentication (token, client certificates, CA, auth-provider plugins, exec plugins) and this file
 * applying kubectl's rules where client-node differs (shared reference kubectl-parity.md):
 * - `KUBECONFIG=a:b:c`: files merged in order, the first file that defines a cluster, user or context
 *   name wins, `current-context` comes from the first file that sets it, missing files are skipped
 *   (client-go `ClientConfigLoadingRules.Load`); an explicit `--kubeconfig` file must exist.
 * - Relative paths (`certificate-authority`, `client-certificate`, `client-key`, `tokenFile`, an exec
 *   `command` containing a path separator) are resolved against the folder of the file that defined them.
 * - `tokenFile` is read again for every request and dial (rotated tokens are picked up).
 * - No kubeconfig, no current context, or a context naming an unknown cluster: the server is
 *   `http://localhost:8080`, as for kubectl, and a refused connection says why.
 * - An `http://` server is allowed and gets no credentials (kubectl sends none in clear text).
 * - Proxies: proxy.ts. Exec plugins: exec-credential.ts.
 * @kubernetes/client-node is loaded in parts, never its index or `KubeConfig` (which import the generated
 * API client: ~60 MiB of RSS and ~0.35 s): its kubeconfig parser (`config_types`) whenever a kubeconfig
 * file is read, and its authenticators (auth providers, exec) only for a user that has one, on the first
 * request or dial to an https server (client-node-auth.ts). An http server (kubectl proxy, the fake API
 * server) gets no credentials at all.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import yaml from 'js-yaml';
import createDebug from 'debug';
import type { Cluster, Context, User } from '@kubernetes/client-node';
import { ClientNodeAuth, type HttpsAuthOptions } from './client-node-auth.js';
import { InvalidArgumentError } from '../errors.js';
import type { CreateConnection } from '../httpstream/client.js';
import { ExecCredentials } from './exec-credential.js';
import { parseProxyUrl, proxyConnector, proxyFromEnvironment } from './proxy.js';

const debug = createDebug('kube-spdy:kube');

/** The server kubectl uses when no kubeconfig names one. */
export const DEFAULT_SERVER = 'http://localhost:8080';

export interface LoadKubeconfigOptions {
  /** A kubeconfig file (kubectl `--kubeconfig`); it must exist. Default: `$KUBECONFIG`, else `~/.kube/config`. */
  kubeconfig?: string;
  /** Context name (kubectl `--context`). Default: the merged `current-context`. */
  context?: string;
  /** Namespace (kubectl `-n`). Default: the context's, else `default`. */
  namespace?: string;
  /** Environment (`KUBECONFIG`, `HOME`, proxies). Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** kubectl's connection flags, applied over the kubeconfig as kubectl applies them. */
  overrides?: KubeconfigOverrides;
}

/**
 * kubectl's connection flags (client-go `clientcmd.ConfigOverrides`), merged over the selected context as
 * `clientcmd.DirectClientConfig` merges them: a flag replaces the kubeconfig's value; they also work with
 * no kubeconfig at all (`--server` plus credentials). File paths are relative to the working directory.
 */
export interface KubeconfigOverrides {
  /** `--cluster`: a kubeconfig cluster used instead of the context's. It must exist. */
  cluster?: string;
  /** `--user`: a kubeconfig user used instead of the context's. It must exist. */
  user?: string;
  /** `--server` (`-s`): the API server URL. It also clears the kubeconfig's `tls-server-name`. */
  server?: string;
  /** `--token`: a bearer token; the user's token, token file and exec plugin are then not used. Never sent over http. */
  token?: string;
  /** `--certificate-authority`: a CA file; replaces the cluster's CA data and skip-verify setting. */
  certificateAuthority?: string;
  /** `--insecure-skip-tls-verify`: the server certificate is not verified; the cluster's CA is dropped unless one is given. */
  insecureSkipTlsVerify?: boolean;
  /** `--tls-server-name`: the name the server certificate is verified against. */
  tlsServerName?: string;
  /** `--client-certificate`: a client certificate file; replaces the user's. */
  clientCertificate?: string;
  /** `--client-key`: a client key file; replaces the user's. */
  clientKey?: string;
  /** `--as`: the user to impersonate (`Impersonate-User`). */
  as?: string;
}

/** Request options for one request or dial: fresh for each (token files re-read, exec credentials checked). */
export interface Credentials {
  /** `Authorization` and impersonation headers. Never logged. */
  headers: Record<string, string>;
  /** TLS options for an https: server (CA, client certificate, skip-verify, server name). */
  tls: TlsOptions;
  /** Set when a proxy is used: opens the tunnel (and TLS) for each connection. */
  createConnection?: CreateConnection;
}

/** Where the configuration came from, for messages. */
export interface KubeconfigOrigin {
  /** Files merged, in order (missing ones left out). */
  files: string[];
  /** Why the default server is used, when it is. */
  defaultReason?: string;
}

/** A loaded kubeconfig: the cluster, namespace and per-dial credentials of one context. */
export class Kubeconfig {
  /** The API server URL. */
  readonly server: string;
  readonly namespace: string;
  /** The context used, if any. */
  readonly context: string | undefined;
  readonly origin: KubeconfigOrigin;
  /** The proxy used for the server, if any (from `proxy-url` or the environment). */
  readonly proxy: URL | undefined;
  private readonly kcInit: KubeConfigInit | undefined;
  private auth: ClientNodeAuth | undefined;
  private readonly tokenFile: string | undefined;
  private readonly exec: ExecCredentials | undefined;

  /** @internal Use {@link loadKubeconfig}. */
  constructor(init: {
    server: string;
    namespace: string;
    context: string | undefined;
    origin: KubeconfigOrigin;
    proxy: URL | undefined;
    kc?: KubeConfigInit;
    tokenFile?: string;
    exec?: ExecCredentials;
  }) {
    this.server = init.server;
    this.namespace = init.namespace;
    this.context = init.context;
    this.origin = init.origin;
    this.proxy = init.proxy;
    this.kcInit = init.kc;
    this.tokenFile = init.tokenFile;
    this.exec = init.exec;
  }

  /** How many times an exec plugin ran. */
  get execRuns(): number {
    return this.exec?.runs ?? 0;
  }

  /**
   * The headers and TLS options for one request or dial. Over http: none (no credentials in clear text).
   * Rejects when a token file cannot be read or an exec plugin fails.
   */
  async credentials(): Promise<Credentials> {
    const server = new URL(this.server);
    const headers: Record<string, string> = {};
    const tls: TlsOptions = {};
    if (server.protocol === 'https:' && this.kcInit) {
      const opts: HttpsAuthOptions = {};
      try {
        this.auth ??= new ClientNodeAuth(this.kcInit.clusters[0], this.kcInit.users[0]);
        await this.auth.apply(opts);
      } catch (err) {
        throw new Error(`cannot authenticate with the kubeconfig: ${(err as Error).message.split('\n')[0]}`);
      }
      for (const [k, v] of Object.entries(opts.headers ?? {})) headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
      if (opts.auth && !hasAuthorization(headers)) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
      if (opts.ca) tls.ca = opts.ca;
      if (opts.cert) tls.cert = opts.cert;
      if (opts.key) tls.key = opts.key;
      if (opts.rejectUnauthorized === false) tls.rejectUnauthorized = false;
      if (opts.servername) tls.servername = opts.servername;
      if (!hasAuthorization(headers) && this.tokenFile) {
        let token: string;
        try {
          token = fs.readFileSync(this.tokenFile, 'utf8').trim();
        } catch (err) {
          throw new Error(`cannot read tokenFile ${this.tokenFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
        if (token) headers.Authorization = `Bearer ${token}`;
      }
      if (this.exec) {
        const cred = await this.exec.get();
        if (cred.token && !hasAuthorization(headers)) headers.Authorization = `Bearer ${cred.token}`;
        if (cred.clientCertificateData && cred.clientKeyData) {
          tls.cert = cred.clientCertificateData;
          tls.key = cred.clientKeyData;
        }
      }
    }
    const out: Credentials = { headers, tls };
    if (this.proxy) out.createConnection = proxyConnector(server, this.proxy, tls);
    return out;
  }

  /** Forgets cached exec credentials (call after a 401): the next {@link credentials} runs the plugin again. */
  invalidateCredentials(): void {
    this.exec?.invalidate();
  }
}

function hasAuthorization(h: Record<string, string>): boolean {
  return Object.keys(h).some((k) => k.toLowerCase() === 'authorization');
}

/** The selected context with its cluster and user (the shape of client-node's `KubeConfig.loadFromOptions`). */
interface KubeConfigInit {
  clusters: Cluster[];
  users: User[];
  contexts: Context[];
  currentContext: string;
}

/** client-node's kubeconfig parser (what `KubeConfig.loadFromString` calls), without the rest of client-node. */
interface ConfigTypes {
  newClusters(a: unknown): Cluster[];
  newUsers(a: unknown): User[];
  newContexts(a: unknown): Context[];
}

interface LoadedFile {
  file: string;
  clusters: Cluster[];
  users: User[];
  contexts: Context[];
  currentContext: string | undefined;
  tokenFiles: Map<string, string>;
}

function resolveAgainst(dir: string, p: string | undefined | null): string | undefined {
  if (!p) return undefined;
  const home = p.startsWith('~/') ? path.join(os.homedir(), p.slice(2)) : p;
  return path.isAbsolute(home) ? home : path.join(dir, home);
}

async function loadFile(file: string): Promise<LoadedFile | undefined> {
  const text = fs.readFileSync(file, 'utf8');
  let raw: Record<string, unknown> | undefined;
  try {
    raw = (yaml.load(text) ?? undefined) as Record<string, unknown> | undefined;
  } catch (err) {
    throw new InvalidArgumentError(`error loading config file "${file}": ${(err as Error).message.split('\n')[0]}`);
  }
  if (raw === undefined || typeof raw !== 'object') return undefined; // an empty file is an empty config
  const types = (await import('@kubernetes/client-node/dist/config_types.js' as string)) as ConfigTypes;
  let clusters: Cluster[];
  let users: User[];
  let contexts: Context[];
  try {
    clusters = types.newClusters(raw.clusters);
    users = types.newUsers(raw.users);
    contexts = types.newContexts(raw.contexts);
  } catch (err) {
    throw new InvalidArgumentError(`error loading config file "${file}": ${(err as Error).message.split('\n')[0]}`);
  }
  const dir = path.dirname(path.resolve(file));
  // As client-node's KubeConfig.makePathsAbsolute (relative CA, certificate and key files).
  for (const c of clusters) if (c.caFile && !path.isAbsolute(c.caFile)) (c as { caFile: string }).caFile = path.join(dir, c.caFile);
  for (const u of users) {
    if (u.certFile && !path.isAbsolute(u.certFile)) (u as { certFile: string }).certFile = path.join(dir, u.certFile);
    if (u.keyFile && !path.isAbsolute(u.keyFile)) (u as { keyFile: string }).keyFile = path.join(dir, u.keyFile);
  }
  const tokenFiles = new Map<string, string>();
  const rawUsers = Array.isArray(raw.users) ? (raw.users as { name?: string; user?: Record<string, unknown> }[]) : [];
  for (const u of users) {
    const ru = rawUsers.find((x) => x?.name === u.name)?.user ?? {};
    const tf = resolveAgainst(dir, (ru.tokenFile as string | undefined) ?? (ru['token-file'] as string | undefined));
    if (tf) tokenFiles.set(u.name, tf);
    if (u.exec && typeof u.exec.command === 'string' && /[/\\]/.test(u.exec.command) && !path.isAbsolute(u.exec.command)) {
      (u as { exec: unknown }).exec = { ...u.exec, command: path.join(dir, u.exec.command) };
    }
  }
  return { file, clusters, users, contexts, currentContext: (raw['current-context'] as string | undefined) || undefined, tokenFiles };
}

/** The kubeconfig files kubectl would read, existing ones only, in order. */
export function kubeconfigFiles(options: LoadKubeconfigOptions): string[] {
  const env = options.env ?? process.env;
  if (options.kubeconfig) {
    if (!fs.existsSync(options.kubeconfig)) throw new InvalidArgumentError(`stat ${options.kubeconfig}: no such file or directory`);
    return [options.kubeconfig];
  }
  if (env.KUBECONFIG) {
    const seen = new Set<string>();
    const out: string[] = [];
    for (const f of env.KUBECONFIG.split(path.delimiter)) {
      if (!f || seen.has(f)) continue;
      seen.add(f);
      if (fs.existsSync(f)) out.push(f);
      else debug('KUBECONFIG file %s does not exist: skipped', f);
    }
    return out;
  }
  const home = env.HOME || os.homedir();
  const def = path.join(home, '.kube', 'config');
  return fs.existsSync(def) ? [def] : [];
}

/**
 * Loads the kubeconfig as kubectl does (see the module comment) and selects a context.
 * @throws InvalidArgumentError for an explicit file that does not exist, a file that does not parse,
 *   a `--context` (or `current-context`) that names no context, or a bad `proxy-url`.
 */
export async function loadKubeconfig(options: LoadKubeconfigOptions = {}): Promise<Kubeconfig> {
  const env = options.env ?? process.env;
  const files = kubeconfigFiles(options);
  const clusters = new Map<string, Cluster>();
  const users = new Map<string, User>();
  const contexts = new Map<string, Context>();
  const tokenFiles = new Map<string, string>();
  let current: string | undefined;
  for (const f of files) {
    const loaded = await loadFile(f);
    if (!loaded) continue;
    for (const c of loaded.clusters) if (!clusters.has(c.name)) clusters.set(c.name, c);
    for (const u of loaded.users) {
      if (users.has(u.name)) continue;
      users.set(u.name, u);
      const tf = loaded.tokenFiles.get(u.name);
      if (tf) tokenFiles.set(u.name, tf);
    }
    for (const c of loaded.contexts) if (!contexts.has(c.name)) contexts.set(c.name, c);
    current ??= loaded.currentContext;
  }
  const origin: KubeconfigOrigin = { files };
  const ov = options.overrides ?? {};
  const contextName = options.context || current;
  const ctx = contextName ? contexts.get(contextName) : undefined;
  if (contextName && !ctx) throw new InvalidArgumentError(`context was not found for specified context: ${contextName}`);
  const namespace = options.namespace || ctx?.namespace || 'default';
  if (ov.cluster && !clusters.has(ov.cluster)) throw new InvalidArgumentError(`cluster "${ov.cluster}" does not exist`);
  if (ov.user && !users.has(ov.user)) throw new InvalidArgumentError(`auth info "${ov.user}" does not exist`);
  const clusterName = ov.cluster || ctx?.cluster;
  const userName = ov.user || ctx?.user;
  const cluster = withClusterOverrides(clusterName ? clusters.get(clusterName) : undefined, clusterName, ov);
  if (!cluster || !cluster.server) {
    origin.defaultReason =
      files.length === 0
        ? 'no kubeconfig found: set KUBECONFIG or --kubeconfig, or create ~/.kube/config'
        : !ctx
          ? `the kubeconfig (${files.join(', ')}) sets no current-context: use --context`
          : `context "${ctx.name}" names cluster "${ctx.cluster}", which the kubeconfig does not define`;
    debug('using %s: %s', DEFAULT_SERVER, origin.defaultReason);
    return new Kubeconfig({ server: DEFAULT_SERVER, namespace, context: ctx?.name, origin, proxy: proxyFromEnvironment(new URL(DEFAULT_SERVER), env) });
  }
  const server = cluster.server.replace(/\/+$/, '');
  let serverUrl: URL;
  try {
    serverUrl = new URL(server);
  } catch {
    throw new InvalidArgumentError(`invalid server "${server}" in cluster "${cluster.name}"`);
  }
  const proxy = cluster.proxyUrl ? parseProxyUrl(cluster.proxyUrl) : proxyFromEnvironment(serverUrl, env);
  const user = userName ? users.get(userName) : undefined;
  // client-node resolves exec plugins itself; exec-credential.ts wraps that (cache, KUBERNETES_EXEC_INFO).
  const staticUser = withUserOverrides(user ? { ...user, exec: undefined } : { name: userName || 'kube-spdy-flags' }, ov);
  const contextLabel = ctx?.name ?? 'kube-spdy-flags';
  const kc: KubeConfigInit = {
    clusters: [{ ...cluster, proxyUrl: undefined } as Cluster],
    users: [staticUser],
    contexts: [{ ...(ctx ?? {}), name: contextLabel, cluster: cluster.name, user: staticUser.name }],
    currentContext: contextLabel,
  };
  // client-go uses an exec plugin only when no token or certificate is given (exec.UpdateTransportConfig).
  const exec = user?.exec && !ov.token && !ov.clientCertificate ? new ExecCredentials(user, user.exec as never, cluster) : undefined;
  const tokenFile = user && !staticUser.token ? tokenFiles.get(user.name) : undefined;
  debug('context %s: server %s, namespace %s%s', contextLabel, server, namespace, proxy ? ', through a proxy' : '');
  return new Kubeconfig({ server, namespace, context: ctx?.name, origin, proxy, kc, ...(tokenFile ? { tokenFile } : {}), ...(exec ? { exec } : {}) });
}

/** The cluster with kubectl's flags applied (client-go `DirectClientConfig.getCluster`); undefined when there is neither. */
function withClusterOverrides(cluster: Cluster | undefined, name: string | undefined, ov: KubeconfigOverrides): Cluster | undefined {
  const touches = ov.server || ov.certificateAuthority || ov.insecureSkipTlsVerify || ov.tlsServerName;
  if (!touches) return cluster;
  const out: { -readonly [K in keyof Cluster]: Cluster[K] } = { ...(cluster ?? { name: name || 'kube-spdy-flags', server: '', skipTLSVerify: false }) };
  // --insecure-skip-tls-verify or --certificate-authority replace all three TLS settings.
  if (ov.insecureSkipTlsVerify || ov.certificateAuthority) {
    out.skipTLSVerify = Boolean(ov.insecureSkipTlsVerify);
    out.caFile = ov.certificateAuthority ? path.resolve(ov.certificateAuthority) : undefined;
    out.caData = undefined;
  }
  if (ov.server) {
    // A server without a scheme: https when TLS is configured, else http (client-go rest.DefaultServerURL).
    const tls = out.caData || out.caFile || out.skipTLSVerify || ov.clientCertificate;
    out.server = ov.server.includes('://') ? ov.server : `${tls ? 'https' : 'http'}://${ov.server}`;
  }
  // --server clears the kubeconfig's tls-server-name unless --tls-server-name is given too.
  if (ov.tlsServerName || ov.server) out.tlsServerName = ov.tlsServerName || undefined;
  return out;
}

/** The user with kubectl's flags applied (client-go `DirectClientConfig.getAuthInfo`). */
function withUserOverrides(user: User, ov: KubeconfigOverrides): User {
  const out: { -readonly [K in keyof User]: User[K] } = { ...user };
  if (ov.token) out.token = ov.token;
  if (ov.clientCertificate) {
    out.certFile = path.resolve(ov.clientCertificate);
    out.certData = undefined;
  }
  if (ov.clientKey) {
    out.keyFile = path.resolve(ov.clientKey);
    out.keyData = undefined;
  }
  if (ov.as) out.impersonateUser = ov.as;
  return out;
}
