/**
 * The kubeconfig (YAML) that points kubectl and kube-spdy at a fake API server.
 */

export interface KubeconfigFields {
  /** The server URL, e.g. `http://127.0.0.1:PORT`. */
  url: string;
  /** The user's bearer token. */
  token: string;
  /** The context's namespace. */
  namespace: string;
}

export function kubeconfigYaml({ url, token, namespace }: KubeconfigFields): string {
  return [
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
    `    token: ${token}`,
    'contexts:',
    '- name: kube-spdy-fake',
    '  context:',
    '    cluster: kube-spdy-fake',
    '    user: kube-spdy-fake',
    `    namespace: ${namespace}`,
    'current-context: kube-spdy-fake',
    '',
  ].join('\n');
}
