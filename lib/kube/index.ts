/**
 * kube: kubeconfig (kubectl's rules over @kubernetes/client-node), proxies, targets and the
 * `portForward()` entry point.
 */
export { loadKubeconfig, kubeconfigFiles, Kubeconfig, DEFAULT_SERVER } from './kubeconfig.js';
export type { LoadKubeconfigOptions, KubeconfigOverrides, Credentials, KubeconfigOrigin } from './kubeconfig.js';
export { parseProxyUrl, proxyFromEnvironment, noProxyMatches, connectThroughProxy, proxyConnector } from './proxy.js';
export { parseTarget, parsePortRequests, resolveTarget, resolvePod, selectorString } from './target.js';
export type { Target, TargetKind, PortRequest, ResolvedTarget, ResolveOptions, LabelSelector } from './target.js';
export { getObject, rawGet, ApiError, DEFAULT_REQUEST_TIMEOUT } from './request.js';
export type { ApiResponse, RequestOptions } from './request.js';
export { portForward } from './portforward.js';
export type { KubePortForwardOptions, KubePortForward } from './portforward.js';
export { parseDuration } from './duration.js';
