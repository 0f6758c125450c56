/**
 * kubectl's connection flags (`kubectl options`: `--server`, `--token`, `--user`, `--cluster`, `--as`,
 * `--certificate-authority`, `--client-certificate`, `--client-key`, `--insecure-skip-tls-verify`,
 * `--tls-server-name`) for the commands that talk to an API server, as `node:util` parseArgs options and
 * as {@link KubeconfigOverrides}. The kubectl flags not supported are listed in {@link UNSUPPORTED_FLAGS_HELP}.
 */
import type { KubeconfigOverrides } from '../kube/kubeconfig.js';
import { InvalidArgumentError } from '../errors.js';

export const CONNECTION_OPTIONS = {
  server: { type: 'string', short: 's' },
  token: { type: 'string' },
  user: { type: 'string' },
  cluster: { type: 'string' },
  as: { type: 'string' },
  'certificate-authority': { type: 'string' },
  'client-certificate': { type: 'string' },
  'client-key': { type: 'string' },
  'insecure-skip-tls-verify': { type: 'boolean' },
  'tls-server-name': { type: 'string' },
} as const;

/** Help lines for {@link CONNECTION_OPTIONS} (the same column as the commands' other options). */
export const CONNECTION_OPTIONS_HELP = `  -s, --server URL            API server (replaces the kubeconfig's; works without a kubeconfig)
  --token TOKEN               bearer token (the user's token, token file and exec plugin are then not used)
  --user NAME                 a kubeconfig user instead of the context's
  --cluster NAME              a kubeconfig cluster instead of the context's
  --as USER                   impersonate USER (Impersonate-User)
  --certificate-authority F   CA file for the server certificate
  --client-certificate F      client certificate file
  --client-key F              client key file
  --insecure-skip-tls-verify  do not verify the server certificate
  --tls-server-name NAME      server name to verify the certificate against`;

/** The kubectl flags that are refused, for --help. */
export const UNSUPPORTED_FLAGS_HELP = `Not supported (kubectl flags that are refused): --as-group, --as-uid, --username, --password,
--cache-dir, --match-server-version, --disable-compression, --warnings-as-errors, --profile,
--profile-output, --vmodule, --log-flush-frequency; UDP ports.`;

/** kubectl flags that are refused (with a clear message rather than parseArgs' "Unknown option"). */
export const UNSUPPORTED_FLAGS = ['as-group', 'as-uid', 'username', 'password', 'cache-dir', 'match-server-version', 'disable-compression', 'warnings-as-errors', 'profile', 'profile-output', 'vmodule', 'log-flush-frequency'];

/** @throws InvalidArgumentError naming the first refused kubectl flag in `argv` (before a `--`). */
export function rejectUnsupportedFlags(argv: string[]): void {
  for (const a of argv) {
    if (a === '--') return;
    const m = /^--([a-z-]+)(=.*)?$/.exec(a);
    if (m && UNSUPPORTED_FLAGS.includes(m[1]!)) throw new InvalidArgumentError(`--${m[1]} is a kubectl flag kube-spdy does not support (see --help)`);
  }
}

/**
 * pflag accepts `--insecure-skip-tls-verify=true|false` for a boolean; parseArgs does not. Rewrites
 * those forms (`=true` → the flag, `=false` → nothing). @throws InvalidArgumentError for another value.
 */
export function normalizeBooleanFlags(argv: string[]): string[] {
  rejectUnsupportedFlags(argv);
  const out: string[] = [];
  for (const a of argv) {
    const m = /^--(insecure-skip-tls-verify)=(.*)$/.exec(a);
    if (!m) {
      out.push(a);
      continue;
    }
    const v = m[2]!.toLowerCase();
    if (v === 'true' || v === '1' || v === 't') out.push(`--${m[1]}`);
    else if (!(v === 'false' || v === '0' || v === 'f')) throw new InvalidArgumentError(`invalid argument "${m[2]}" for "--${m[1]}" flag: expected true or false`);
  }
  return out;
}

/** The overrides given on the command line (undefined when none). */
export function connectionOverrides(values: {
  server?: string | undefined;
  token?: string | undefined;
  user?: string | undefined;
  cluster?: string | undefined;
  as?: string | undefined;
  'certificate-authority'?: string | undefined;
  'client-certificate'?: string | undefined;
  'client-key'?: string | undefined;
  'insecure-skip-tls-verify'?: boolean | undefined;
  'tls-server-name'?: string | undefined;
}): KubeconfigOverrides | undefined {
  const o: KubeconfigOverrides = {};
  if (values.server) {
    try {
      new URL(values.server.includes('://') ? values.server : `https://${values.server}`);
    } catch {
      throw new InvalidArgumentError(`invalid --server "${values.server}": expected a URL such as https://host:6443`);
    }
    o.server = values.server;
  }
  if (values.token) o.token = values.token;
  if (values.user) o.user = values.user;
  if (values.cluster) o.cluster = values.cluster;
  if (values.as) o.as = values.as;
  if (values['certificate-authority']) o.certificateAuthority = values['certificate-authority'];
  if (values['client-certificate']) o.clientCertificate = values['client-certificate'];
  if (values['client-key']) o.clientKey = values['client-key'];
  if (values['insecure-skip-tls-verify']) o.insecureSkipTlsVerify = true;
  if (values['tls-server-name']) o.tlsServerName = values['tls-server-name'];
  return Object.keys(o).length ? o : undefined;
}
