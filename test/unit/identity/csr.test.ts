import 'reflect-metadata';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { createCsr, parseCsr, workloadId } from '../../../src/identity/index.js';
import { OpensslDir } from './openssl.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);
const ossl = new OpensslDir('csr');
after(() => ossl.remove());
const id = workloadId('cluster.local', 'shop', 'cart');

describe('createCsr', () => {
  const made = createCsr(id);

  test('makes an in-memory P-256 key', () => {
    assert.equal(made.privateKey.type, 'private');
    assert.equal(made.privateKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  });

  test('openssl verifies the CSR and reads an empty subject and one URI SAN', () => {
    const file = ossl.write('made.csr', made.csrPem);
    const text = ossl.run(['req', '-in', file, '-verify', '-noout', '-text']);
    assert.match(text, /Subject: *\n/);
    assert.match(text, /X509v3 Subject Alternative Name: critical\s+URI:spiffe:\/\/cluster\.local\/ns\/shop\/sa\/cart\s*\n/);
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
  });

  test('@peculiar/x509 parses it independently and its signature verifies', async () => {
    const req = new x509.Pkcs10CertificateRequest(made.csrPem);
    assert.equal(req.subject, '');
    assert.equal(await req.verify(), true);
    const ext = req.getExtension('2.5.29.17');
    assert.ok(ext);
    const san = new x509.SubjectAlternativeNameExtension(ext.rawData);
    assert.equal(san.critical, true);
    assert.deepEqual(san.names.toJSON(), [{ type: 'url', value: id.uri }]);
  });

  test('parseCsr reads back what createCsr wrote', () => {
    const p = parseCsr(made.csrDer);
    assert.equal(p.subjectRdnCount, 0);
    assert.equal(p.commonName, undefined);
    assert.deepEqual(p.subjectAltNames, [{ type: 'uri', value: id.uri }]);
    assert.equal(p.keyAlgorithm, 'ec');
    assert.equal(p.namedCurve, 'P-256');
    assert.equal(p.signatureAlgorithm, 'ecdsa-with-SHA256');
    assert.equal(p.signatureValid, true);
    assert.deepEqual(parseCsr(made.csrPem).spkiDer, p.spkiDer);
  });

  test('reuses a given key, refuses a non-P-256 key', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    assert.equal(createCsr(id, privateKey).privateKey, privateKey);
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    assert.throws(() => createCsr(id, p384), { code: 'CSR_KEY_UNSUPPORTED', message: 'Cannot create CSR: key must be an ECDSA P-256 private key' });
  });
});

describe('parseCsr on CSRs made by openssl', () => {
  const p256 = ossl.path('p256.key');
  ossl.key('p256.key');

  test('reads subject CN and every SAN type', () => {
    const pem = ossl.csr({ key: p256, subject: '/O=evil/CN=admin', san: `URI:${id.uri},DNS:db.internal,IP:10.1.2.3,email:a@b.c,IP:::1` });
    const p = parseCsr(pem);
    assert.equal(p.subjectRdnCount, 2);
    assert.equal(p.commonName, 'admin');
    assert.deepEqual(p.subjectAltNames, [
      { type: 'uri', value: id.uri }, { type: 'dns', value: 'db.internal' }, { type: 'ip', value: '10.1.2.3' },
      { type: 'email', value: 'a@b.c' }, { type: 'ip', value: '0:0:0:0:0:0:0:1' },
    ]);
    assert.equal(p.signatureValid, true);
  });

  test('accepts a SHA-384 signature over P-256', () => {
    const p = parseCsr(ossl.csr({ key: p256, san: `URI:${id.uri}`, digest: 'sha384' }));
    assert.equal(p.signatureAlgorithm, 'ecdsa-with-SHA384');
    assert.equal(p.signatureValid, true);
  });

  test('reports P-384 and RSA keys without verifying them', () => {
    ossl.key('p384.key', 'p384');
    const p = parseCsr(ossl.csr({ key: ossl.path('p384.key'), san: `URI:${id.uri}` }));
    assert.deepEqual([p.keyAlgorithm, p.namedCurve, p.signatureValid], ['ec', 'P-384', false]);
    ossl.key('rsa.key', 'rsa');
    const r = parseCsr(ossl.csr({ key: ossl.path('rsa.key'), san: `URI:${id.uri}` }));
    assert.deepEqual([r.keyAlgorithm, r.signatureAlgorithm, r.signatureValid], ['rsa', '1.2.840.113549.1.1.11', false]);
  });

  test('a flipped signature byte makes signatureValid false', () => {
    const der = Buffer.from(createCsr(id).csrDer);
    der[der.length - 5]! ^= 0x01;
    assert.equal(parseCsr(der).signatureValid, false);
  });
});

describe('parseCsr rejects malformed input with CSR_MALFORMED', () => {
  const good = createCsr(id).csrDer;
  const cases: [string, Buffer | string, string][] = [
    ['empty buffer', Buffer.alloc(0), 'Cannot parse CSR: Cannot read DER: element header runs past the end at offset 0'],
    ['truncated', good.subarray(0, good.length - 3), `Cannot parse CSR: Cannot read DER: length ${good.length - (good[1] === 0x82 ? 4 : 3)} runs past the end of its container at offset 0`],
    ['trailing garbage', Buffer.concat([good, Buffer.from([0])]), `Cannot parse CSR: Cannot read DER: 1 trailing bytes at offset ${good.length}`],
    ['not a SEQUENCE', Buffer.from('020100', 'hex'), 'Cannot parse CSR: Cannot read DER: CertificationRequest has tag 0x02, expected 0x30 at offset 0'],
    ['empty SEQUENCE', Buffer.from('3000', 'hex'), 'Cannot parse CSR: Cannot read DER: CertificationRequest has 0 elements, expected 3'],
    ['PEM without a block', 'hello', 'Cannot parse CSR: Cannot decode PEM CERTIFICATE REQUEST: expected exactly one block, found 0'],
  ];
  for (const [name, input, message] of cases) {
    test(name, () => assert.throws(() => parseCsr(input), { code: 'CSR_MALFORMED', message }));
  }
});
