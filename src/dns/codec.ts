// The DNS wire format (RFC 1035 section 4) in one place: bytes <-> DnsMessage. Decoding is strict
// (every length is checked against the buffer and the record's RDLENGTH; trailing bytes are an
// error) because the server reads datagrams from anyone on the network.
import { isIPv4, isIPv6 } from 'node:net';
import { AmbitError, showValue } from '../errors.js';
import { type DnsMessage, type DnsQuestion, type DnsRecord, RR_TYPE, recordTypeCode } from './message.js';
import { NameWriter, readName } from './name.js';

const HEADER_LENGTH = 12;

function malformed(why: string, offset: number): AmbitError {
  return new AmbitError('DNS_MALFORMED', `Cannot decode DNS message: ${why}`, { path: `offset ${offset}` });
}

function need(buf: Buffer, offset: number, n: number, what: string): void {
  if (offset + n > buf.length) {
    throw malformed(`${what} at offset ${offset} needs ${n} bytes but the message ends at ${buf.length}`, offset);
  }
}

function ipv6Text(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  // Compress the longest run of zero groups (RFC 5952) so that round trips give canonical text.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

function decodeRecord(buf: Buffer, offset: number): { record: DnsRecord; next: number } {
  const { name, next: afterName } = readName(buf, offset);
  need(buf, afterName, 10, `record ${showValue(name)}`);
  const code = buf.readUInt16BE(afterName);
  const head = { name, class: buf.readUInt16BE(afterName + 2), ttl: buf.readUInt32BE(afterName + 4) };
  const rdlength = buf.readUInt16BE(afterName + 8);
  const start = afterName + 10;
  need(buf, start, rdlength, `RDATA of record ${showValue(name)}`);
  const end = start + rdlength;
  const rdata = buf.subarray(start, end);
  const exact = (n: number, what: string) => {
    if (rdlength !== n) throw malformed(`${what} record ${showValue(name)} has RDLENGTH ${rdlength}, expected ${n}`, afterName + 8);
  };
  const nameIn = (at: number): { name: string; next: number } => {
    const r = readName(buf, at);
    if (r.next > end) throw malformed(`name in RDATA of record ${showValue(name)} runs past RDLENGTH ${rdlength}`, at);
    return r;
  };
  const endsAt = (pos: number) => {
    if (pos !== end) throw malformed(`RDATA of record ${showValue(name)} has ${end - pos} bytes beyond its fields`, pos);
  };
  let record: DnsRecord;
  switch (code) {
    case RR_TYPE.A:
      exact(4, 'A');
      record = { ...head, type: 'A', address: [...rdata].join('.') };
      break;
    case RR_TYPE.AAAA:
      exact(16, 'AAAA');
      record = { ...head, type: 'AAAA', address: ipv6Text(rdata) };
      break;
    case RR_TYPE.CNAME:
    case RR_TYPE.NS: {
      const t = nameIn(start);
      endsAt(t.next);
      record = { ...head, type: code === RR_TYPE.NS ? 'NS' : 'CNAME', target: t.name };
      break;
    }
    case RR_TYPE.SOA: {
      const m = nameIn(start);
      const r = nameIn(m.next);
      if (r.next + 20 > end) throw malformed(`SOA record ${showValue(name)} is shorter than its fields`, r.next);
      endsAt(r.next + 20);
      const n = (i: number) => buf.readUInt32BE(r.next + 4 * i);
      record = { ...head, type: 'SOA', mname: m.name, rname: r.name, serial: n(0), refresh: n(1), retry: n(2), expire: n(3), minimum: n(4) };
      break;
    }
    case RR_TYPE.TXT: {
      const texts: string[] = [];
      let p = start;
      while (p < end) {
        const len = buf[p]!;
        if (p + 1 + len > end) throw malformed(`TXT string at offset ${p} runs past RDLENGTH ${rdlength}`, p);
        texts.push(buf.subarray(p + 1, p + 1 + len).toString('utf8'));
        p += 1 + len;
      }
      record = { ...head, type: 'TXT', texts };
      break;
    }
    default:
      record = { ...head, type: 'RAW', code, rdata: Buffer.from(rdata) };
  }
  return { record, next: end };
}

/** Decodes one whole DNS message; throws AmbitError DNS_MALFORMED naming what is wrong. */
export function decodeMessage(buf: Buffer): DnsMessage {
  if (buf.length < HEADER_LENGTH) throw malformed(`header needs 12 bytes, got ${buf.length} (truncated header)`, 0);
  const flags = buf.readUInt16BE(2);
  const counts = [4, 6, 8, 10].map((o) => buf.readUInt16BE(o)) as [number, number, number, number];
  let pos = HEADER_LENGTH;
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < counts[0]; i++) {
    const { name, next } = readName(buf, pos);
    need(buf, next, 4, `question ${showValue(name)}`);
    questions.push({ name, type: buf.readUInt16BE(next), class: buf.readUInt16BE(next + 2) });
    pos = next + 4;
  }
  const sections: DnsRecord[][] = [[], [], []];
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]!; i++) {
      const { record, next } = decodeRecord(buf, pos);
      sections[s]!.push(record);
      pos = next;
    }
  }
  if (pos !== buf.length) throw malformed(`${buf.length - pos} trailing bytes after the last record`, pos);
  return {
    id: buf.readUInt16BE(0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    z: (flags >> 4) & 0x7,
    rcode: flags & 0xf,
    questions,
    answers: sections[0]!,
    authorities: sections[1]!,
    additionals: sections[2]!,
  };
}

