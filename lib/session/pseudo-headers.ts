/**
 * HTTP pseudo-headers for the opt-in `httpPseudoHeaders` mode (see {@link ConnectionOptions}).
 *
 * SPDY/3 peers built for HTTP (spdy-transport, Chromium) want them: spdy-transport as a server rejects a
 * SYN_STREAM without `:method` and `:path`, and as a client resets a stream whose SYN_REPLY has no
 * `:status`. Kubernetes peers (moby/spdystream) send none and need none, so the mode is off by default.
 * Only missing names are added; the caller's object is never modified.
 */
import type { Headers } from '../frames/types.js';

/** Added to an outgoing SYN_STREAM when missing. */
export const REQUEST_PSEUDO_HEADERS: Readonly<Headers> = Object.freeze({
  ':method': 'GET',
  ':path': '/',
  ':version': 'HTTP/1.1',
  ':host': 'localhost',
  ':scheme': 'https',
});

/** Added to an outgoing SYN_REPLY when missing. */
export const REPLY_PSEUDO_HEADERS: Readonly<Headers> = Object.freeze({
  ':status': '200',
  ':version': 'HTTP/1.1',
});

function complete(headers: Headers, defaults: Readonly<Headers>): Headers {
  let out: Headers | null = null;
  for (const name of Object.keys(defaults)) {
    if (Object.prototype.hasOwnProperty.call(headers, name)) continue;
    out ??= { ...headers };
    out[name] = defaults[name]!;
  }
  return out ?? headers;
}

/** `headers` plus the request pseudo-headers it lacks (the same object when it lacks none). */
export function withRequestPseudoHeaders(headers: Headers): Headers {
  return complete(headers, REQUEST_PSEUDO_HEADERS);
}

/** `headers` plus the reply pseudo-headers it lacks (the same object when it lacks none). */
export function withReplyPseudoHeaders(headers: Headers): Headers {
  return complete(headers, REPLY_PSEUDO_HEADERS);
}
