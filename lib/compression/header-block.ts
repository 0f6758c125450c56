/**
 * The uncompressed SPDY/3 header block (§2.6.10):
 *
 *   count(32) · count × [ name-length(32) · name · value-length(32) · value ]
 *
 * All integers big-endian. Names are non-empty, lower-case US-ASCII and unique; several values of one
 * name are joined by a single NUL, and a value never starts or ends with NUL ("a\0\0b", "\0a" and
 * "a\0" are invalid). Names are printable US-ASCII (0x21–0x7e) without upper-case letters; values
 * are UTF-8.
 */
import { InvalidArgumentError, StreamError } from '../errors.js';
import { RstStatus } from '../frames/constants.js';
import type { Headers } from '../frames/types.js';

/** Limits for {@link parseHeaderBlock}. */
export interface HeaderBlockLimits {
  /** Most name/value pairs accepted; a larger count field fails before anything is allocated. */
  maxHeaderCount: number;
  /**
   * Largest header list accepted, bytes: the sum over pairs of name bytes + value bytes + 32 (the
   * HTTP/2 accounting, RFC 9113 §6.5.2), counted while decoding. Default: unbounded (the inflated
   * block is already bounded by the decompressor's `maxInflatedSize`).
   */
  maxHeaderListSize?: number;
}

/** Per-pair overhead counted against {@link HeaderBlockLimits.maxHeaderListSize}, bytes. */
export const HEADER_ENTRY_OVERHEAD = 32;

/** Smallest encoding of one pair: two 32-bit lengths and a 1-byte name (values may be empty). */
const MIN_PAIR_SIZE = 9;

/** Classifies one name character code: a reason when it is not allowed, else null. */
function nameCharProblem(c: number): string | null {
  if (c < 0x21 || c > 0x7e) return 'header name with a character outside printable US-ASCII';
  if (c >= 0x41 && c <= 0x5a) return 'header name with upper-case letters';
  return null;
}

/** Returns a reason when `bytes[start, end)` is not a valid header name, else null. */
function nameProblem(bytes: Uint8Array, start: number, end: number): string | null {
  if (end === start) return 'empty header name';
  for (let i = start; i < end; i++) {
    const problem = nameCharProblem(bytes[i]!);
    if (problem !== null) return problem;
  }
  return null;
}

/** Returns a reason when `bytes[start, end)` is not a valid value (NUL rules), else null. */
function valueProblem(bytes: Uint8Array, start: number, end: number): string | null {
  if (end === start) return null;
  if (bytes[start] === 0 || bytes[end - 1] === 0) return 'header value starts or ends with NUL';
  for (let i = start + 1; i < end - 1; i++) {
    if (bytes[i] === 0 && bytes[i + 1] === 0) return 'header value with an empty NUL-separated segment';
  }
  return null;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Serializes a header block (uncompressed) in the object's key order, in one allocation.
 * Validation happens before the allocation, so an InvalidArgumentError leaves nothing half-written.
 * Values are encoded as UTF-8; a NUL inside a value separates several values of one name.
 * @throws InvalidArgumentError for an invalid name (empty, upper case, outside 0x21–0x7e), a non-string value,
 *   a value that starts/ends with NUL or holds an empty segment (`a\0\0b`), or a value with a lone
 *   UTF-16 surrogate (it has no UTF-8 form).
 */
export function serializeHeaderBlock(headers: Headers): Buffer {
  const names = Object.keys(headers);
  const valueLengths = new Array<number>(names.length);
  let size = 4;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const value: unknown = headers[name];
    if (typeof value !== 'string') throw new InvalidArgumentError(`header ${JSON.stringify(name)}: value must be a string`);
    let problem = name.length === 0 ? 'empty header name' : null;
    for (let j = 0; j < name.length && problem === null; j++) problem = nameCharProblem(name.charCodeAt(j));
    if (problem === null && value.length > 0) {
      // UTF-8 writes a 0 byte only for U+0000, so the NUL rules can be checked on the string.
      if (value.charCodeAt(0) === 0 || value.charCodeAt(value.length - 1) === 0) problem = 'header value starts or ends with NUL';
      else if (value.includes('\0\0')) problem = 'header value with an empty NUL-separated segment';
    }
    if (problem !== null) throw new InvalidArgumentError(`${problem}: ${JSON.stringify(name)}`);
    let length = value.length;
    for (let j = 0; j < value.length; j++) {
      if (value.charCodeAt(j) >= 0x80) {
        // A lone surrogate has no UTF-8 form: encoding would silently turn it into U+FFFD (found by
        // spec/property-headers.test.ts; fixture fixtures/property/header-lone-surrogate.json).
        if (LONE_SURROGATE.test(value)) throw new InvalidArgumentError(`header value with a lone UTF-16 surrogate (not encodable as UTF-8): ${JSON.stringify(name)}`);
        length = Buffer.byteLength(value, 'utf8');
        break;
      }
    }
    valueLengths[i] = length; // === value.length exactly when the value is ASCII
    size += 8 + name.length + length;
  }
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32BE(names.length, 0);
  let pos = 4;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const value = headers[name]!;
    const length = valueLengths[i]!;
    out.writeUInt32BE(name.length, pos);
    pos = writeAscii(out, pos + 4, name);
    out.writeUInt32BE(length, pos);
    pos += 4;
    if (length === value.length) pos = writeAscii(out, pos, value);
    else pos += out.write(value, pos, length, 'utf8');
  }
  return out;
}