function invalidRecord(r: DnsRecord, why: string, value: unknown): AmbitError {
  return new AmbitError('DNS_INVALID_RECORD', `Cannot encode ${r.type} record ${showValue(r.name)}: ${why}`, { value });
}

function encodeRdata(r: DnsRecord, names: NameWriter, at: number): Buffer {
  switch (r.type) {
    case 'A':
      if (!isIPv4(r.address)) throw invalidRecord(r, `address ${showValue(r.address)} is not an IPv4 address`, r.address);
      return Buffer.from(r.address.split('.').map(Number));
    case 'AAAA': {
      if (!isIPv6(r.address)) throw invalidRecord(r, `address ${showValue(r.address)} is not an IPv6 address`, r.address);
      return ipv6Bytes(r.address);
    }
    case 'CNAME':
    case 'NS':
      return names.write(r.target, at);
    case 'SOA': {
      const m = names.write(r.mname, at);
      const rn = names.write(r.rname, at + m.length);
      const nums = Buffer.alloc(20);
      [r.serial, r.refresh, r.retry, r.expire, r.minimum].forEach((n, i) => nums.writeUInt32BE(n >>> 0, 4 * i));
      return Buffer.concat([m, rn, nums]);
    }
    case 'TXT':
      return Buffer.concat(
        r.texts.map((t) => {
          const b = Buffer.from(t, 'utf8');
          if (b.length > 255) throw invalidRecord(r, `text string is ${b.length} bytes (max 255)`, t);
          return Buffer.concat([Buffer.from([b.length]), b]);
        }),
      );
    case 'RAW':
      return r.rdata;
  }
}

/** Hex groups of an IPv6 text (already validated by isIPv6); a dotted IPv4 tail is two groups. */
function ipv6Groups(part: string): number[] {
  if (part === '') return [];
  return part.split(':').flatMap((g) => {
    if (!g.includes('.')) return [parseInt(g, 16)];
    const o = g.split('.').map(Number) as [number, number, number, number];
    return [(o[0] << 8) | o[1], (o[2] << 8) | o[3]];
  });
}

function ipv6Bytes(text: string): Buffer {
  const gap = text.indexOf('::');
  const head = ipv6Groups(gap < 0 ? text : text.slice(0, gap));
  const tail = gap < 0 ? [] : ipv6Groups(text.slice(gap + 2));
  const zeros = new Array<number>(8 - head.length - tail.length).fill(0);
  const out = Buffer.alloc(16);
  [...head, ...zeros, ...tail].forEach((g, i) => out.writeUInt16BE(g, 2 * i));
  return out;
}

/** Encodes a message; `compress` (default true) reuses name suffixes via pointers. */
export function encodeMessage(msg: DnsMessage, opts: { compress?: boolean } = {}): Buffer {
  const names = new NameWriter(opts.compress ?? true);
  const header = Buffer.alloc(HEADER_LENGTH);
  header.writeUInt16BE(msg.id & 0xffff, 0);
  const flags =
    (msg.qr ? 0x8000 : 0) | ((msg.opcode & 0xf) << 11) | (msg.aa ? 0x0400 : 0) | (msg.tc ? 0x0200 : 0) |
    (msg.rd ? 0x0100 : 0) | (msg.ra ? 0x0080 : 0) | ((msg.z & 0x7) << 4) | (msg.rcode & 0xf);
  header.writeUInt16BE(flags, 2);
  const sections = [msg.questions, msg.answers, msg.authorities, msg.additionals];
  sections.forEach((s, i) => {
    if (s.length > 0xffff) throw new AmbitError('DNS_INVALID_RECORD', `Cannot encode DNS message: section ${i} has ${s.length} entries (max 65535)`);
    header.writeUInt16BE(s.length, 4 + 2 * i);
  });
  const parts: Buffer[] = [header];
  let at = HEADER_LENGTH;
  const push = (b: Buffer) => { parts.push(b); at += b.length; };
  for (const q of msg.questions) {
    push(names.write(q.name, at));
    const tail = Buffer.alloc(4);
    tail.writeUInt16BE(q.type, 0);
    tail.writeUInt16BE(q.class, 2);
    push(tail);
  }
  for (const r of [...msg.answers, ...msg.authorities, ...msg.additionals]) {
    push(names.write(r.name, at));
    const fixed = Buffer.alloc(10);
    const rdata = encodeRdata(r, names, at + 10);
    if (rdata.length > 0xffff) throw invalidRecord(r, `RDATA is ${rdata.length} bytes (max 65535)`, rdata.length);
    fixed.writeUInt16BE(recordTypeCode(r), 0);
    fixed.writeUInt16BE(r.class, 2);
    fixed.writeUInt32BE(r.ttl >>> 0, 4);
    fixed.writeUInt16BE(rdata.length, 8);
    push(fixed);
    push(rdata);
  }
  return Buffer.concat(parts);
}
