/**
 * kube-spdy: SPDY/3.1 + Kubernetes httpstream for Node.js, with a `portforward.k8s.io` v1 client and
 * server. Layers (each depends only on those above it): frames → compression → session → httpstream →
 * portforward → kube (kubeconfig, targets) → cli; the fake API server (lib/fake-apiserver/) is a folder of its own,
 * usable from tests and the library.
 *
 * The root export is what applications use: connections and streams (session), the HTTP upgrade and
 * WebSocket tunnel (httpstream), port-forward client and server, the fake API server, and the errors.
 * The frame codec and header compression are subpath exports for those who need them:
 * `kube-spdy/frames`, `kube-spdy/compression`.
 */
export * from './errors.js';
export * from './session/index.js';
export * from './httpstream/index.js';
export * from './portforward/index.js';
export * from './remotecommand/index.js';
export { loadKubeconfig, Kubeconfig, portForward, ApiError } from './kube/index.js';
export type { LoadKubeconfigOptions, KubeconfigOverrides, Credentials, KubePortForwardOptions, KubePortForward } from './kube/index.js';
export * from './fake-apiserver/index.js';
