// Finds the end of a chunked request body (RFC 9112 section 7.1) without decoding it, so that a
// caller can see where the next pipelined request starts. Strict like the head parser: sizes
// are hex digits only, every line ends with CRLF, chunk data ends with CRLF.
import { httpError } from './http-head.js';

const SIZE = /^[0-9a-fA-F]{1,15}$/;
const MAX_LINE = 4096;

/** Bytes of the chunked body starting at `offset` (trailers included), or -1 when incomplete. */
export function chunkedBodyLength(buf: Buffer, offset: number): number {
  let at = offset;
  for (;;) {
    const eol = lineEnd(buf, at);
    if (eol < 0) return -1;
    const line = buf.toString('latin1', at, eol);
    const size = line.split(';')[0]!.trim();
    if (!SIZE.test(size)) throw httpError('HTTP_MALFORMED', `chunk size at byte ${at - offset} of the body must be hex digits`, 'body.chunkSize', line);
    const n = parseInt(size, 16);
    at = eol + 2;
    if (n === 0) break;
    if (buf.length < at + n + 2) return -1;
    if (buf[at + n] !== 0x0d || buf[at + n + 1] !== 0x0a) {
      throw httpError('HTTP_MALFORMED', `chunk data at byte ${at - offset} of the body is not followed by CRLF`, 'body.chunk', n);
    }
    at += n + 2;
  }
  // Trailer fields, then an empty line.
  for (;;) {
    const eol = lineEnd(buf, at);
    if (eol < 0) return -1;
    const empty = eol === at;
    at = eol + 2;
    if (empty) return at - offset;
  }
}

/** Index of the CR of the next CRLF at or after `from`; -1 when not yet there. */
function lineEnd(buf: Buffer, from: number): number {
  const lf = buf.indexOf(0x0a, from);
  if (lf < 0) {
    if (buf.length - from > MAX_LINE) throw httpError('HTTP_MALFORMED', `chunk line longer than ${MAX_LINE} bytes`, 'body', buf.length - from);
    return -1;
  }
  if (lf === from || buf[lf - 1] !== 0x0d) throw httpError('HTTP_MALFORMED', 'bare LF in the chunked body', 'body', '\n');
  return lf - 1;
}
