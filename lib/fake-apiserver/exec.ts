/**
 * The fake API server's hook for `pods/exec` and `pods/attach` (served only with the `exec` option):
 * the work is lib/remotecommand's server and its local-process handler.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { writeHttpError } from '../httpstream/server.js';
import { statusJson } from '../httpstream/status.js';
import { createRemoteCommandServer, parseRemoteCommandRequest, type RemoteCommandServer } from '../remotecommand/server.js';
import { localProcessHandler } from '../remotecommand/local.js';
import { REMOTECOMMAND_PATH } from './routes.js';
import type { UpgradeContext } from './upgrade.js';
import type { FakeApiServer, FakeApiServerOptions } from './types.js';

/** The remotecommand server when `options.exec` is on. */
export function createExecServer(options: FakeApiServerOptions, sessions: FakeApiServer['execSessions']): RemoteCommandServer | undefined {
  if (!options.exec) return undefined;
  const local = options.exec === true ? {} : options.exec;
  return createRemoteCommandServer({
    handler: localProcessHandler(local),
    onSession: ({ transport, protocol, request }) => {
      sessions.push({ transport, protocol, kind: request.kind, command: request.command });
      if (sessions.length > 1000) sessions.shift();
    },
    ...(options.streamCreationTimeout !== undefined ? { streamCreationTimeout: options.streamCreationTimeout } : {}),
  });
}

/** Serves an exec/attach upgrade; returns false when `req` is not one (or exec is off). */
export function serveExecUpgrade(ctx: UpgradeContext, req: http.IncomingMessage, socket: Duplex, head: Buffer): boolean {
  const url = new URL(req.url ?? '/', 'http://x');
  const m = REMOTECOMMAND_PATH.exec(url.pathname);
  if (!m || !ctx.remoteCommand) return false;
  const name = decodeURIComponent(m[2]!);
  const pod = ctx.pods.get(`${decodeURIComponent(m[1]!)}/${name}`);
  if (!pod) {
    writeHttpError(socket, 404, statusJson(404, 'NotFound', `pods "${name}" not found`));
    return true;
  }
  const request = parseRemoteCommandRequest(m[3] as 'exec' | 'attach', url.searchParams);
  if ('error' in request) {
    writeHttpError(socket, 400, statusJson(400, 'BadRequest', request.error));
    return true;
  }
  if (request.container !== '' && request.container !== 'main') {
    writeHttpError(socket, 400, statusJson(400, 'BadRequest', `container ${request.container} is not valid for pod ${name}`));
    return true;
  }
  ctx.remoteCommand.handleUpgrade(req, socket, head, request);
  return true;
}
