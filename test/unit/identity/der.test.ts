import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { der, derRead } from '../../../src/identity/index.js';

const hex = (b: Buffer): string => b.toString('hex');

describe('DER writer', () => {
  const vectors: [string, Buffer, string][] = [
    ['empty SEQUENCE', der.sequence(), '3000'],
    ['INTEGER 0', der.integer(0), '020100'],
    ['INTEGER 127', der.integer(127), '02017f'],
    ['INTEGER 128 gets a leading zero', der.integer(128), '02020080'],
    ['INTEGER 256', der.integer(256), '02020100'],
    ['INTEGER from bytes strips leading zeros', der.integer(Buffer.from('0000ff', 'hex')), '020200ff'],
    ['OID ecPublicKey', der.objectId('1.2.840.10045.2.1'), '06072a8648ce3d0201'],
    ['OID subjectAltName', der.objectId('2.5.29.17'), '0603551d11'],
    ['BOOLEAN true', der.boolean(true), '0101ff'],
    ['NULL', der.nullValue(), '0500'],
    ['BIT STRING', der.bitString(Buffer.from([0xa0]), 5), '030205a0'],
    ['OCTET STRING', der.octetString(Buffer.from('ab', 'hex')), '0401ab'],
    ['UTF8String', der.utf8String('é'), '0c02c3a9'],
    ['PrintableString', der.printableString('ab c'), '130461622063'],
    ['UTCTime', der.utcTime(new Date(Date.UTC(2025, 0, 2, 3, 4, 5))), '170d3235303130323033303430355a'],
    ['x509Time picks GeneralizedTime from 2050', der.x509Time(new Date(Date.UTC(2050, 0, 1))), '180f32303530303130313030303030305a'],
    ['[0] EXPLICIT', der.explicit(0, der.integer(2)), 'a003020102'],
    ['[6] IMPLICIT primitive', der.implicit(6, Buffer.from('a')), '860161'],
    ['SET OF sorts by encoding', der.set(der.integer(2), der.integer(1)), '3106020101020102'],
    ['long length form', der.octetString(Buffer.alloc(200)), `0481c8${'00'.repeat(200)}`],
    ['two-octet length', der.octetString(Buffer.alloc(300)).subarray(0, 4), '0482012c'],
  ];
  for (const [name, got, want] of vectors) test(name, () => assert.equal(hex(got), want));

  test('rejects bad input with DER_INVALID', () => {
    assert.throws(() => der.objectId('1.x.3'), { code: 'DER_INVALID', message: 'Cannot encode OBJECT IDENTIFIER: "1.x.3" is not a dotted OID' });
    assert.throws(() => der.integer(-1), { code: 'DER_INVALID', message: 'Cannot encode INTEGER: negative value -1 is not supported' });
    assert.throws(() => der.printableString('a@b'), { code: 'DER_INVALID', message: 'Cannot encode PrintableString: "a@b" has characters outside the PrintableString set' });
  });
});

