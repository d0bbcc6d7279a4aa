import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type DnsMessage, RR_TYPE, decodeMessage, encodeMessage, newQuery } from '../../../src/dns/index.js';
import { AmbitError, showValue } from '../../../src/errors.js';

function header(qd: number, an = 0, id = 0x1234, flags = 0x0100): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(flags, 2);
  h.writeUInt16BE(qd, 4);
  h.writeUInt16BE(an, 6);
  return h;
}

const fullResponse: DnsMessage = {
  id: 0xbeef, qr: true, opcode: 0, aa: true, tc: false, rd: true, ra: true, z: 0, rcode: 0,
  questions: [{ name: 'alias.example.com', type: RR_TYPE.A, class: 1 }],
  answers: [
    { name: 'alias.example.com', type: 'CNAME', class: 1, ttl: 60, target: 'api.example.com' },
    { name: 'api.example.com', type: 'A', class: 1, ttl: 60, address: '203.0.113.10' },
    { name: 'api.example.com', type: 'AAAA', class: 1, ttl: 60, address: '2001:db8::10' },
    { name: 'api.example.com', type: 'AAAA', class: 1, ttl: 60, address: '2001:db8:1:2:3:4:5:6' },
    { name: 'api.example.com', type: 'TXT', class: 1, ttl: 30, texts: ['v=1', 'héllo', ''] },
  ],
  authorities: [
    { name: 'example.com', type: 'NS', class: 1, ttl: 3600, target: 'ns1.example.com' },
    { name: 'example.com', type: 'SOA', class: 1, ttl: 3600, mname: 'ns1.example.com', rname: 'hostmaster.example.com', serial: 4294967295, refresh: 7200, retry: 1800, expire: 86400, minimum: 60 },
  ],
  additionals: [
    { name: 'example.com', type: 'RAW', code: RR_TYPE.MX, class: 1, ttl: 5, rdata: Buffer.from([0, 10, 0]) },
    { name: '', type: 'RAW', code: RR_TYPE.OPT, class: 1232, ttl: 0, rdata: Buffer.alloc(0) },
  ],
};

describe('dns codec: round trips', () => {
  const cases: [string, DnsMessage][] = [
    ['a plain A query', newQuery(7, 'api.example.com', RR_TYPE.A)],
    ['a root-name NS query', newQuery(8, '', RR_TYPE.NS)],
    ['a response with every decoded type', fullResponse],
    ['every flag set', { ...newQuery(0xffff, 'x.y', RR_TYPE.ANY), qr: true, opcode: 2, aa: true, tc: true, ra: true, z: 7, rcode: 5 }],
    ['an escaped dot inside a label', newQuery(9, 'a\\046b.example.com', RR_TYPE.TXT)],
    ['a name with a non-printable byte', newQuery(10, 'a\\000b.example', RR_TYPE.A)],
  ];
  for (const [name, msg] of cases) {
    test(name, () => {
      for (const compress of [true, false]) {
        assert.deepEqual(decodeMessage(encodeMessage(msg, { compress })), msg);
      }
    });
  }

  test('compression shortens repeated names and decodes to the same names', () => {
    const packed = encodeMessage(fullResponse);
    const plain = encodeMessage(fullResponse, { compress: false });
    assert.ok(packed.length < plain.length - 40, `${packed.length} vs ${plain.length}`);
    assert.ok(packed.includes(Buffer.from([0xc0])));
  });

  test('compression matches names case-insensitively; the first spelling wins (0x20-safe question)', () => {
    const msg = { ...newQuery(1, 'API.Example.COM', RR_TYPE.A), answers: [{ name: 'api.example.com', type: 'A' as const, class: 1, ttl: 1, address: '10.0.0.1' }] };
    assert.deepEqual(decodeMessage(encodeMessage(msg, { compress: false })), msg);
    const packed = decodeMessage(encodeMessage(msg));
    assert.equal(packed.questions[0]!.name, 'API.Example.COM');
    assert.equal(packed.answers[0]!.name, 'API.Example.COM');
  });
});

