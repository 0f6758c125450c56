/**
 * The fake API server's REST routes (shared reference kubernetes-portforward.md, "What kubectl 1.31/1.32
 * needs from an API server"): `/version`, legacy discovery (`/api`, `/apis`, `/api/v1`) and pod GET
 * (phase Running; a 404 Status for an unknown pod). Request paths carry query strings: match on the path only.
 */
import type http from 'node:http';
import createDebug from 'debug';
import { statusJson } from '../httpstream/status.js';
import { json } from './json.js';
import { podObject } from './pods.js';
import type { FakePod } from './types.js';

const log = createDebug('kube-spdy:fake-apiserver');

export const PORTFORWARD_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/portforward$/;
/** `pods/{name}/exec` and `/attach` (groups: namespace, pod, kind). */
export const REMOTECOMMAND_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/(exec|attach)$/;
const POD_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/;

/** What the routes read from the server. */
export interface RouteContext {
  pods: Map<string, FakePod>;
  authorized(req: http.IncomingMessage): boolean;
  /** `HOST:PORT` the server listens on (for `serverAddressByClientCIDRs`). */
  address(): string;
}

/** The `request` handler for every non-upgrade request. */
export function createRequestHandler(ctx: RouteContext): http.RequestListener {
  return (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    log('%s %s', req.method, path);
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
    if (path === '/apis') return json(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
    if (path === '/api/v1') {
      return json(res, 200, {
        kind: 'APIResourceList',
        groupVersion: 'v1',
        resources: [
          { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['get', 'list'], shortNames: ['po'] },
          { name: 'pods/portforward', singularName: '', namespaced: true, kind: 'PodPortForwardOptions', verbs: ['create', 'get'] },
          { name: 'pods/exec', singularName: '', namespaced: true, kind: 'PodExecOptions', verbs: ['create', 'get'] },
          { name: 'pods/attach', singularName: '', namespaced: true, kind: 'PodAttachOptions', verbs: ['create', 'get'] },
        ],
      });
    }
    const m = POD_PATH.exec(path);
    if (m) {
      const pod = ctx.pods.get(`${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`);
      if (!pod) return json(res, 404, statusJson(404, 'NotFound', `pods "${decodeURIComponent(m[2]!)}" not found`));
      return json(res, 200, podObject(pod));
    }
    return json(res, 404, statusJson(404, 'NotFound', 'the server could not find the requested resource'));
  };
}