describe('DER reader', () => {
  test('round-trips what the writer makes', () => {
    const t = new Date(Date.UTC(2031, 5, 7, 8, 9, 10));
    const buf = der.sequence(der.integer(300), der.objectId('1.2.840.10045.4.3.2'), der.boolean(true), der.utcTime(t), der.generalizedTime(t), der.utf8String('hi'));
    const [i, o, b, u, g, s] = derRead.children(derRead.readOne(buf));
    assert.equal(derRead.readSmallInteger(i!), 300);
    assert.equal(derRead.readObjectId(o!), '1.2.840.10045.4.3.2');
    assert.equal(derRead.readBoolean(b!), true);
    assert.equal(derRead.readTime(u!).getTime(), t.getTime());
    assert.equal(derRead.readTime(g!).getTime(), t.getTime());
    assert.equal(derRead.readString(s!), 'hi');
  });
  test('decodes large OID arcs', () => {
    assert.equal(derRead.readObjectId(derRead.readOne(der.objectId('2.999.1234567'))), '2.999.1234567');
  });

  const rejects: [string, string, string][] = [
    ['indefinite length', '3080', 'Cannot read DER: indefinite length is not allowed at offset 0'],
    ['length past the end', '300500', 'Cannot read DER: length 5 runs past the end of its container at offset 0'],
    ['trailing bytes', '300000', 'Cannot read DER: 1 trailing bytes at offset 2'],
    ['non-minimal length', '30810100', 'Cannot read DER: length is not minimally encoded at offset 0'],
    ['truncated header', '30', 'Cannot read DER: element header runs past the end at offset 0'],
    ['length octets past the end', '3082', 'Cannot read DER: length octets run past the end at offset 0'],
    ['huge length', '3085ffffffffff', 'Cannot read DER: length of 5 octets is too large at offset 0'],
    ['high tag number', '1f0100', 'Cannot read DER: high tag numbers are not supported at offset 0'],
    ['child overruns its parent', '3003020500', 'Cannot read DER: length 5 runs past the end of its container at offset 2'],
  ];
  for (const [name, input, message] of rejects) {
    test(`rejects ${name}`, () => {
      assert.throws(() => {
        const n = derRead.readOne(Buffer.from(input, 'hex'));
        derRead.children(n);
      }, { code: 'DER_INVALID', message });
    });
  }
  test('rejects non-minimal and negative INTEGERs, bad BOOLEAN, wrong tag', () => {
    const read = (h: string) => derRead.readOne(Buffer.from(h, 'hex'));
    assert.throws(() => derRead.readUnsignedInteger(read('02020001')), { message: 'Cannot read DER: INTEGER is not minimally encoded at offset 0' });
    assert.throws(() => derRead.readUnsignedInteger(read('020180')), { message: 'Cannot read DER: negative INTEGER at offset 0' });
    assert.throws(() => derRead.readBoolean(read('010101')), { message: 'Cannot read DER: BOOLEAN must be one octet 0x00 or 0xff at offset 0' });
    assert.throws(() => derRead.readObjectId(read('020100')), { message: 'Cannot read DER: OBJECT IDENTIFIER has tag 0x02, expected 0x06 at offset 0' });
    assert.throws(() => derRead.readTime(read('170131')), { message: 'Cannot read DER: malformed time at offset 0' });
  });
});

describe('OBJECT IDENTIFIER: arcs of any size up to the shared limit', () => {
  const read = (h: string): string => derRead.readObjectId(derRead.readOne(Buffer.from(h, 'hex')));
  test('round trips, including 2.x with a large second arc and X.667 UUID arcs', () => {
    for (const oid of ['1.2.840.10045.4.3.2', '2.5.29.17', '2.999.3', '0.0', '2.25.207596835703991948075330188287101006360', `2.25.${((1n << 160n) + 1n).toString()}`]) {
      assert.equal(derRead.readObjectId(derRead.readOne(der.objectId(oid))), oid, oid);
    }
    assert.equal(hex(der.objectId('2.999.3')), '0603883703', 'first subidentifier 999 + 80 = 1079, two octets');
  });
  test('the reader refuses non-minimal arcs (first or later), a truncated last arc, and arcs past the limit', () => {
    assert.throws(() => read('0602802a'), { message: 'Cannot read DER: non-minimal OBJECT IDENTIFIER arc at offset 0' });
    assert.throws(() => read('06032a8001'), { message: 'Cannot read DER: non-minimal OBJECT IDENTIFIER arc at offset 0' });
    assert.throws(() => read('06022a86'), { message: 'Cannot read DER: truncated OBJECT IDENTIFIER at offset 0' });
    assert.throws(() => read('0600'), { message: 'Cannot read DER: empty OBJECT IDENTIFIER at offset 0' });
    assert.throws(() => read(`0619${'ff'.repeat(24)}01`), { message: 'Cannot read DER: OBJECT IDENTIFIER arc too large at offset 0' });
    assert.throws(() => read(`0681${(129).toString(16)}${'01'.repeat(129)}`), { message: 'Cannot read DER: OBJECT IDENTIFIER longer than 128 octets at offset 0' });
  });
  test('the writer refuses what the reader would: leading zeros, a second arc over 39 under 0 or 1, arcs past the limit', () => {
    for (const bad of ['1.02', '1.40', '3.1', '1', '1.2.', `2.25.${(1n << 161n).toString()}`, `2.${(1n << 161n).toString()}`]) {
      assert.throws(() => der.objectId(bad), { code: 'DER_INVALID' }, bad);
    }
    assert.throws(() => der.objectId(`1.2.${Array(130).fill('1').join('.')}`), { code: 'DER_INVALID', message: /takes 131 octets, over 128/ });
  });
});
