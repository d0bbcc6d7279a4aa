// Domain names on the wire (RFC 1035 3.1, 4.1.4): reading with compression pointers under strict
// bounds, and writing with optional compression. Kept apart because names are where hostile
// input does its damage (pointer loops, overlong labels, reads past the end).
import { AmbitError, showValue } from '../errors.js';

const MAX_LABEL = 63;
/** Wire length including every length octet and the root octet. */
const MAX_NAME = 255;
/**
 * Compression pointers one name may follow: a name has at most 127 labels, and an encoder points
 * once per suffix it reuses. Without a cap a chain of names each pointing at the one before costs
 * quadratic time (a 64 KB message of ~10,000 such names took 77 ms to decode).
 */
export const MAX_POINTER_HOPS = 127;

function malformed(why: string, offset: number): AmbitError {
  return new AmbitError('DNS_MALFORMED', `Cannot decode DNS message: ${why}`, { path: `offset ${offset}` });
}

/** Printable label bytes pass as is; dots, backslashes and the rest are escaped as \DDD. */
function labelText(bytes: Buffer): string {
  let s = '';
  for (const b of bytes) {
    if (b > 0x20 && b < 0x7f && b !== 0x2e && b !== 0x5c) s += String.fromCharCode(b);
    else s += `\\${b.toString().padStart(3, '0')}`;
  }
  return s;
}

/** Reads the name at `offset`; `next` is the offset after the name's in-place bytes. */
export function readName(buf: Buffer, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = offset;
  let next = -1;
  // A pointer must land before the start of the segment it continues, so jumps strictly
  // decrease and any loop is caught at its first repeat.
  let segmentStart = offset;
  let wireLength = 1;
  let hops = 0;
  for (;;) {
    if (pos >= buf.length) throw malformed(`name at offset ${offset} runs past the end of the message (${buf.length} bytes)`, pos);
    const len = buf[pos]!;
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= buf.length) throw malformed(`compression pointer at offset ${pos} is cut off by the end of the message`, pos);
      const target = ((len & 0x3f) << 8) | buf[pos + 1]!;
      if (target >= segmentStart) {
        throw malformed(`compression pointer at offset ${pos} points to offset ${target}, not before the name it continues (pointer loop)`, pos);
      }
      if (++hops > MAX_POINTER_HOPS) throw malformed(`name at offset ${offset} follows more than ${MAX_POINTER_HOPS} compression pointers`, pos);
      if (next < 0) next = pos + 2;
      pos = target;
      segmentStart = target;
      continue;
    }
    if (kind !== 0) throw malformed(`label length ${len} at offset ${pos} exceeds 63 (reserved label type)`, pos);
    if (len === 0) {
      if (next < 0) next = pos + 1;
      return { name: labels.join('.'), next };
    }
    wireLength += len + 1;
    if (wireLength > MAX_NAME) throw malformed(`name at offset ${offset} is longer than 255 bytes`, offset);
    if (pos + 1 + len > buf.length) throw malformed(`label at offset ${pos} runs past the end of the message (${buf.length} bytes)`, pos);
    labels.push(labelText(buf.subarray(pos + 1, pos + 1 + len)));
    pos += 1 + len;
  }
}

/** Splits a presentation name into wire labels, honouring \X and \DDD escapes. */
export function nameLabels(name: string): Buffer[] {
  const bad = (why: string) => new AmbitError('DNS_INVALID_NAME', `Cannot encode DNS name ${showValue(name)}: ${why}`, { value: name });
  const trimmed = name.endsWith('.') && !name.endsWith('\\.') ? name.slice(0, -1) : name;
  if (trimmed === '') return [];
  const labels: Buffer[] = [];
  let cur: number[] = [];
  let wireLength = 1;
  const finish = () => {
    if (cur.length === 0) throw bad('empty label');
    if (cur.length > MAX_LABEL) throw bad(`label ${showValue(Buffer.from(cur).toString('latin1'))} is ${cur.length} bytes (max 63)`);
    wireLength += cur.length + 1;
    labels.push(Buffer.from(cur));
    cur = [];
  };
  for (let i = 0; i < trimmed.length; i++) {
    const ch = trimmed[i]!;
    if (ch === '.') {
      finish();
    } else if (ch === '\\') {
      const digits = /^\d{3}/.exec(trimmed.slice(i + 1));
      if (digits) {
        const v = Number(digits[0]);
        if (v > 255) throw bad(`escape \\${digits[0]} is above 255`);
        cur.push(v);
        i += 3;
      } else if (i + 1 < trimmed.length) {
        cur.push(trimmed.charCodeAt(++i) & 0xff);
      } else {
        throw bad('dangling backslash');
      }
    } else {
      const c = trimmed.charCodeAt(i);
      if (c > 0xff) throw bad(`character ${showValue(ch)} is not a single byte`);
      cur.push(c);
    }
  }
  finish();
  if (wireLength > MAX_NAME) throw bad(`name is ${wireLength} bytes on the wire (max 255)`);
  return labels;
}

/** Appends names to an output under construction, reusing earlier suffixes when compressing. */
export class NameWriter {
  private readonly suffixes = new Map<string, number>();

  constructor(private readonly compress: boolean) {}

  /** Returns the wire bytes of `name` when written at absolute `offset`. */
  write(name: string, offset: number): Buffer {
    const labels = nameLabels(name);
    const parts: Buffer[] = [];
    let at = offset;
    for (let i = 0; i < labels.length; i++) {
      const key = labels.slice(i).map((l) => l.toString('latin1').toLowerCase()).join('.');
      const earlier = this.compress ? this.suffixes.get(key) : undefined;
      if (earlier !== undefined) {
        parts.push(Buffer.from([0xc0 | (earlier >> 8), earlier & 0xff]));
        return Buffer.concat(parts);
      }
      if (this.compress && at < 0x4000) this.suffixes.set(key, at);
      const label = labels[i]!;
      parts.push(Buffer.from([label.length]), label);
      at += label.length + 1;
    }
    parts.push(Buffer.from([0]));
    return Buffer.concat(parts);
  }
}
