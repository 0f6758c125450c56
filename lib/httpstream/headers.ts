/**
 * Header names and small header helpers shared by the httpstream client and server
 * (constants from k8s.io/apimachinery `pkg/util/httpstream/httpstream.go` and `spdy/upgrade.go`).
 */
import { InvalidArgumentError } from '../errors.js';

/** `Connection` request/response header; must contain the token `upgrade` (case-insensitive). */
export const HEADER_CONNECTION = 'Connection';
/** `Upgrade` header; must contain {@link UPGRADE_SPDY_31} (case-insensitive). */
export const HEADER_UPGRADE = 'Upgrade';
/** Offered (request, one line per value) and negotiated (101 response) stream protocol. */
export const HEADER_PROTOCOL_VERSION = 'X-Stream-Protocol-Version';
/** Sent with a 403 when negotiation fails: one line per protocol the server supports. */
export const HEADER_ACCEPTED_PROTOCOL_VERSIONS = 'X-Accepted-Stream-Protocol-Versions';
/** The `Upgrade` token for SPDY/3.1 (apimachinery `spdy.HeaderSpdy31`). */
export const UPGRADE_SPDY_31 = 'SPDY/3.1';

/**
 * Splits header lines into protocol names as apimachinery `commaSeparatedHeaderValues` does: every
 * line is split on `,`, each part trimmed of spaces, empty parts dropped. Order is kept.
 */
export function splitHeaderValues(lines: readonly string[] | string | undefined): string[] {
  if (lines === undefined) return [];
  const list = typeof lines === 'string' ? [lines] : lines;
  const out: string[] = [];
  for (const line of list) {
    for (const part of line.split(',')) {
      const value = part.trim();
      if (value.length > 0) out.push(value);
    }
  }
  return out;
}

/** True when header value `value` contains `token`, compared case-insensitively (Go: `strings.Contains` of lower-cased values). */
export function headerContains(value: string | string[] | undefined, token: string): boolean {
  if (value === undefined) return false;
  const text = Array.isArray(value) ? value.join(',') : value;
  return text.toLowerCase().includes(token.toLowerCase());
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Throws {@link InvalidArgumentError} unless `name` is an HTTP token and `value` has no CR, LF or NUL
 * (prevents header injection when a header is written by hand).
 */
export function checkHeader(name: string, value: string): void {
  if (!TOKEN.test(name)) throw new InvalidArgumentError(`invalid HTTP header name ${JSON.stringify(name)}`);
  if (/[\r\n\0]/.test(value)) throw new InvalidArgumentError(`invalid value for HTTP header ${name}: contains CR, LF or NUL`);
}

/**
 * Validates a protocol list (offered by a client or supported by a server): non-empty, each entry a
 * non-empty string without `,` (it would split into two when parsed), CR, LF or NUL.
 * Throws {@link InvalidArgumentError}; `what` names the option in the message.
 */
export function checkProtocols(protocols: readonly string[] | undefined, what: string): void {
  if (!Array.isArray(protocols) || protocols.length === 0) {
    throw new InvalidArgumentError(`${what} must list at least one stream protocol`);
  }
  for (const p of protocols) {
    if (typeof p !== 'string' || p.trim() !== p || p === '' || /[,\r\n\0]/.test(p)) {
      throw new InvalidArgumentError(`${what}: invalid stream protocol ${JSON.stringify(p)}`);
    }
  }
}
