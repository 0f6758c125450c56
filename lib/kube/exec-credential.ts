/**
 * Exec credential plugins (client-go `plugin/pkg/client/auth/exec`), run by @kubernetes/client-node's
 * `ExecAuth` and wrapped where it differs from kubectl:
 * - `KUBERNETES_EXEC_INFO` is set (JSON `ExecCredential` with `apiVersion`, `kind`, `spec.interactive`,
 *   and `spec.cluster` when `provideClusterInfo` is true);
 * - a relative `command` containing a path separator was resolved against the kubeconfig's folder
 *   (kubeconfig.ts);
 * - the credential is cached until `status.expirationTimestamp`, then the plugin runs again; with no
 *   expiration it is kept until {@link ExecCredentials.invalidate} (after a 401), as client-go does.
 */
import createDebug from 'debug';
import type { User, Cluster } from '@kubernetes/client-node';

const debug = createDebug('kube-spdy:kube');

/** What a plugin returned that we use. */
export interface ExecResult {
  token?: string;
  clientCertificateData?: string;
  clientKeyData?: string;
}

interface ExecConfig {
  command: string;
  args?: string[];
  env?: { name: string; value: string }[];
  apiVersion?: string;
  provideClusterInfo?: boolean;
}

interface Credential {
  status?: { token?: string; clientCertificateData?: string; clientKeyData?: string; expirationTimestamp?: string };
}

interface ExecAuthLike {
  getCredential(user: User): Promise<Credential | null>;
  tokenCache: Record<string, unknown>;
}

export class ExecCredentials {
  private execAuth: ExecAuthLike | undefined;
  private cached: { result: ExecResult; expiresAt: number } | undefined;
  /** How many times the plugin ran (for tests and stats). */
  runs = 0;

  constructor(
    private readonly user: User,
    private readonly exec: ExecConfig,
    private readonly cluster: Cluster | undefined,
  ) {}

  /** The credential: cached while valid, else the plugin runs. Rejects with the plugin's error. */
  async get(): Promise<ExecResult> {
    if (this.cached && Date.now() < this.cached.expiresAt) return this.cached.result;
    if (!this.execAuth) {
      const mod = (await import('@kubernetes/client-node/dist/exec_auth.js' as string)) as { ExecAuth: new () => ExecAuthLike };
      this.execAuth = new mod.ExecAuth();
    }
    delete this.execAuth.tokenCache[this.user.name];
    let cred: Credential | null;
    try {
      this.runs++;
      cred = await this.execAuth.getCredential({ ...this.user, exec: { ...this.exec, env: this.env() } } as User);
    } catch (err) {
      const msg = (err as Error).message.trim().split('\n')[0] || 'failed';
      throw new Error(`getting credentials: exec plugin "${this.exec.command}": ${msg}`);
    }
    const status = cred?.status ?? {};
    const result: ExecResult = {
      ...(status.token ? { token: status.token } : {}),
      ...(status.clientCertificateData ? { clientCertificateData: status.clientCertificateData } : {}),
      ...(status.clientKeyData ? { clientKeyData: status.clientKeyData } : {}),
    };
    const exp = status.expirationTimestamp ? Date.parse(status.expirationTimestamp) : NaN;
    this.cached = { result, expiresAt: Number.isFinite(exp) ? exp : Infinity };
    debug('exec plugin ran (%d); credential %s', this.runs, Number.isFinite(exp) ? `expires ${status.expirationTimestamp}` : 'has no expiration');
    return result;
  }

  /** Forgets the cached credential (after a 401): the next {@link get} runs the plugin. */
  invalidate(): void {
    this.cached = undefined;
  }

  private env(): { name: string; value: string }[] {
    const spec: Record<string, unknown> = { interactive: false };
    if (this.exec.provideClusterInfo && this.cluster) {
      spec.cluster = {
        server: this.cluster.server,
        ...(this.cluster.tlsServerName ? { 'tls-server-name': this.cluster.tlsServerName } : {}),
        ...(this.cluster.skipTLSVerify ? { 'insecure-skip-tls-verify': true } : {}),
        ...(this.cluster.caData ? { 'certificate-authority-data': this.cluster.caData } : {}),
        ...(this.cluster.proxyUrl ? { 'proxy-url': this.cluster.proxyUrl } : {}),
      };
    }
    const info = { apiVersion: this.exec.apiVersion ?? 'client.authentication.k8s.io/v1beta1', kind: 'ExecCredential', spec };
    return [...(this.exec.env ?? []), { name: 'KUBERNETES_EXEC_INFO', value: JSON.stringify(info) }];
  }
}
