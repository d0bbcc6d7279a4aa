import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { CertificateAuthority, TrustBundle } from '../../../src/ca/index.js';
import { createCsr, workloadId } from '../../../src/identity/index.js';

const id = workloadId('cluster.local', 'shop', 'cart');
const oldCa = CertificateAuthority.generate({ trustDomain: 'cluster.local' });
const newCa = CertificateAuthority.generate({ trustDomain: 'cluster.local' });
const leafOld = oldCa.signCsr(createCsr(id).csrDer, { spiffeId: id, ttlSeconds: 3600, issuedTo: null });
const leafNew = newCa.signCsr(createCsr(id).csrDer, { spiffeId: id, ttlSeconds: 3600, issuedTo: null });
const fpOld = new X509Certificate(oldCa.rootPem).fingerprint256;

describe('TrustBundle', () => {
  test('holds several roots during rotation and verifies leaves of each', () => {
    const b = new TrustBundle(oldCa.rootPem);
    assert.deepEqual(b.add(newCa.rootPem), [new X509Certificate(newCa.rootPem).fingerprint256.replace(/:/g, '')]);
    assert.equal(b.size, 2);
    assert.equal(b.verifyChain(leafOld.certPem).root.fingerprint256, fpOld);
    assert.equal(b.verifyChain(leafNew.certPem).root.fingerprint256, new X509Certificate(newCa.rootPem).fingerprint256);
    assert.equal(new TrustBundle(b.pem()).size, 2, 'pem() round-trips');
  });

  test('remove by fingerprint (any case, colons optional) stops trusting that root', () => {
    const b = new TrustBundle(oldCa.rootPem + newCa.rootPem);
    assert.equal(b.remove(fpOld.toLowerCase()), true);
    assert.equal(b.remove(fpOld), false);
    assert.equal(b.has(fpOld.replace(/:/g, '')), false);
    assert.throws(() => b.verifyChain(leafOld.certPem), {
      code: 'CHAIN_UNTRUSTED',
      message: `Cannot verify certificate chain: no trusted root or given intermediate issued "URI:${id.uri}" (issuer "O=ambit\\nCN=ambit mesh root")`,
    });
    assert.ok(b.verifyChain(leafNew.certPem));
  });

  test('adding the same root twice keeps one copy', () => {
    const b = new TrustBundle(oldCa.rootPem);
    b.add(oldCa.rootPem);
    assert.equal(b.size, 1);
  });

  test('checks validity at the given time', () => {
    const b = new TrustBundle(oldCa.rootPem);
    const after = new Date(leafOld.notAfter.getTime() + 1000);
    assert.throws(() => b.verifyChain(leafOld.certPem, [], after), {
      code: 'CHAIN_EXPIRED', message: `Cannot verify certificate chain: "URI:${id.uri}" expired at ${new X509Certificate(leafOld.certPem).validTo}`,
    });
    const before = new Date(leafOld.notBefore.getTime() - 1000);
    assert.throws(() => b.verifyChain(leafOld.certPem, [], before), {
      code: 'CHAIN_NOT_YET_VALID', message: `Cannot verify certificate chain: "URI:${id.uri}" is not valid before ${new X509Certificate(leafOld.certPem).validFrom}`,
    });
  });

  test('refuses a non-CA certificate and text without certificates', () => {
    const b = new TrustBundle();
    assert.throws(() => b.add(leafOld.certPem), { code: 'TRUST_BUNDLE_INVALID', message: `Cannot add to trust bundle: "URI:${id.uri}" is not a CA certificate` });
    assert.throws(() => b.add('no pem here'), { code: 'TRUST_BUNDLE_INVALID', message: 'Cannot add to trust bundle: no PEM CERTIFICATE block found' });
    assert.throws(() => b.add('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'), {
      code: 'CERT_MALFORMED', message: 'Cannot read trust bundle: certificate #0 is not a valid X.509 certificate',
    });
  });

  test('a leaf is not accepted as an intermediate', () => {
    const b = new TrustBundle(oldCa.rootPem);
    // A leaf signed by oldCa cannot vouch for another leaf, even if offered as "intermediate".
    assert.throws(() => b.verifyChain(leafNew.certPem, [leafOld.certPem]), { code: 'CHAIN_UNTRUSTED' });
  });
});
