// A minimal DER writer. The CA's hot path builds certificates and CSRs from these few
// primitives instead of a general ASN.1 library, because JS ASN.1 object models cost ~10x more
// than the P-256 signature itself (see FIELD-NOTES "Certificates").
import { AmbitError, showValue } from '../errors.js';

/** Encodes a DER length (definite form, minimal octets). */
export function encodeLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One tag-length-value element around already-encoded content. */
export function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

export function sequence(...items: Buffer[]): Buffer {
  return tlv(0x30, Buffer.concat(items));
}

/** SET OF: DER orders the elements by their encodings. */
export function set(...items: Buffer[]): Buffer {
  return tlv(0x31, Buffer.concat([...items].sort(Buffer.compare)));
}

/** INTEGER from a number/bigint, or from unsigned big-endian bytes (a serial number). */
export function integer(value: number | bigint | Buffer): Buffer {
  let bytes: Buffer;
  if (Buffer.isBuffer(value)) {
    let i = 0;
    while (i < value.length - 1 && value[i] === 0) i++;
    bytes = value.subarray(i);
    if (bytes.length === 0) bytes = Buffer.from([0]);
    if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  } else {
    let v = BigInt(value);
    if (v < 0n) throw new AmbitError('DER_INVALID', `Cannot encode INTEGER: negative value ${String(v)} is not supported`, { value });
    const hex = v.toString(16);
    bytes = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
    if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
    v = 0n;
  }
  return tlv(0x02, bytes);
}

const oidCache = new Map<string, Buffer>();
/** Limits shared with der-read.ts: an X.667 UUID arc (128 bits) fits with room to spare. */
export const MAX_OID_ARC = 1n << 161n;
export const MAX_OID_OCTETS = 128;

/**
 * OBJECT IDENTIFIER from dotted form; encodings are cached since a CA reuses a handful. Arcs may
 * be of any size (a `2.25.<UUID>` OID, X.667, has a 128-bit arc).
 */
export function objectId(dotted: string): Buffer {
  const hit = oidCache.get(dotted);
  if (hit) return hit;
  const parts = dotted.split('.');
  const arcs = parts.every((a) => /^(0|[1-9]\d{0,48})$/.test(a)) ? parts.map((a) => BigInt(a)) : [];
  // The reader's limits (der-read.ts): an arc below 2^161, an encoding of at most 128 octets.
  if (arcs.length < 2 || arcs[0]! > 2n || (arcs[0]! < 2n && arcs[1]! > 39n) || arcs.some((a) => a >= MAX_OID_ARC) || arcs[0]! * 40n + arcs[1]! >= MAX_OID_ARC) {
    throw new AmbitError('DER_INVALID', `Cannot encode OBJECT IDENTIFIER: ${showValue(dotted)} is not a dotted OID`, { value: dotted });
  }
  const out: number[] = [];
  const push = (arc: bigint): void => {
    const chunk: number[] = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) chunk.unshift(0x80 | Number(v & 0x7fn));
    out.push(...chunk);
  };
  push(arcs[0]! * 40n + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  if (out.length > MAX_OID_OCTETS) {
    throw new AmbitError('DER_INVALID', `Cannot encode OBJECT IDENTIFIER: ${showValue(dotted)} takes ${out.length} octets, over ${MAX_OID_OCTETS}`, { value: dotted });
  }
  const enc = tlv(0x06, Buffer.from(out));
  oidCache.set(dotted, enc);
  return enc;
}

export function bitString(bytes: Buffer, unusedBits = 0): Buffer {
  return tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), bytes]));
}

export function octetString(bytes: Buffer): Buffer {
  return tlv(0x04, bytes);
}

export function utf8String(s: string): Buffer {
  return tlv(0x0c, Buffer.from(s, 'utf8'));
}

export function printableString(s: string): Buffer {
  if (!/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(s)) {
    throw new AmbitError('DER_INVALID', `Cannot encode PrintableString: ${showValue(s)} has characters outside the PrintableString set`, { value: s });
  }
  return tlv(0x13, Buffer.from(s, 'latin1'));
}

export function ia5String(s: string): Buffer {
  return tlv(0x16, Buffer.from(s, 'latin1'));
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
const hhmmss = (d: Date): string => `${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;

export function utcTime(d: Date): Buffer {
  const s = `${pad(d.getUTCFullYear() % 100)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${hhmmss(d)}`;
  return tlv(0x17, Buffer.from(s, 'latin1'));
}

export function generalizedTime(d: Date): Buffer {
  const s = `${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${hhmmss(d)}`;
  return tlv(0x18, Buffer.from(s, 'latin1'));
}

/** X.509 Time (RFC 5280 4.1.2.5): UTCTime through 2049, GeneralizedTime from 2050. */
export function x509Time(d: Date): Buffer {
  const y = d.getUTCFullYear();
  return y >= 1950 && y < 2050 ? utcTime(d) : generalizedTime(d);
}

/** [n] EXPLICIT: a constructed context tag wrapping one whole element. */
export function explicit(n: number, inner: Buffer): Buffer {
  return tlv(0xa0 | n, inner);
}

/** [n] IMPLICIT: the element's own tag replaced by the context tag. */
export function implicit(n: number, content: Buffer, constructed = false): Buffer {
  return tlv((constructed ? 0xa0 : 0x80) | n, content);
}

export function nullValue(): Buffer {
  return Buffer.from([0x05, 0x00]);
}

export function boolean(b: boolean): Buffer {
  return Buffer.from([0x01, 0x01, b ? 0xff : 0x00]);
}
