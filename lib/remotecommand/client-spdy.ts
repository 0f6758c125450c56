/**
 * remotecommand over the SPDY/3.1 upgrade (client-go `tools/remotecommand/spdy.go`, `v2.go`–`v5.go`):
 * `POST` offering v5, v4, v3, v2; one SPDY stream per channel, created in client-go's order (error,
 * stdin, stdout, stderr, resize), each waiting for its SYN_REPLY, all before any data is copied. The
 * error stream is half-closed at once and read to its end; stdin is half-closed when the caller's input ends.
 */
import createDebug from 'debug';
import { AbortError } from '../errors.js';
import { upgrade } from '../httpstream/client.js';
import { Connection } from '../session/connection.js';
import type { Stream } from '../session/stream.js';
import {
  REMOTECOMMAND_SESSION_DEFAULTS,
  HEADER_STREAM_TYPE,
  SPDY_CLIENT_PROTOCOLS,
  STREAM_TYPE_ERROR,
  STREAM_TYPE_RESIZE,
  STREAM_TYPE_STDERR,
  STREAM_TYPE_STDIN,
  STREAM_TYPE_STDOUT,
  protocolVersion,
} from './constants.js';
import { decodeErrorStream } from './status.js';
import type { ExecResult, Plan } from './client.js';
import { collect, pipeIn, pipeOut } from './pipes.js';

const log = createDebug('kube-spdy:remotecommand:spdy');

/** Runs the command over a SPDY/3.1 upgrade. */
export async function runOverSpdy(plan: Plan): Promise<ExecResult> {
  const { opts } = plan;
  const up = await upgrade(plan.url, {
    method: 'POST',
    protocols: [...SPDY_CLIENT_PROTOCOLS],
    allowEmptyProtocol: true, // an old server answering without a version speaks v1
    ...(opts.headers ? { headers: opts.headers } : {}),
    ...(opts.tls ? { tls: opts.tls } : {}),
    ...(opts.timeout !== undefined ? { timeout: opts.timeout } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.createConnection ? { createConnection: opts.createConnection } : {}),
  });
  const protocol = up.protocol;
  const version = protocolVersion(protocol);
  log('SPDY upgraded: %s', protocol || '(none: v1)');
  const conn = new Connection(up.socket, {
    ...REMOTECOMMAND_SESSION_DEFAULTS,
    pingInterval: 5000,
    pingTimeout: 30000,
    ...opts.session,
    role: 'client',
  });
  conn.on('error', (err) => log('session error: %s', err.message));
  const onAbort = (): void => conn.destroy(new AbortError('exec aborted', { cause: opts.signal?.reason }));
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let closeErr: Error | undefined;
  conn.once('close', (err) => {
    closeErr = err;
  });

  const create = async (type: string): Promise<Stream> => {
    const s = await conn.createStream({ [HEADER_STREAM_TYPE]: type });
    s.on('error', (err) => log('%s stream: %s', type, err.message));
    return s;
  };
  try {
    // All streams first (kubernetes#16373), in client-go's order.
    const error = await create(STREAM_TYPE_ERROR);
    error.end(); // the client never writes on the error stream
    const stdin = plan.stdin ? await create(STREAM_TYPE_STDIN) : undefined;
    const stdout = plan.stdout ? await create(STREAM_TYPE_STDOUT) : undefined;
    const stderr = plan.stderr ? await create(STREAM_TYPE_STDERR) : undefined;
    const resize = plan.tty && version >= 3 ? await create(STREAM_TYPE_RESIZE) : undefined;

    const errorText = collect(error, plan.maxErrorStream);
    const waits: Promise<void>[] = [];
    if (stdout) waits.push(pipeOut(stdout, opts.stdout!));
    if (stderr) waits.push(pipeOut(stderr, opts.stderr!));
    const unpipeStdin = stdin ? pipeIn(opts.stdin!, stdin) : undefined;
    if (resize) plan.resizer.attach((json) => resize.write(json));
    try {
      const [text] = await Promise.all([errorText, ...waits]);
      return { exitCode: decodeErrorStream(text, version >= 4), protocol, transport: 'spdy' };
    } finally {
      plan.resizer.detach();
      unpipeStdin?.();
    }
  } catch (err) {
    // A lost connection explains a stream that closed early better than the stream does.
    throw closeErr ?? err;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    // client-go closes the connection once the streams are done (its Close resets what is left).
    conn.destroy();
  }
}
