/**
 * remotecommand: `exec` and `attach` (Kubernetes `v5.channel.k8s.io` … `channel.k8s.io`) over WebSocket
 * and the SPDY/3.1 upgrade, client and server. The root export keeps to what applications use; the
 * protocol names, the error-stream codec and the WebSocket channel mux are in the files of this folder.
 */
export { exec, attach } from './client.js';
export type { AttachOptions, ExecOptions, ExecResult, RemoteCommand } from './client.js';
export { createRemoteCommandServer, parseRemoteCommandRequest } from './server.js';
export type {
  RemoteCommandServer,
  RemoteCommandServerOptions,
  RemoteCommandHandler,
  RemoteCommandRequest,
  RemoteCommandStreams,
  TerminalSize,
} from './server.js';
export { RemoteCommandError } from './status.js';
export type { ExecStatus } from './status.js';
export { localProcessHandler } from './local.js';
export type { LocalProcessOptions } from './local.js';
