/**
 * The fake API server's REST routes (shared reference kubernetes-portforward.md, "What kubectl 1.31/1.32
 * needs from an API server"): `/version`, legacy discovery (`/api`, `/apis`, `/api/v1`, `/apis/apps/v1`),
 * pods (GET, list with `labelSelector`), services, deployments, replicasets and statefulsets, with 404
 * Status bodies as the API server writes them. Request paths carry query strings: match on the path only.
 */
import type http from 'node:http';
import createDebug from 'debug';
import { statusJson } from '../httpstream/status.js';
import { json } from './json.js';
import { podObject, serviceObject, workloadObject } from './objects.js';
import { parseLabelSelector } from './selector.js';
import type { FakePod, FakeService, FakeWorkload } from './types.js';

const log = createDebug('kube-spdy:fake-apiserver');

export const PORTFORWARD_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/portforward$/;
/** `pods/{name}/exec` and `/attach` (groups: namespace, pod, kind). */
export const REMOTECOMMAND_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/(exec|attach)$/;
const CORE_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/(pods|services)(?:\/([^/]+))?$/;
const APPS_PATH = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/(deployments|replicasets|statefulsets)\/([^/]+)$/;
const WORKLOAD_KIND: Record<string, FakeWorkload['kind']> = { deployments: 'Deployment', replicasets: 'ReplicaSet', statefulsets: 'StatefulSet' };

/** What the routes read from the server. */
export interface RouteContext {
  pods: Map<string, FakePod>;
  services: Map<string, FakeService>;
  workloads: Map<string, FakeWorkload>;
  /** Authenticates a request (bearer token or client certificate); false → 401. */
  authorized(req: http.IncomingMessage): boolean;
  /** `HOST:PORT` the server listens on (for `serverAddressByClientCIDRs`). */
  address(): string;
  /** Records a request (bounded log for tests). */
  record(req: http.IncomingMessage, path: string): void;
}

const notFound = (res: http.ServerResponse, resource: string, name: string, group = ''): void =>
  json(res, 404, { ...statusJson(404, 'NotFound', `${resource}${group ? `.${group}` : ''} "${name}" not found`), details: { name, ...(group ? { group } : {}), kind: resource } });

/** The `request` handler for every non-upgrade request. */
export function createRequestHandler(ctx: RouteContext): http.RequestListener {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    log('%s %s', req.method, path);
    ctx.record(req, path);
    if (!ctx.authorized(req)) return json(res, 401, statusJson(401, 'Unauthorized', 'Unauthorized'));
    if (req.method !== 'GET') {
      if (PORTFORWARD_PATH.test(path) || REMOTECOMMAND_PATH.test(path)) return json(res, 400, statusJson(400, 'BadRequest', 'unable to upgrade: missing upgrade headers in request'));
      return json(res, 405, statusJson(405, 'MethodNotAllowed', `method ${req.method} not allowed`));
    }
    if (path === '/version') {
      return json(res, 200, { major: '1', minor: '32', gitVersion: 'v1.32.0-kube-spdy-fake', platform: `${process.platform}/${process.arch}` });
    }
    if (path === '/api') {
      return json(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: ctx.address() }] });
    }
    if (path === '/apis') {
      const gv = { groupVersion: 'apps/v1', version: 'v1' };
      return json(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [{ name: 'apps', versions: [gv], preferredVersion: gv }] });
    }
    if (path === '/api/v1') {
      return json(res, 200, {
        kind: 'APIResourceList',
        groupVersion: 'v1',
        resources: [
          { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['get', 'list'], shortNames: ['po'] },
          { name: 'pods/portforward', singularName: '', namespaced: true, kind: 'PodPortForwardOptions', verbs: ['create', 'get'] },
          { name: 'pods/exec', singularName: '', namespaced: true, kind: 'PodExecOptions', verbs: ['create', 'get'] },
          { name: 'pods/attach', singularName: '', namespaced: true, kind: 'PodAttachOptions', verbs: ['create', 'get'] },
          { name: 'services', singularName: 'service', namespaced: true, kind: 'Service', verbs: ['get', 'list'], shortNames: ['svc'] },
        ],
      });
    }
    if (path === '/apis/apps/v1') {
      return json(res, 200, {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: 'apps/v1',
        resources: [
          { name: 'deployments', singularName: 'deployment', namespaced: true, kind: 'Deployment', verbs: ['get', 'list'], shortNames: ['deploy'] },
          { name: 'replicasets', singularName: 'replicaset', namespaced: true, kind: 'ReplicaSet', verbs: ['get', 'list'], shortNames: ['rs'] },
          { name: 'statefulsets', singularName: 'statefulset', namespaced: true, kind: 'StatefulSet', verbs: ['get', 'list'], shortNames: ['sts'] },
        ],
      });
    }
    let m = CORE_PATH.exec(path);
    if (m) {
      const ns = decodeURIComponent(m[1]!);
      const name = m[3] !== undefined ? decodeURIComponent(m[3]) : undefined;
      if (m[2] === 'services') {
        if (name === undefined) return json(res, 405, statusJson(405, 'MethodNotAllowed', 'listing services is not served'));
        const svc = ctx.services.get(`${ns}/${name}`);
        return svc ? json(res, 200, serviceObject(svc)) : notFound(res, 'services', name);
      }
      if (name === undefined) {
        let match;
        try {
          match = parseLabelSelector(url.searchParams.get('labelSelector') ?? '');
        } catch (err) {
          return json(res, 400, statusJson(400, 'BadRequest', (err as Error).message));
        }
        const items = [...ctx.pods.values()].filter((p) => p.namespace === ns && match(p.labels ?? {})).map(podObject);
        return json(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items });
      }
      const pod = ctx.pods.get(`${ns}/${name}`);
      return pod ? json(res, 200, podObject(pod)) : notFound(res, 'pods', name);
    }
    m = APPS_PATH.exec(path);
    if (m) {
      const ns = decodeURIComponent(m[1]!);
      const name = decodeURIComponent(m[3]!);
      const w = ctx.workloads.get(`${WORKLOAD_KIND[m[2]!]}/${ns}/${name}`);
      return w ? json(res, 200, workloadObject(w)) : notFound(res, m[2]!, name, 'apps');
    }
    return json(res, 404, statusJson(404, 'NotFound', 'the server could not find the requested resource'));
  };
}
