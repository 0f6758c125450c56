/**
 * The error stream of remotecommand: a metav1.Status JSON (v4, v5) or text (v1–v3). Written by the
 * kubelet (`remotecommand/httpstream.go` `v4WriteStatusFunc`, `v1WriteStatusFunc`) and read by client-go
 * (`v4.go` `errorDecoderV4`, `v2.go` `errorDecoderV2`).
 */
import { KubeSpdyError } from '../errors.js';

/** A metav1.Status as carried on the error stream (only the fields remotecommand uses). */
export interface ExecStatus {
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { causes?: { reason?: string; message?: string }[] };
  code?: number;
}

/**
 * The remote command could not run, or the server reported a failure other than a non-zero exit code
 * (`message` is the Status message, e.g. `Internal error occurred: error executing command in container: …`).
 * Code `ERR_REMOTECOMMAND`. `status` is the decoded Status when there was one.
 */
export class RemoteCommandError extends KubeSpdyError {
  readonly status: ExecStatus | undefined;
  constructor(message: string, status?: ExecStatus, options?: { cause?: unknown }) {
    super('ERR_REMOTECOMMAND', message, options);
    this.status = status;
  }
}

/** `{"metadata":{},"status":"Success"}`: the command exited 0. */
export function successStatus(): ExecStatus {
  return { metadata: {}, status: 'Success' };
}

/**
 * The Status for a non-zero exit code, as the kubelet writes it: reason `NonZeroExitCode`, one cause
 * `{reason: "ExitCode", message: "<code>"}` (a cause's type is serialised under the key `reason`).
 */
export function exitCodeStatus(exitCode: number, command: readonly string[]): ExecStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${exitCode}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
  };
}

/** The Status for a command that could not be run (apierrors `NewInternalError`, HTTP 500). */
export function internalErrorStatus(message: string): ExecStatus {
  const text = `error executing command in container: ${message}`;
  return {
    metadata: {},
    status: 'Failure',
    message: `Internal error occurred: ${text}`,
    reason: 'InternalError',
    details: { causes: [{ message: text }] },
    code: 500,
  };
}

/**
 * Decodes what a client read on the error stream into an exit code, as client-go does.
 * - v4/v5 (`json`): empty → 0 (the stream closed without a Status); `Success` → 0; `NonZeroExitCode` with
 *   an `ExitCode` cause → that code, parsed as an unsigned 8-bit integer (client-go `strconv.ParseUint(…, 10, 8)`);
 *   any other Failure → {@link RemoteCommandError} with the Status message.
 * - v1–v3 (text): empty → 0, anything else → {@link RemoteCommandError} with the text.
 * @throws RemoteCommandError
 */
export function decodeErrorStream(data: Buffer, json: boolean): number {
  if (data.length === 0) return 0;
  const text = data.toString('utf8');
  if (!json) throw new RemoteCommandError(`error executing remote command: ${text.trim()}`);
  let status: ExecStatus;
  try {
    status = JSON.parse(text) as ExecStatus;
  } catch (err) {
    throw new RemoteCommandError(`error stream protocol error: ${(err as Error).message} in ${JSON.stringify(text.slice(0, 200))}`, undefined, { cause: err });
  }
  if (status === null || typeof status !== 'object') throw new RemoteCommandError(`error stream protocol error: not a Status: ${JSON.stringify(text.slice(0, 200))}`);
  if (status.status === 'Success') return 0;
  if (status.status !== 'Failure') throw new RemoteCommandError(`error stream protocol error: unknown error status ${JSON.stringify(status.status)}`, status);
  if (status.reason === 'NonZeroExitCode') {
    for (const cause of status.details?.causes ?? []) {
      if (cause.reason !== 'ExitCode') continue;
      const m = /^\d{1,3}$/.exec(cause.message ?? '');
      const code = m ? Number(m[0]) : NaN;
      if (!(code >= 0 && code <= 255)) throw new RemoteCommandError(`error stream protocol error: invalid exit code value ${JSON.stringify(cause.message)}`, status);
      return code;
    }
    throw new RemoteCommandError(`error stream protocol error: no ExitCode cause in ${JSON.stringify(text.slice(0, 200))}`, status);
  }
  throw new RemoteCommandError(status.message || status.reason || 'remote command failed', status);
}

/** Encodes the outcome of a command for the error stream of protocol version `version` (1–5). */
export function encodeErrorStream(status: ExecStatus, version: number): Buffer {
  if (version >= 4) return Buffer.from(JSON.stringify(status), 'utf8');
  // v1–v3: only failures are written, as text (kubelet `v1WriteStatusFunc`).
  return status.status === 'Success' ? Buffer.alloc(0) : Buffer.from(status.message ?? 'remote command failed', 'utf8');
}
