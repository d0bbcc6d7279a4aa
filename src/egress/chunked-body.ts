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

/**
 * The end of a chunked body found as its bytes come, in any pieces, each byte looked at once
 * (chunkedBodyLength re-reads from the start: fed a byte at a time, that is quadratic). Same
 * strictness and errors. feed() says how many bytes of `buf` (from `offset`) are body bytes that
 * may pass now; bytes of a line not yet whole are not consumed: the caller holds them (at most
 * MAX_LINE) and feeds them again with what follows.
 */
export class ChunkedScanner {
  #phase: 'size' | 'data' | 'dataEnd' | 'trailer' | 'done' = 'size';
  /** Data bytes of the current chunk still to come. */
  #left = 0;
  /** Body bytes seen so far (for the error offsets chunkedBodyLength gives). */
  #at = 0;

  get done(): boolean {
    return this.#phase === 'done';
  }

  /** Consumes what it can of `buf` from `offset`; returns how many bytes. Throws HTTP_MALFORMED. */
  feed(buf: Buffer, offset = 0): number {
    let i = offset;
    while (i < buf.length && this.#phase !== 'done') {
      if (this.#phase === 'data') {
        const n = Math.min(this.#left, buf.length - i);
        i += n;
        this.#left -= n;
        if (this.#left === 0) this.#phase = 'dataEnd';
        continue;
      }
      if (this.#phase === 'dataEnd') {
        if (buf.length - i < 2) break;
        if (buf[i] !== 0x0d || buf[i + 1] !== 0x0a) throw httpError('HTTP_MALFORMED', `chunk data at byte ${this.#at + (i - offset)} of the body is not followed by CRLF`, 'body.chunk', buf.length - i);
        i += 2;
        this.#phase = 'size';
        continue;
      }
      const eol = lineEnd(buf, i);
      if (eol < 0) break;
      const lineStart = i;
      i = eol + 2;
      if (this.#phase === 'trailer') {
        if (eol === lineStart) this.#phase = 'done';
        continue;
      }
      const line = buf.toString('latin1', lineStart, eol);
      const size = line.split(';')[0]!.trim();
      if (!SIZE.test(size)) throw httpError('HTTP_MALFORMED', `chunk size at byte ${this.#at + (lineStart - offset)} of the body must be hex digits`, 'body.chunkSize', line);
      this.#left = parseInt(size, 16);
      this.#phase = this.#left === 0 ? 'trailer' : 'data';
    }
    this.#at += i - offset;
    return i - offset;
  }
}
