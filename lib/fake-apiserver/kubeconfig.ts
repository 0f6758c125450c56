/**
 * The kubeconfig (YAML) that points kubectl and kube-spdy at a fake API server.
 */

export interface KubeconfigFields {
  /** The server URL, e.g. `http://127.0.0.1:PORT` or `https://…`. */
  url: string;
  namespace: string;
  /** The user's bearer token, if any. */
  token?: string;
  /** Base64 PEM of the CA (https servers). */
  caData?: string;
  /** Base64 PEM client certificate and key. */
  clientCertData?: string;
  clientKeyData?: string;
}

export function kubeconfigYaml(f: KubeconfigFields): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: kube-spdy-fake',
    '  cluster:',
    `    server: ${f.url}`,
    // For http, @kubernetes/client-node (used directly by tools under test) wants this set; kubectl and
    // kube-spdy accept http without it.
    ...(f.caData ? [`    certificate-authority-data: ${f.caData}`] : ['    insecure-skip-tls-verify: true']),
    'users:',
    '- name: kube-spdy-fake',
    '  user:',
    ...(f.token ? [`    token: ${f.token}`] : []),
    ...(f.clientCertData ? [`    client-certificate-data: ${f.clientCertData}`, `    client-key-data: ${f.clientKeyData}`] : []),
    ...(!f.token && !f.clientCertData ? ['    {}'] : []),
    'contexts:',
    '- name: kube-spdy-fake',
    '  context:',
    '    cluster: kube-spdy-fake',
    '    user: kube-spdy-fake',
    `    namespace: ${f.namespace}`,
    'current-context: kube-spdy-fake',
    '',
  ].join('\n');
}
