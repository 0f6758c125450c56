/**
 * Copying between the caller's Node streams and the remote channels, with backpressure (`pipe`).
 */
import type { Readable, Writable } from 'node:stream';
import { RemoteCommandError } from './status.js';
import { StreamResetError } from '../errors.js';
import { RstStatus } from '../frames/constants.js';

/**
 * True when `from` (a SPDY stream) was closed by the peer's RST_STREAM CANCEL. The kubelet ends a
 * session by resetting every stream after writing the status (apimachinery spdy `connection.Close`), and
 * spdystream readers see that as EOF: so do we, for what had arrived before it.
 */
function cancelledByPeer(from: Readable): boolean {
  const err = (from as { closeError?: Error | null }).closeError;
  return err instanceof StreamResetError && err.status === RstStatus.CANCEL;
}

const EMPTY = Buffer.alloc(0);

/**
 * Resolves once `to` has processed every chunk written to it so far (client-go's `io.Copy` returns after
 * its last `Write` returned). A Writable queues writes behind the one in progress, so "handed to `to`" is
 * not "written": an empty write's callback runs after all of them. Never rejects (a failed or ended `to`
 * has nothing more to process).
 */
function drained(to: Writable): Promise<void> {
  if (to.writableLength === 0 || to.destroyed || to.writableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    try {
      to.write(EMPTY, () => resolve());
    } catch {
      resolve();
    }
  });
}

/**
 * Pipes remote output `from` into the caller's `to` without ending `to`. Resolves once `from` ended and
 * `to` has processed everything (its queued writes included); rejects if `from` fails. If `to` fails (a
 * closed pipe), the rest of `from` is read and discarded (client-go `io.Copy(io.Discard, …)`), so the
 * session never stalls on it.
 */
export function pipeOut(from: Readable, to: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDestError = (): void => {
      from.unpipe(to);
      from.resume();
    };
    to.once('error', onDestError);
    from.once('end', () => {
      void drained(to).then(() => {
        to.off('error', onDestError);
        resolve();
      });
    });
    from.once('error', (err) => {
      to.off('error', onDestError);
      from.unpipe(to);
      reject(err);
    });
    from.once('close', () => {
      if (from.readableEnded) return;
      to.off('error', onDestError);
      if (cancelledByPeer(from)) void drained(to).then(resolve);
      else reject((from as { closeError?: Error }).closeError ?? new RemoteCommandError('remote stream closed before its end'));
    });
    if (from.destroyed) {
      if (cancelledByPeer(from)) resolve();
      else reject((from as { closeError?: Error }).closeError ?? new RemoteCommandError('remote stream closed before its end'));
      return;
    }
    from.pipe(to, { end: false });
  });
}

/**
 * Pipes the caller's `from` (stdin) into the remote `to`; `to` is ended when `from` ends (a half-close).
 * An error of `to` (the command is gone) stops the copy; an error of `from` ends `to`.
 * Returns a function that stops the copy.
 */
export function pipeIn(from: Readable, to: Writable): () => void {
  const stop = (): void => {
    from.unpipe(to);
  };
  to.on('error', stop);
  from.once('error', () => {
    from.unpipe(to);
    if (!to.writableEnded) to.end();
  });
  from.pipe(to);
  return () => {
    stop();
    to.off('error', stop);
  };
}

/** Reads `from` to its end into one Buffer of at most `max` bytes; more rejects. */
export function collect(from: Readable, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    if (from.destroyed) {
      if (cancelledByPeer(from)) resolve(Buffer.alloc(0));
      else reject((from as { closeError?: Error }).closeError ?? new RemoteCommandError('error stream closed before its end'));
      return;
    }
    from.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        from.destroy();
        reject(new RemoteCommandError(`error stream longer than ${max} bytes`));
        return;
      }
      chunks.push(c);
    });
    from.once('end', () => resolve(Buffer.concat(chunks)));
    from.once('error', reject);
    from.once('close', () => {
      if (from.readableEnded) return;
      if (cancelledByPeer(from)) resolve(Buffer.concat(chunks));
      else reject((from as { closeError?: Error }).closeError ?? new RemoteCommandError('error stream closed before its end'));
    });
  });
}
