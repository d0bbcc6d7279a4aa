import 'reflect-metadata';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { CertificateAuthority, CA_FILES } from '../../../src/ca/index.js';
import { createCsr, issuedToOf, workloadId } from '../../../src/identity/index.js';
import { OpensslDir } from '../identity/openssl.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);
const ossl = new OpensslDir('ca');
after(() => ossl.remove());
const id = workloadId('cluster.local', 'shop', 'cart');

describe('generated root CA', () => {
  const ca = CertificateAuthority.generate({ trustDomain: 'cluster.local' });
  const root = new X509Certificate(ca.rootPem);
  const now = new Date();
  const svid = ca.signCsr(createCsr(id).csrDer, { spiffeId: id, ttlSeconds: 86_400, now, issuedTo: null });

  test('root is a self-signed CA with the trust domain URI SAN', async () => {
    assert.equal(root.ca, true);
    assert.equal(root.subject, 'O=ambit\nCN=ambit mesh root');
    assert.equal(root.subjectAltName, 'URI:spiffe://cluster.local');
    assert.ok(root.verify(root.publicKey));
    const p = new x509.X509Certificate(ca.rootPem);
    const ku = p.getExtension(x509.KeyUsagesExtension);
    assert.equal(ku?.critical, true);
    assert.equal(ku?.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    assert.ok(p.getExtension(x509.SubjectKeyIdentifierExtension));
    assert.equal(ca.trustDomain, 'cluster.local');
    assert.deepEqual(ca.bundle.roots().map((r) => r.fingerprint256), [root.fingerprint256]);
  });

  test('leaf cross-checks with node X509Certificate', () => {
    const leaf = new X509Certificate(svid.certPem);
    assert.ok(leaf.verify(root.publicKey));
    assert.equal(leaf.subjectAltName, `URI:${id.uri}`);
    assert.equal(leaf.subject, undefined, 'empty subject');
    assert.equal(leaf.ca, false);
    assert.equal(leaf.serialNumber.toLowerCase(), svid.serial);
    assert.equal(svid.serial.length, 32);
    assert.ok(parseInt(svid.serial[0]!, 16) >= 8, 'top bit set: fixed 128-bit width');
    assert.equal(Date.parse(leaf.validFrom), Math.floor(now.getTime() / 1000) * 1000 - 60_000);
    assert.equal(Date.parse(leaf.validTo), Math.floor(now.getTime() / 1000) * 1000 + 86_400_000);
    assert.equal(svid.notBefore.getTime(), Date.parse(leaf.validFrom));
    assert.equal(svid.notAfter.getTime(), Date.parse(leaf.validTo));
    assert.deepEqual(svid.chainPem, [svid.certPem]);
    assert.ok(leaf.raw.equals(svid.certDer));
  });

  test('leaf cross-checks with @peculiar/x509: profile, criticality, AKI', async () => {
    const p = new x509.X509Certificate(svid.certPem);
    assert.equal(await p.verify({ publicKey: await new x509.X509Certificate(ca.rootPem).publicKey.export(), signatureOnly: true }), true);
    assert.equal(p.signatureAlgorithm.name, 'ECDSA');
    assert.equal((p.signatureAlgorithm as EcdsaParams).hash && ((p.signatureAlgorithm as EcdsaParams).hash as Algorithm).name, 'SHA-256');
    const bc = p.getExtension(x509.BasicConstraintsExtension);
    assert.deepEqual([bc?.critical, bc?.ca], [true, false]);
    const ku = p.getExtension(x509.KeyUsagesExtension);
    assert.deepEqual([ku?.critical, ku?.usages], [true, x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment]);
    const eku = p.getExtension(x509.ExtendedKeyUsageExtension);
    assert.deepEqual([...(eku?.usages ?? [])], ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    const san = p.getExtension(x509.SubjectAlternativeNameExtension);
    assert.equal(san?.critical, true);
    assert.deepEqual(san?.names.toJSON(), [{ type: 'url', value: id.uri }]);
    const aki = p.getExtension(x509.AuthorityKeyIdentifierExtension);
    const ski = new x509.X509Certificate(ca.rootPem).getExtension(x509.SubjectKeyIdentifierExtension);
    assert.equal(aki?.keyId, ski?.keyId);
    assert.equal(p.extensions.length, 5);
  });

  test('openssl verify accepts the leaf for TLS client and server use', () => {
    const rootFile = ossl.write('gen-root.pem', ca.rootPem);
    const leafFile = ossl.write('gen-leaf.pem', svid.certPem);
    assert.equal(ossl.run(['verify', '-CAfile', rootFile, leafFile]).trim(), `${leafFile}: OK`);
    assert.equal(ossl.run(['verify', '-purpose', 'sslclient', '-CAfile', rootFile, leafFile]).trim(), `${leafFile}: OK`);
    assert.equal(ossl.run(['verify', '-purpose', 'sslserver', '-CAfile', rootFile, leafFile]).trim(), `${leafFile}: OK`);
  });

  test('serials are unique', () => {
    const csr = createCsr(id).csrDer;
    const serials = new Set(Array.from({ length: 200 }, () => ca.signCsr(csr, { spiffeId: id, ttlSeconds: 60, issuedTo: null }).serial));
    assert.equal(serials.size, 200);
  });

  test('notAfter is capped at the CA notAfter', () => {
    const short = CertificateAuthority.generate({ trustDomain: 'cluster.local', validityDays: 1 });
    const out = short.signCsr(createCsr(id).csrPem, { spiffeId: id, ttlSeconds: 3 * 86_400, issuedTo: null });
    assert.equal(out.notAfter.getTime(), short.notAfter.getTime());
    assert.equal(Date.parse(new X509Certificate(out.certPem).validTo), short.notAfter.getTime());
  });

  test('refuses a bad ttl and an expired CA', () => {
    const csr = createCsr(id).csrDer;
    assert.throws(() => ca.signCsr(csr, { spiffeId: id, ttlSeconds: 0, issuedTo: null }), { code: 'SVID_TTL_INVALID', message: 'Cannot sign CSR: ttlSeconds must be a positive integer, got 0' });
    assert.throws(() => ca.signCsr(csr, { spiffeId: id, ttlSeconds: 1.5, issuedTo: null }), { code: 'SVID_TTL_INVALID', message: 'Cannot sign CSR: ttlSeconds must be a positive integer, got 1.5' });
    const later = new Date(ca.notAfter.getTime() + 1000);
    assert.throws(() => ca.signCsr(csr, { spiffeId: id, ttlSeconds: 60, now: later, issuedTo: null }), {
      code: 'CA_EXPIRED', message: `Cannot sign CSR: the CA certificate expired at ${ca.notAfter.toISOString()}`,
    });
  });

  test('issuedTo is required: a request naming no node is refused, null signs without the extension, a node signs with it', () => {
    const csr = createCsr(id).csrDer;
    const noField = { spiffeId: id, ttlSeconds: 60 } as unknown as Parameters<typeof ca.signCsr>[1];
    assert.throws(() => ca.signCsr(csr, noField), {
      code: 'SVID_ISSUED_TO_MISSING',
      message: 'Cannot sign CSR: issuedTo must name the node and credential that asked, or be null for a certificate no node asked for',
    });
    assert.equal(issuedToOf(ca.signCsr(csr, { spiffeId: id, ttlSeconds: 60, issuedTo: null }).certDer), undefined);
    const from = issuedToOf(ca.signCsr(csr, { spiffeId: id, ttlSeconds: 60, issuedTo: { node: 'node-1', credential: 'c-1' } }).certDer);
    assert.equal(from?.node, 'node-1');
    assert.equal(from?.credential, 'c-1');
  });

  test('save and load round-trip; the key file is 0600', async () => {
    const dir = ossl.path('saved');
    await ca.save(dir);
    assert.equal(statSync(`${dir}/${CA_FILES.key}`).mode & 0o777, 0o600);
    assert.equal(ossl.read(`saved/${CA_FILES.root}`), ca.rootPem);
    assert.equal(ossl.read(`saved/${CA_FILES.bundle}`), ca.bundle.pem());
    const loaded = await CertificateAuthority.load(dir);
    assert.equal(loaded.trustDomain, 'cluster.local');
    assert.equal(loaded.rootPem, ca.rootPem);
    const out = loaded.signCsr(createCsr(id).csrDer, { spiffeId: id, ttlSeconds: 600, issuedTo: null });
    assert.ok(new X509Certificate(out.certPem).verify(root.publicKey));
    const again = await CertificateAuthority.loadOrGenerate(dir, { trustDomain: 'other.td' });
    assert.equal(again.rootPem, ca.rootPem);
    const fresh = await CertificateAuthority.loadOrGenerate(ossl.path('fresh'), { trustDomain: 'other.td' });
    assert.equal(fresh.trustDomain, 'other.td');
    assert.equal(ossl.read(`fresh/${CA_FILES.root}`), fresh.rootPem);
  });
});

describe('operator-supplied intermediate', () => {
  const op = ossl.operatorCa('example.org');
  const ca = CertificateAuthority.fromFiles({ certChainPem: op.intermediatePem, keyPem: op.intermediateKeyPem, rootsPem: op.rootPem });
  const wid = workloadId('example.org', 'pay', 'api');
  const svid = ca.signCsr(createCsr(wid).csrDer, { spiffeId: wid, ttlSeconds: 3600, issuedTo: null });

  test('takes the trust domain from the intermediate and chains leaf -> intermediate', () => {
    assert.equal(ca.trustDomain, 'example.org');
    assert.equal(svid.chainPem.length, 2);
    assert.equal(new X509Certificate(svid.chainPem[1]!).fingerprint256, new X509Certificate(op.intermediatePem).fingerprint256);
    assert.equal(new X509Certificate(ca.rootPem).fingerprint256, new X509Certificate(op.rootPem).fingerprint256);
    const leaf = new X509Certificate(svid.certPem);
    assert.ok(leaf.verify(new X509Certificate(op.intermediatePem).publicKey));
    assert.equal(leaf.issuer, 'O=Operator\nCN=Mesh Intermediate');
    assert.equal(ca.bundle.verifyChain(svid.certPem, svid.chainPem.slice(1)).path.length, 2);
  });

  test('openssl verify -CAfile root -untrusted intermediate leaf', () => {
    const leafFile = ossl.write('op-leaf.pem', svid.certPem);
    const out = ossl.run(['verify', '-CAfile', 'op-root.pem', '-untrusted', 'op-int.pem', leafFile]);
    assert.equal(out.trim(), `${leafFile}: OK`);
  });

  test('AKI equals the intermediate SKI (checked by @peculiar/x509)', () => {
    const aki = new x509.X509Certificate(svid.certPem).getExtension(x509.AuthorityKeyIdentifierExtension);
    const ski = new x509.X509Certificate(op.intermediatePem).getExtension(x509.SubjectKeyIdentifierExtension);
    assert.ok(ski?.keyId);
    assert.equal(aki?.keyId, ski?.keyId);
  });

  test('refuses an identity outside its trust domain', () => {
    assert.throws(() => ca.signCsr(createCsr(id).csrDer, { spiffeId: id, ttlSeconds: 60, issuedTo: null }), {
      code: 'CSR_TRUST_DOMAIN',
      message: 'Cannot sign CSR for "spiffe://cluster.local/ns/shop/sa/cart": trust domain "cluster.local" is not this CA\'s trust domain "example.org"',
    });
  });

  test('fromFiles errors', () => {
    const other = CertificateAuthority.generate({ trustDomain: 'example.org' });
    const base = { certChainPem: op.intermediatePem, keyPem: op.intermediateKeyPem, rootsPem: op.rootPem };
    assert.throws(() => CertificateAuthority.fromFiles({ ...base, certChainPem: 'nothing' }), {
      code: 'CA_CERT_INVALID', message: 'Cannot load CA: certChainPem holds no PEM CERTIFICATE block',
    });
    assert.throws(() => CertificateAuthority.fromFiles({ ...base, keyPem: 'junk' }), { code: 'CA_KEY_INVALID', message: 'Cannot load CA: keyPem is not a readable private key' });
    assert.throws(() => CertificateAuthority.fromFiles({ ...base, keyPem: ossl.key('rsa-ca.key', 'rsa') }), {
      code: 'CA_KEY_UNSUPPORTED', message: 'Cannot load CA: key "rsa" is not supported, only ECDSA P-256',
    });
    assert.throws(() => CertificateAuthority.fromFiles({ ...base, keyPem: ossl.key('wrong.key') }), {
      code: 'CA_KEY_MISMATCH', message: 'Cannot load CA: keyPem does not belong to the certificate "O=Operator\\nCN=Mesh Intermediate"',
    });
    assert.throws(() => CertificateAuthority.fromFiles({ ...base, rootsPem: other.rootPem }), {
      code: 'CA_CHAIN_UNTRUSTED',
      message: 'Cannot load CA: Cannot verify certificate chain: no trusted root or given intermediate issued "O=Operator\\nCN=Mesh Intermediate" (issuer "O=Operator\\nCN=Operator Root")',
    });
    const made = createCsr(wid);
    const leafPem = ca.signCsr(made.csrDer, { spiffeId: wid, ttlSeconds: 60, issuedTo: null }).certPem;
    assert.throws(() => CertificateAuthority.fromFiles({ ...base, certChainPem: leafPem + op.intermediatePem, keyPem: made.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string }), {
      code: 'CA_NOT_CA', message: 'Cannot load CA: certificate "URI:spiffe://example.org/ns/pay/sa/api" is not a CA (basicConstraints CA:false)',
    });
    assert.throws(() => CertificateAuthority.fromFiles({ certChainPem: op.rootPem, keyPem: ossl.read('op-root.key'), rootsPem: op.rootPem }), {
      code: 'CA_TRUST_DOMAIN_UNKNOWN',
      message: 'Cannot load CA: certificate "O=Operator\\nCN=Operator Root" has no spiffe:// URI SAN and no trustDomain was given',
    });
    const explicit = CertificateAuthority.fromFiles({ certChainPem: op.rootPem, keyPem: ossl.read('op-root.key'), rootsPem: op.rootPem, trustDomain: 'example.org' });
    assert.equal(explicit.trustDomain, 'example.org');
  });
});
