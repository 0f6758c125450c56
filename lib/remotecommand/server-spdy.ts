/**
 * remotecommand over SPDY/3.1, server side (kubelet cri-streaming `remotecommand/httpstream.go`):
 * reply to each stream as it arrives, wait (at most `streamCreationTimeout`) until every expected stream
 * is there, run the handler, then end stdout/stderr, write the Status on the error stream and close.
 */
import type { Duplex, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import createDebug from 'debug';
import { Connection } from '../session/connection.js';
import type { Stream } from '../session/stream.js';
import { RstStatus } from '../frames/constants.js';
import {
  REMOTECOMMAND_SESSION_DEFAULTS,
  DEFAULT_STREAM_CREATION_TIMEOUT,
  HEADER_STREAM_TYPE,
  STREAM_TYPE_ERROR,
  STREAM_TYPE_RESIZE,
  STREAM_TYPE_STDERR,
  STREAM_TYPE_STDIN,
  STREAM_TYPE_STDOUT,
  protocolVersion,
} from './constants.js';
import { encodeErrorStream, internalErrorStatus, type ExecStatus } from './status.js';
import { decodeResizes, runHandler, type RemoteCommandRequest, type RemoteCommandServerOptions } from './server.js';

const log = createDebug('kube-spdy:remotecommand:server');

/** Ends `w` (if the handler did not) and waits until its data is handed to the session. */
export async function endAndFlush(w: Writable | null | undefined, last?: Buffer): Promise<void> {
  if (!w || w.destroyed) return;
  if (!w.writableEnded) {
    if (last && last.length > 0) w.end(last);
    else w.end();
  }
  try {
    await finished(w, { readable: false });
  } catch {
    // the client went away: nothing more to deliver
  }
}

/** Serves one upgraded SPDY connection. `track` registers a stop function for server shutdown. */
export function serveSpdy(
  socket: Duplex,
  protocol: string,
  request: RemoteCommandRequest,
  options: RemoteCommandServerOptions,
  track: (stop: () => void) => () => void,
): void {
  socket.on('error', (err) => log('socket error: %s', err.message));
  const version = protocolVersion(protocol);
  const conn = new Connection(socket, { ...REMOTECOMMAND_SESSION_DEFAULTS, ...options.session, role: 'server' });
  conn.on('error', (err) => log('session error: %s', err.message));
  const untrack = track(() => conn.destroy());
  const expected = new Set<string>([STREAM_TYPE_ERROR]);
  if (request.stdin) expected.add(STREAM_TYPE_STDIN);
  if (request.stdout) expected.add(STREAM_TYPE_STDOUT);
  if (request.stderr) expected.add(STREAM_TYPE_STDERR);
  if (request.tty && version >= 3) expected.add(STREAM_TYPE_RESIZE);
  const got = new Map<string, Stream>();
  const abort = new AbortController();
  conn.once('close', () => {
    untrack();
    abort.abort();
  });

  const timeout = options.streamCreationTimeout ?? DEFAULT_STREAM_CREATION_TIMEOUT;
  const timer = setTimeout(() => {
    log('timed out waiting for streams (have %o)', [...got.keys()]);
    const error = got.get(STREAM_TYPE_ERROR);
    const text = encodeErrorStream(internalErrorStatus('timed out waiting for client to create streams'), version);
    if (error && !error.writableEnded) error.end(text, () => void conn.close({ timeout: 1000 }));
    else conn.destroy();
  }, timeout);
  timer.unref();

  const onStream = (stream: Stream): void => {
    stream.on('error', (err) => log('stream %d: %s', stream.id, err.message));
    const type = stream.headers[HEADER_STREAM_TYPE] ?? '';
    if (!expected.has(type) || got.has(type)) {
      log('stream %d: unexpected streamtype %j: reset', stream.id, type);
      stream.reset(RstStatus.PROTOCOL_ERROR);
      return;
    }
    stream.reply({});
    got.set(type, stream);
    if (got.size === expected.size) {
      clearTimeout(timer);
      conn.off('stream', onStream);
      void run();
    }
  };
  conn.on('stream', onStream);

  const run = async (): Promise<void> => {
    const error = got.get(STREAM_TYPE_ERROR)!;
    const stdin = got.get(STREAM_TYPE_STDIN) ?? null;
    const stdout = got.get(STREAM_TYPE_STDOUT) ?? null;
    const stderr = got.get(STREAM_TYPE_STDERR) ?? null;
    const resizeStream = got.get(STREAM_TYPE_RESIZE);
    error.resume(); // nothing is expected from the client there
    const status: ExecStatus = await runHandler(
      options.handler,
      {
        stdin,
        stdout,
        stderr,
        resize: resizeStream ? decodeResizes(resizeStream) : null,
        signal: abort.signal,
        protocol,
        transport: 'spdy',
      },
      request,
    );
    if (conn.isClosed) return;
    // Whatever the client still sends on stdin is not needed any more: stop it from holding the socket.
    if (stdin && !stdin.readableEnded) stdin.reset(RstStatus.CANCEL);
    if (resizeStream && !resizeStream.readableEnded) resizeStream.reset(RstStatus.CANCEL);
    await Promise.all([endAndFlush(stdout), endAndFlush(stderr)]);
    log('status: %s %s', status.status, status.reason ?? '');
    await endAndFlush(error, encodeErrorStream(status, version));
    // The client closes once it has read everything; cut the connection if it does not.
    await conn.close({ timeout: options.closeTimeout ?? 10_000 });
  };
}