describe('dns codec: malformed input', () => {
  const label = (s: string) => Buffer.concat([Buffer.from([s.length]), Buffer.from(s)]);
  const qtail = Buffer.from([0, 1, 0, 1]);
  const answerOf = (type: number, rdata: Buffer, rdlength = rdata.length) => {
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(type, 0);
    fixed.writeUInt16BE(1, 2);
    fixed.writeUInt16BE(rdlength, 8);
    return Buffer.concat([header(0, 1), label('a'), Buffer.from([0]), fixed, rdata]);
  };
  const cases: [string, Buffer, string][] = [
    ['truncated header', Buffer.from([1, 2, 3, 4, 5]), 'header needs 12 bytes, got 5 (truncated header)'],
    ['label > 63', Buffer.concat([header(1), Buffer.from([64]), Buffer.alloc(64, 0x61), Buffer.from([0]), qtail]), 'label length 64 at offset 12 exceeds 63 (reserved label type)'],
    ['name > 255', Buffer.concat([header(1), ...Array.from({ length: 5 }, () => label('x'.repeat(63))), Buffer.from([0]), qtail]), 'name at offset 12 is longer than 255 bytes'],
    ['pointer to itself', Buffer.concat([header(1), Buffer.from([0xc0, 12]), qtail]), 'compression pointer at offset 12 points to offset 12, not before the name it continues (pointer loop)'],
    ['two-step pointer loop', Buffer.concat([header(1), label('a'), Buffer.from([0xc0, 12]), qtail]), 'compression pointer at offset 14 points to offset 12, not before the name it continues (pointer loop)'],
    ['forward pointer', Buffer.concat([header(1), Buffer.from([0xc0, 20]), qtail, Buffer.from([1, 0x61, 0])]), 'compression pointer at offset 12 points to offset 20, not before the name it continues (pointer loop)'],
    ['pointer cut off', Buffer.concat([header(1), Buffer.from([0xc0])]), 'compression pointer at offset 12 is cut off by the end of the message'],
    ['label past the end', Buffer.concat([header(1), Buffer.from([3, 0x61, 0x62])]), 'label at offset 12 runs past the end of the message (15 bytes)'],
    ['name without terminator', Buffer.concat([header(1), label('a')]), 'name at offset 12 runs past the end of the message (14 bytes)'],
    ['question without type/class', Buffer.concat([header(1), label('a'), Buffer.from([0, 0, 1])]), 'question "a" at offset 15 needs 4 bytes but the message ends at 17'],
    ['more questions than bytes', Buffer.concat([header(2), label('a'), Buffer.from([0]), qtail]), 'name at offset 19 runs past the end of the message (19 bytes)'],
    ['A with RDLENGTH 5', answerOf(1, Buffer.from([1, 2, 3, 4, 5])), 'A record "a" has RDLENGTH 5, expected 4'],
    ['AAAA with RDLENGTH 4', answerOf(28, Buffer.from([1, 2, 3, 4])), 'AAAA record "a" has RDLENGTH 4, expected 16'],
    ['RDATA past the end', answerOf(1, Buffer.from([1, 2]), 4), 'RDATA of record "a" at offset 25 needs 4 bytes but the message ends at 27'],
    ['CNAME name beyond RDLENGTH', answerOf(5, Buffer.concat([label('b'), Buffer.from([0])]), 2), 'name in RDATA of record "a" runs past RDLENGTH 2'],
    ['CNAME with extra bytes', answerOf(5, Buffer.concat([label('b'), Buffer.from([0, 9])])), 'RDATA of record "a" has 1 bytes beyond its fields'],
    ['TXT string beyond RDLENGTH', answerOf(16, Buffer.from([5, 0x61])), 'TXT string at offset 25 runs past RDLENGTH 2'],
    ['SOA too short', answerOf(6, Buffer.from([0, 0, 1, 2, 3])), 'SOA record "a" is shorter than its fields'],
    ['trailing bytes', Buffer.concat([header(1), label('a'), Buffer.from([0]), qtail, Buffer.from([9, 9])]), '2 trailing bytes after the last record'],
  ];
  for (const [name, wire, why] of cases) {
    test(name, () => {
      assert.throws(() => decodeMessage(wire), (err: unknown) => {
        assert.ok(err instanceof AmbitError);
        assert.equal(err.code, 'DNS_MALFORMED');
        assert.equal(err.message, `Cannot decode DNS message: ${why}`);
        return true;
      });
    });
  }

  test('random bytes only ever fail with DNS_MALFORMED', () => {
    for (let i = 0; i < 3000; i++) {
      const wire = Buffer.concat([header(1 + (i % 3), i % 2), randomBytes(i % 60)]);
      try {
        decodeMessage(wire);
      } catch (err) {
        assert.ok(err instanceof AmbitError && err.code === 'DNS_MALFORMED', String(err));
      }
    }
  });
});

describe('dns codec: unencodable messages', () => {
  const longName = `${Array.from({ length: 4 }, () => 'b'.repeat(63)).join('.')}.cc`;
  const cases: [string, DnsMessage, string, string][] = [
    ['label of 64 bytes', newQuery(1, `${'a'.repeat(64)}.example`, 1), 'DNS_INVALID_NAME', `Cannot encode DNS name "${'a'.repeat(64)}.example": label "${'a'.repeat(64)}" is 64 bytes (max 63)`],
    ['empty label', newQuery(1, 'a..example', 1), 'DNS_INVALID_NAME', 'Cannot encode DNS name "a..example": empty label'],
    ['name of 260 bytes', newQuery(1, longName, 1), 'DNS_INVALID_NAME', `Cannot encode DNS name ${showValue(longName)}: name is 260 bytes on the wire (max 255)`],
    ['bad IPv4', { ...newQuery(1, 'a', 1), answers: [{ name: 'a', type: 'A', class: 1, ttl: 1, address: '300.1.1.1' }] }, 'DNS_INVALID_RECORD', 'Cannot encode A record "a": address "300.1.1.1" is not an IPv4 address'],
    ['long TXT string', { ...newQuery(1, 'a', 16), answers: [{ name: 'a', type: 'TXT', class: 1, ttl: 1, texts: ['x'.repeat(256)] }] }, 'DNS_INVALID_RECORD', 'Cannot encode TXT record "a": text string is 256 bytes (max 255)'],
  ];
  for (const [name, msg, code, message] of cases) {
    test(name, () => {
      assert.throws(() => encodeMessage(msg), (err: unknown) => {
        assert.ok(err instanceof AmbitError);
        assert.equal(err.code, code);
        assert.equal(err.message, message);
        return true;
      });
    });
  }
});