/** Writes an ASCII string at `pos` and returns the position after it (a loop beats a native call for short strings). */
function writeAscii(out: Buffer, pos: number, s: string): number {
  if (s.length > 32) return pos + out.write(s, pos, s.length, 'latin1');
  for (let j = 0; j < s.length; j++) out[pos++] = s.charCodeAt(j);
  return pos;
}

/**
 * Parses an uncompressed header block into a null-prototype object (so a `__proto__` header is data).
 *
 * Every count and length is checked against the bytes that remain before anything is allocated:
 * the count against `limits.maxHeaderCount` and against `remaining / 9` (the smallest pair).
 *
 * @param block the inflated block (output of `HeaderDecompressor.decompress`).
 * @param streamId the stream the block belongs to, carried by the thrown errors.
 * @throws StreamError(streamId, RstStatus.PROTOCOL_ERROR) for a truncated block, trailing bytes, a
 *   count that cannot fit, an empty / non-ASCII / upper-case / duplicate name (§2.6.10: "Duplicate
 *   header names are not allowed"), or a value with a leading / trailing NUL or an empty segment
 *   ("The value never starts nor ends with a NUL character").
 * @throws StreamError(streamId, RstStatus.FRAME_TOO_LARGE) when the count exceeds
 *   `limits.maxHeaderCount` or the list exceeds `limits.maxHeaderListSize`.
 */
export function parseHeaderBlock(block: Buffer, limits: HeaderBlockLimits, streamId = 0): Headers {
  const fail = (status: number, msg: string): StreamError => new StreamError(streamId, status, msg);
  const len = block.length;
  if (len < 4) throw fail(RstStatus.PROTOCOL_ERROR, `header block truncated: ${len} bytes, no count`);
  const count = block.readUInt32BE(0);
  if (count > limits.maxHeaderCount) {
    throw fail(RstStatus.FRAME_TOO_LARGE, `header block with ${count} pairs exceeds the limit of ${limits.maxHeaderCount}`);
  }
  if (count * MIN_PAIR_SIZE > len - 4) {
    throw fail(RstStatus.PROTOCOL_ERROR, `header block count ${count} does not fit in ${len - 4} bytes`);
  }
  const maxListSize = limits.maxHeaderListSize ?? Infinity;
  let listSize = 0;
  const headers: Headers = Object.create(null) as Headers;
  let pos = 4;
  for (let i = 0; i < count; i++) {
    if (len - pos < 4) throw fail(RstStatus.PROTOCOL_ERROR, `header block truncated in pair ${i}`);
    const nameLen = block.readUInt32BE(pos);
    pos += 4;
    if (nameLen > len - pos - 4) {
      throw fail(RstStatus.PROTOCOL_ERROR, `header name length ${nameLen} exceeds the ${len - pos} bytes left`);
    }
    const nameStart = pos;
    pos += nameLen;
    const valueLen = block.readUInt32BE(pos);
    pos += 4;
    if (valueLen > len - pos) {
      throw fail(RstStatus.PROTOCOL_ERROR, `header value length ${valueLen} exceeds the ${len - pos} bytes left`);
    }
    listSize += nameLen + valueLen + HEADER_ENTRY_OVERHEAD;
    if (listSize > maxListSize) {
      throw fail(RstStatus.FRAME_TOO_LARGE, `header list exceeds the limit of ${maxListSize} bytes`);
    }
    const problem = nameProblem(block, nameStart, nameStart + nameLen);
    if (problem !== null) throw fail(RstStatus.PROTOCOL_ERROR, problem);
    const name = block.toString('latin1', nameStart, nameStart + nameLen);
    if (name in headers) throw fail(RstStatus.PROTOCOL_ERROR, `duplicate header name ${JSON.stringify(name)}`);
    const vProblem = valueProblem(block, pos, pos + valueLen);
    if (vProblem !== null) throw fail(RstStatus.PROTOCOL_ERROR, `${vProblem}: ${JSON.stringify(name)}`);
    headers[name] = block.toString('utf8', pos, pos + valueLen);
    pos += valueLen;
  }
  if (pos !== len) throw fail(RstStatus.PROTOCOL_ERROR, `${len - pos} trailing bytes after the header block`);
  return headers;
}
