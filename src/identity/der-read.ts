// A strict DER reader: zero-copy views over a buffer. It rejects what DER forbids (indefinite
// and non-minimal lengths, high tag numbers) and anything that runs past its container, so a
// hostile CSR fails here with DER_INVALID instead of confusing the checks that follow.
import { AmbitError } from '../errors.js';
import { MAX_OID_ARC, MAX_OID_OCTETS } from './der.js';

export interface DerNode {
  readonly buf: Buffer;
  readonly tag: number;
  /** Offset of the tag byte. */
  readonly start: number;
  readonly contentStart: number;
  /** Offset just past the content. */
  readonly end: number;
}

function fail(why: string, offset: number): never {
  throw new AmbitError('DER_INVALID', `Cannot read DER: ${why} at offset ${offset}`, { path: `@${offset}`, value: offset });
}

/** Reads one element starting at `offset` that must end at or before `limit`. */
export function readNode(buf: Buffer, offset: number, limit = buf.length): DerNode {
  if (offset + 2 > limit) fail('element header runs past the end', offset);
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) fail('high tag numbers are not supported', offset);
  const first = buf[offset + 1]!;
  let len: number;
  let contentStart: number;
  if (first < 0x80) {
    len = first;
    contentStart = offset + 2;
  } else {
    const n = first & 0x7f;
    if (n === 0) fail('indefinite length is not allowed', offset);
    if (n > 4) fail(`length of ${n} octets is too large`, offset);
    if (offset + 2 + n > limit) fail('length octets run past the end', offset);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[offset + 2 + i]!;
    if (buf[offset + 2] === 0 || len < 0x80) fail('length is not minimally encoded', offset);
    contentStart = offset + 2 + n;
  }
  const end = contentStart + len;
  if (end > limit) fail(`length ${len} runs past the end of its container`, offset);
  return { buf, tag, start: offset, contentStart, end };
}

/** The buffer must hold exactly one element: trailing bytes are an error. */
export function readOne(buf: Buffer): DerNode {
  const node = readNode(buf, 0);
  if (node.end !== buf.length) fail(`${buf.length - node.end} trailing bytes`, node.end);
  return node;
}

export function expectTag(node: DerNode, tag: number, what: string): DerNode {
  if (node.tag !== tag) {
    fail(`${what} has tag 0x${node.tag.toString(16).padStart(2, '0')}, expected 0x${tag.toString(16).padStart(2, '0')}`, node.start);
  }
  return node;
}

/** The elements inside a constructed node. */
export function children(node: DerNode): DerNode[] {
  if ((node.tag & 0x20) === 0) fail('element is not constructed', node.start);
  const out: DerNode[] = [];
  for (let off = node.contentStart; off < node.end; ) {
    const c = readNode(node.buf, off, node.end);
    out.push(c);
    off = c.end;
  }
  return out;
}

/** The content octets of a node (a view, not a copy). */
export function contentOf(node: DerNode): Buffer {
  return node.buf.subarray(node.contentStart, node.end);
}

/** The whole encoding of a node, header included (a view). */
export function rawOf(node: DerNode): Buffer {
  return node.buf.subarray(node.start, node.end);
}

export function readObjectId(node: DerNode): string {
  expectTag(node, 0x06, 'OBJECT IDENTIFIER');
  const c = contentOf(node);
  if (c.length === 0) fail('empty OBJECT IDENTIFIER', node.start);
  // X.667's 2.25.<UUID> arcs are 128 bits; the limits (der.ts) leave room and refuse absurd ones.
  if (c.length > MAX_OID_OCTETS) fail(`OBJECT IDENTIFIER longer than ${MAX_OID_OCTETS} octets`, node.start);
  const arcs: bigint[] = [];
  let v = 0n;
  let octets = 0;
  for (let i = 0; i < c.length; i++) {
    const b = c[i]!;
    if (octets === 0 && b === 0x80) fail('non-minimal OBJECT IDENTIFIER arc', node.start);
    v = (v << 7n) | BigInt(b & 0x7f);
    octets++;
    if (v >= MAX_OID_ARC) fail('OBJECT IDENTIFIER arc too large', node.start);
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) arcs.push(v < 80n ? v / 40n : 2n, v < 80n ? v % 40n : v - 80n);
      else arcs.push(v);
      v = 0n;
      octets = 0;
    } else if (i === c.length - 1) fail('truncated OBJECT IDENTIFIER', node.start);
  }
  return arcs.join('.');
}

/** INTEGER content as unsigned magnitude bytes; negative values are rejected. */
export function readUnsignedInteger(node: DerNode): Buffer {
  expectTag(node, 0x02, 'INTEGER');
  const c = contentOf(node);
  if (c.length === 0) fail('empty INTEGER', node.start);
  if (c.length > 1 && ((c[0] === 0 && (c[1]! & 0x80) === 0) || (c[0] === 0xff && (c[1]! & 0x80) !== 0))) {
    fail('INTEGER is not minimally encoded', node.start);
  }
  if (c[0]! & 0x80) fail('negative INTEGER', node.start);
  return c[0] === 0 && c.length > 1 ? c.subarray(1) : c;
}

export function readSmallInteger(node: DerNode): number {
  const b = readUnsignedInteger(node);
  if (b.length > 6) fail('INTEGER too large', node.start);
  return b.readUIntBE(0, b.length);
}

export function readBoolean(node: DerNode): boolean {
  expectTag(node, 0x01, 'BOOLEAN');
  const c = contentOf(node);
  if (c.length !== 1 || (c[0] !== 0 && c[0] !== 0xff)) fail('BOOLEAN must be one octet 0x00 or 0xff', node.start);
  return c[0] === 0xff;
}

/** BIT STRING bytes; `unusedBits` tells how many low bits of the last byte are padding. */
export function readBitString(node: DerNode): { unusedBits: number; bytes: Buffer } {
  expectTag(node, 0x03, 'BIT STRING');
  const c = contentOf(node);
  if (c.length === 0 || c[0]! > 7 || (c.length === 1 && c[0] !== 0)) fail('malformed BIT STRING', node.start);
  return { unusedBits: c[0]!, bytes: c.subarray(1) };
}

/** Any of the character-string types that certificates use, decoded as text. */
export function readString(node: DerNode): string {
  const c = contentOf(node);
  switch (node.tag) {
    case 0x0c: // UTF8String
      return c.toString('utf8');
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x14: // TeletexString (treated as latin1)
      return c.toString('latin1');
    case 0x1e: // BMPString
      if (c.length % 2) fail('BMPString has an odd length', node.start);
      return Buffer.from(c).swap16().toString('utf16le');
    default:
      return fail(`tag 0x${node.tag.toString(16)} is not a string type`, node.start);
  }
}

/** UTCTime or GeneralizedTime in the "Z" forms RFC 5280 requires. */
export function readTime(node: DerNode): Date {
  const s = contentOf(node).toString('latin1');
  let m: RegExpExecArray | null;
  if (node.tag === 0x17 && (m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s))) {
    const yy = Number(m[1]);
    return new Date(Date.UTC(yy < 50 ? 2000 + yy : 1900 + yy, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  }
  if (node.tag === 0x18 && (m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s))) {
    return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  }
  return fail('malformed time', node.start);
}
