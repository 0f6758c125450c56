/**
 * Errors of every layer. One base class with a stable `code`; subclasses carry the wire status
 * that the error maps to (GOAWAY status for session errors, RST_STREAM status for stream errors).
 *
 * Codes (stable, part of the public API):
 * - `ERR_SPDY_SESSION`   {@link SessionError}: the whole connection fails; `status` is the GOAWAY status.
 * - `ERR_SPDY_STREAM`    {@link StreamError}: one stream failed on this side (a protocol violation we
 *                         detected, our refusal); `status` is the RST_STREAM status, `fromPeer` false.
 * - `ERR_SPDY_RESET`     {@link StreamResetError} (a StreamError with `fromPeer` true): the peer reset
 *                         the stream; `status` is what it sent; `retryable` for REFUSED_STREAM.
 * - `ERR_SPDY_GOAWAY`    {@link GoawayError}: the stream was above the peer's last-good-stream-id;
 *                         `retryable` is true (it was not processed, SPDY/3.1 §2.6.6).
 * - `ERR_SPDY_TIMEOUT`   {@link TimeoutError}: an operation did not finish in time; `timeout` in ms.
 * - `ERR_SPDY_CLOSED`    {@link ClosedError}: the connection is closed or closing.
 * - `ERR_SPDY_LIVENESS`  {@link LivenessError}: pings went unanswered; the connection is dead.
 * - `ERR_SPDY_COMPRESSION` {@link CompressionError}: a header block could not be inflated or was too big.
 * - `ERR_UPGRADE`        {@link UpgradeError}: the HTTP upgrade failed; `statusCode` is the HTTP status.
 * - `ERR_ABORTED`        {@link AbortError}: an AbortSignal fired.
 * - `ERR_PORTFORWARD`    {@link PortForwardError}: the server reported an error for one forwarded connection.
 * - `ERR_INVALID_ARG`    {@link InvalidArgumentError}: bad input from the caller (port specs, options).
 */
export class KubeSpdyError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
  static override [Symbol.hasInstance](obj: unknown): boolean {
    // instanceof survives duplicate installs of the package (as undici does): match by brand + name.
    if (obj === null || typeof obj !== 'object') return false;
    const brand = (obj as { [BRAND]?: string })[BRAND];
    if (brand === undefined) return false;
    if (this === KubeSpdyError) return true;
    let proto = Object.getPrototypeOf(obj);
    while (proto !== null) {
      if (proto.constructor && proto.constructor.name === this.name) return true;
      proto = Object.getPrototypeOf(proto);
    }
    return false;
  }
}
const BRAND = Symbol.for('kube-spdy.error');
Object.defineProperty(KubeSpdyError.prototype, BRAND, { value: 'kube-spdy', enumerable: false });

/** A session (connection) error: the connection sends GOAWAY with `status` and closes. */
export class SessionError extends KubeSpdyError {
  /** GOAWAY status (1 PROTOCOL_ERROR, 2 INTERNAL_ERROR). */
  readonly status: number;
  constructor(status: number, message: string, options?: { cause?: unknown }) {
    super('ERR_SPDY_SESSION', message, options);
    this.status = status;
  }
}

/**
 * A stream error: one stream failed and is (or was) reset with RST_STREAM `status` (SPDY/3.1 §2.4.2).
 * `fromPeer` tells who reset it: false when this side detected the error or refused the stream (our
 * concurrency limit, a protocol violation of the peer's frames), true when the peer sent the RST_STREAM
 * (then the error is a {@link StreamResetError}, code `ERR_SPDY_RESET`).
 */
export class StreamError extends KubeSpdyError {
  readonly streamId: number;
  /** RST_STREAM status (1 PROTOCOL_ERROR … 11 FRAME_TOO_LARGE). */
  readonly status: number;
  /** True when the peer sent the RST_STREAM; false for a local reset or refusal. */
  readonly fromPeer: boolean;
  /** True for REFUSED_STREAM: the stream was not processed and may be retried (§2.4.2). */
  readonly retryable: boolean;
  constructor(streamId: number, status: number, message: string, options?: { cause?: unknown; fromPeer?: boolean }) {
    super(options?.fromPeer ? 'ERR_SPDY_RESET' : 'ERR_SPDY_STREAM', message, options);
    this.streamId = streamId;
    this.status = status;
    this.fromPeer = options?.fromPeer === true;
    this.retryable = status === 3;
  }
}

/** The peer reset the stream with RST_STREAM `status`: a {@link StreamError} with `fromPeer` true. */
export class StreamResetError extends StreamError {
  constructor(streamId: number, status: number, message: string) {
    super(streamId, status, message, { fromPeer: true });
  }
}

/** The peer sent GOAWAY and this stream was not processed (id above last-good-stream-id). */
export class GoawayError extends KubeSpdyError {
  readonly lastGoodStreamId: number;
  readonly status: number;
  readonly retryable = true;
  constructor(lastGoodStreamId: number, status: number, message: string) {
    super('ERR_SPDY_GOAWAY', message);
    this.lastGoodStreamId = lastGoodStreamId;
    this.status = status;
  }
}

/** An operation did not complete within `timeout` ms. */
export class TimeoutError extends KubeSpdyError {
  readonly timeout: number;
  constructor(message: string, timeout: number) {
    super('ERR_SPDY_TIMEOUT', message);
    this.timeout = timeout;
  }
}

/** The connection is closed, closing, or went away. */
export class ClosedError extends KubeSpdyError {
  constructor(message = 'connection closed', options?: { cause?: unknown }) {
    super('ERR_SPDY_CLOSED', message, options);
  }
}

/** Pings were not answered within the liveness timeout: the connection is considered dead. */
export class LivenessError extends KubeSpdyError {
  constructor(message: string) {
    super('ERR_SPDY_LIVENESS', message);
  }
}

/** A header block could not be inflated, or inflated past the configured limit. */
export class CompressionError extends KubeSpdyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_SPDY_COMPRESSION', message, options);
  }
}

/** The HTTP upgrade did not succeed. `statusCode` is the HTTP status (0 when none was received). */
export class UpgradeError extends KubeSpdyError {
  readonly statusCode: number;
  /** The server's message: a metav1.Status `message` when the body is one, else the body text (bounded). */
  readonly serverMessage: string;
  constructor(statusCode: number, message: string, serverMessage = '', options?: { cause?: unknown }) {
    super('ERR_UPGRADE', message, options);
    this.statusCode = statusCode;
    this.serverMessage = serverMessage;
  }
}

/** An AbortSignal fired. `cause` is the signal's reason. */
export class AbortError extends KubeSpdyError {
  constructor(message = 'aborted', options?: { cause?: unknown }) {
    super('ERR_ABORTED', message, options);
  }
}

/** The port-forward server reported an error for one forwarded connection (text of its error stream). */
export class PortForwardError extends KubeSpdyError {
  readonly port: number;
  readonly requestId: number;
  constructor(port: number, requestId: number, message: string) {
    super('ERR_PORTFORWARD', message);
    this.port = port;
    this.requestId = requestId;
  }
}

/** Bad input from the caller (a port spec, an option). */
export class InvalidArgumentError extends KubeSpdyError {
  constructor(message: string) {
    super('ERR_INVALID_ARG', message);
  }
}
