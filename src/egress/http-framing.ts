// Where a request body ends, decided once and strictly. Request smuggling lives in the gap
// between two parsers that frame the same bytes differently (Content-Length vs
// Transfer-Encoding), so every case where the framing is not unambiguous is refused instead of
// being resolved by a rule the next hop might not share (RFC 9112 section 6).
import { AmbitError, showValue } from '../errors.js';

const DIGITS = /^[0-9]+$/;

function ambiguous(why: string, path: string, value: unknown): AmbitError {
  return new AmbitError('HTTP_FRAMING_AMBIGUOUS', `Cannot read HTTP request head: ${why}, got ${showValue(value)}`, { path, value });
}

function values(headers: readonly [string, string][], name: string): string[] {
  return headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
}

/** Throws HTTP_FRAMING_AMBIGUOUS unless the body framing has exactly one reading. */
export function checkFraming(headers: readonly [string, string][], version: string): void {
  const te = values(headers, 'transfer-encoding');
  const cl = values(headers, 'content-length');
  if (te.length > 0 && cl.length > 0) {
    throw ambiguous('Transfer-Encoding and Content-Length together (request smuggling)', 'headers.transfer-encoding', [...te, ...cl]);
  }
  if (te.length > 0) {
    if (version === 'HTTP/1.0') throw ambiguous('Transfer-Encoding in an HTTP/1.0 request', 'headers.transfer-encoding', te.join(', '));
    const codings = te.join(',').split(',').map((c) => c.trim().toLowerCase());
    if (codings.at(-1) !== 'chunked' || codings.indexOf('chunked') !== codings.length - 1) {
      throw ambiguous('Transfer-Encoding must end with "chunked", once', 'headers.transfer-encoding', te.join(', '));
    }
  }
  if (cl.length > 1) throw ambiguous(`Content-Length appears ${cl.length} times`, 'headers.content-length', cl);
  if (cl.length === 1) {
    const v = cl[0]!;
    if (!DIGITS.test(v) || !Number.isSafeInteger(Number(v))) throw ambiguous('Content-Length must be a decimal number', 'headers.content-length', v);
  }
}

/** The body of a parsed request head: its length in bytes, or 'chunked'. */
export function requestBodyLength(head: { headers: readonly [string, string][]; version: string }): number | 'chunked' {
  checkFraming(head.headers, head.version);
  if (values(head.headers, 'transfer-encoding').length > 0) return 'chunked';
  const cl = values(head.headers, 'content-length')[0];
  return cl === undefined ? 0 : Number(cl);
}
