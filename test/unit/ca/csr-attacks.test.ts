// Attacker CSRs: each must be refused with its own code and a message that names what was asked.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CertificateAuthority } from '../../../src/ca/index.js';
import { createCsr, workloadId, type SpiffeId } from '../../../src/identity/index.js';
import { OpensslDir } from '../identity/openssl.js';

const ossl = new OpensslDir('attack');
after(() => ossl.remove());
const ca = CertificateAuthority.generate({ trustDomain: 'cluster.local' });
const id = workloadId('cluster.local', 'shop', 'cart');
const admin = workloadId('cluster.local', 'kube-system', 'admin');
const key = ossl.path('p256.key');
ossl.key('p256.key');
ossl.key('p384.key', 'p384');
ossl.key('rsa.key', 'rsa');

function flipLastByte(der: Buffer): Buffer {
  const b = Buffer.from(der);
  b[b.length - 1]! ^= 0x01;
  return b;
}
function replaceText(der: Buffer, from: string, to: string): Buffer {
  const at = der.indexOf(from);
  assert.ok(at > 0);
  const b = Buffer.from(der);
  b.write(to, at, 'latin1');
  return b;
}

const cases: { name: string; csr: () => Buffer | string; spiffeId?: SpiffeId; code: string; message: string }[] = [
  {
    name: 'several SANs (URI + DNS)',
    csr: () => ossl.csr({ key, san: `URI:${id.uri},DNS:evil.example` }),
    code: 'CSR_SAN_COUNT',
    message: `Cannot sign CSR: exactly one SAN is required, found several (2): uri:"${id.uri}", dns:"evil.example"`,
  },
  {
    name: 'two URI SANs (own identity + admin)',
    csr: () => ossl.csr({ key, san: `URI:${id.uri},URI:${admin.uri}` }),
    code: 'CSR_SAN_COUNT',
    message: `Cannot sign CSR: exactly one SAN is required, found several (2): uri:"${id.uri}", uri:"${admin.uri}"`,
  },
  { name: 'no SAN', csr: () => ossl.csr({ key }), code: 'CSR_SAN_COUNT', message: 'Cannot sign CSR: exactly one SAN is required, found none' },
  {
    name: 'a CN in the subject',
    csr: () => ossl.csr({ key, subject: '/CN=admin', san: `URI:${id.uri}` }),
    code: 'CSR_HAS_SUBJECT',
    message: 'Cannot sign CSR: subject must be empty, found 1 RDN(s) (CN "admin")',
  },
  {
    name: 'a non-CN subject',
    csr: () => ossl.csr({ key, subject: '/O=system:masters', san: `URI:${id.uri}` }),
    code: 'CSR_HAS_SUBJECT',
    message: 'Cannot sign CSR: subject must be empty, found 1 RDN(s)',
  },
  {
    name: 'SAN for another identity than requested',
    csr: () => createCsr(admin).csrDer,
    code: 'CSR_SAN_MISMATCH',
    message: `Cannot sign CSR: SAN uri:"${admin.uri}" does not match the requested identity "${id.uri}"`,
  },
  {
    name: 'a DNS SAN instead of the URI',
    csr: () => ossl.csr({ key, san: 'DNS:cart.shop.svc' }),
    code: 'CSR_SAN_MISMATCH',
    message: `Cannot sign CSR: SAN dns:"cart.shop.svc" does not match the requested identity "${id.uri}"`,
  },
  {
    name: 'tampered signature (last byte flipped)',
    csr: () => flipLastByte(createCsr(id).csrDer),
    code: 'CSR_BAD_SIGNATURE',
    message: 'Cannot sign CSR: its signature does not verify with its own public key',
  },
  {
    name: 'SAN edited after signing',
    csr: () => replaceText(createCsr(workloadId('cluster.local', 'shop', 'carx')).csrDer, 'carx', 'cart'),
    code: 'CSR_BAD_SIGNATURE',
    message: 'Cannot sign CSR: its signature does not verify with its own public key',
  },
  {
    name: 'RSA key',
    csr: () => ossl.csr({ key: ossl.path('rsa.key'), san: `URI:${id.uri}` }),
    code: 'CSR_KEY_UNSUPPORTED',
    message: 'Cannot sign CSR: key "rsa" is not supported, only ECDSA P-256',
  },
  {
    name: 'P-384 key',
    csr: () => ossl.csr({ key: ossl.path('p384.key'), san: `URI:${id.uri}` }),
    code: 'CSR_KEY_UNSUPPORTED',
    message: 'Cannot sign CSR: key "EC P-384" is not supported, only ECDSA P-256',
  },
  {
    name: 'ecdsa-with-SHA512 signature',
    csr: () => ossl.csr({ key, san: `URI:${id.uri}`, digest: 'sha512' }),
    code: 'CSR_KEY_UNSUPPORTED',
    message: 'Cannot sign CSR: signature algorithm "1.2.840.10045.4.3.4" is not supported, only ecdsa-with-SHA256 or ecdsa-with-SHA384',
  },
  {
    name: 'identity in a foreign trust domain',
    csr: () => createCsr(workloadId('evil.org', 'shop', 'cart')).csrDer,
    spiffeId: workloadId('evil.org', 'shop', 'cart'),
    code: 'CSR_TRUST_DOMAIN',
    message: 'Cannot sign CSR for "spiffe://evil.org/ns/shop/sa/cart": trust domain "evil.org" is not this CA\'s trust domain "cluster.local"',
  },
  {
    name: 'garbage bytes',
    csr: () => Buffer.from('not a csr at all'),
    code: 'CSR_MALFORMED',
    message: 'Cannot parse CSR: Cannot read DER: length 111 runs past the end of its container at offset 0',
  },
];

describe('signCsr refuses attacker CSRs', () => {
  for (const c of cases) {
    test(c.name, () => {
      assert.throws(() => ca.signCsr(c.csr(), { spiffeId: c.spiffeId ?? id, ttlSeconds: 3600, issuedTo: null }), { code: c.code, message: c.message });
    });
  }
  test('the honest CSR from the same openssl setup is signed (the table is not vacuous)', () => {
    const out = ca.signCsr(ossl.csr({ key, san: `URI:${id.uri}` }), { spiffeId: id, ttlSeconds: 3600, issuedTo: null });
    assert.match(out.certPem, /^-----BEGIN CERTIFICATE-----/);
    const sha384 = ca.signCsr(ossl.csr({ key, san: `URI:${id.uri}`, digest: 'sha384' }), { spiffeId: id, ttlSeconds: 3600, issuedTo: null });
    assert.ok(sha384.certDer.length > 0);
  });
});
