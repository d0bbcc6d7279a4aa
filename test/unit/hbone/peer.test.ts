import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import type { DetailedPeerCertificate, PeerCertificate } from 'node:tls';
import { chainAnchoredIn, createHboneContext, identityFromSubjectAltName, verifyServerIdentity } from '../../../src/hbone/index.js';
import { MeshFixture } from '../../../src/testing/svid-fixtures.js';
import { AmbitError } from '../../../src/errors.js';

const ID = 'spiffe://cluster.local/ns/shop/sa/backend';

function codeAndMessage(fn: () => unknown): [string, string] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AmbitError, String(err));
    return [err.code, err.message];
  }
  throw new Error('did not throw');
}

describe('identityFromSubjectAltName', () => {
  test('reads the one URI SAN', () => {
    assert.equal(identityFromSubjectAltName(`URI:${ID}`), ID);
    assert.equal(identityFromSubjectAltName(`DNS:backend.shop, URI:${ID}`), ID);
  });
  const bad: [string | undefined, string][] = [
    [undefined, 'Cannot read peer identity: the certificate must hold exactly one URI SAN, found 0 in ""'],
    ['DNS:backend.shop', 'Cannot read peer identity: the certificate must hold exactly one URI SAN, found 0 in "DNS:backend.shop"'],
    [`URI:${ID}, URI:spiffe://cluster.local/ns/shop/sa/other`, `Cannot read peer identity: the certificate must hold exactly one URI SAN, found 2 in "URI:${ID}, URI:spiffe://cluster.local/ns/shop/sa/other"`],
    ['URI:https://backend.shop/', 'Cannot read peer identity: URI SAN "https://backend.shop/" is not a SPIFFE ID'],
    ['URI:"spiffe://cluster.local/ns/a,b/sa/c"', 'Cannot read peer identity: URI SAN "spiffe://cluster.local/ns/a,b/sa/c" is not a SPIFFE ID'],
  ];
  for (const [san, message] of bad) {
    test(`rejects ${JSON.stringify(san)}`, () => {
      assert.deepEqual(codeAndMessage(() => identityFromSubjectAltName(san)), ['HBONE_PEER_IDENTITY_INVALID', message]);
    });
  }
});

describe('verifyServerIdentity', () => {
  const cert = (san: string): PeerCertificate => ({ subjectaltname: san } as PeerCertificate);
  test('accepts the expected identity', () => {
    assert.equal(verifyServerIdentity(ID)('10.0.0.1', cert(`URI:${ID}`)), undefined);
  });
  test('returns HBONE_IDENTITY_MISMATCH for another identity', () => {
    const err = verifyServerIdentity(ID)('10.0.0.1', cert('URI:spiffe://cluster.local/ns/shop/sa/payments'));
    assert.ok(err instanceof AmbitError);
    assert.equal(err.code, 'HBONE_IDENTITY_MISMATCH');
    assert.equal(err.message, `Cannot open tunnel: the destination proved "spiffe://cluster.local/ns/shop/sa/payments", not the expected "${ID}"`);
  });
  test('returns HBONE_IDENTITY_MISMATCH for a certificate without SPIFFE ID', () => {
    const err = verifyServerIdentity(ID)('10.0.0.1', cert('DNS:backend'));
    assert.ok(err instanceof AmbitError);
    assert.equal(err.code, 'HBONE_IDENTITY_MISMATCH');
    assert.equal(err.message, `Cannot open tunnel: the destination must prove ${ID}, but Cannot read peer identity: the certificate must hold exactly one URI SAN, found 0 in "DNS:backend"`);
  });
  test('rejects an invalid expected identity up front', () => {
    assert.deepEqual(codeAndMessage(() => verifyServerIdentity('spiffe://Cluster.local/x')),
      ['SPIFFE_ID_INVALID', 'Cannot parse SPIFFE ID "spiffe://Cluster.local/x": trust domain must be lower-case']);
  });
});

describe('createHboneContext', () => {
  test('refuses to build a context without roots (Node would trust public web CAs)', () => {
    assert.deepEqual(codeAndMessage(() => createHboneContext({ chainPem: ['x'], keyPem: 'y', rootsPem: [] })),
      ['HBONE_ROOTS_MISSING', 'Cannot build HBONE TLS context: rootsPem must list at least one root, got []']);
  });
  test('refuses an empty chain', () => {
    assert.deepEqual(codeAndMessage(() => createHboneContext({ chainPem: [], keyPem: 'y', rootsPem: ['z'] })),
      ['HBONE_CERT_MISSING', 'Cannot build HBONE TLS context: chainPem must hold the leaf certificate, got []']);
  });
  test('wraps unreadable PEM', () => {
    const [code] = codeAndMessage(() => createHboneContext({ chainPem: ['not pem'], keyPem: 'y', rootsPem: ['z'] }));
    assert.equal(code, 'HBONE_CREDENTIALS_INVALID');
  });
});

describe('chainAnchoredIn: every link is a verified signature, a root counts only if it signed', () => {
  const old = MeshFixture.create();
  const current = MeshFixture.create(); // a second root with the same subject, "ambit mesh root"
  const id = old.workload('shop', 'web');
  const x = (pem: string): X509Certificate => new X509Certificate(pem);
  const peer = (chain: string[]): PeerCertificate => {
    // What getPeerCertificate(true) hands over: each certificate with its issuer linked by Node, which matches names only.
    const certs = chain.map((pem) => ({ raw: x(pem).raw, fingerprint256: x(pem).fingerprint256 }) as DetailedPeerCertificate);
    certs.forEach((c, i) => { c.issuerCertificate = certs[i + 1] ?? c; });
    return certs[0]!;
  };

  test('a leaf the current root signed is anchored, with or without the root behind it', () => {
    const leaf = current.mint(current.workload('shop', 'web')).certPem;
    assert.equal(chainAnchoredIn(peer([leaf]), current.rootsPem), true);
    assert.equal(chainAnchoredIn(peer([leaf, current.rootsPem[0]!]), current.rootsPem), true);
  });

  test('a leaf an old root signed, presented with a copy of the current root behind it, is not anchored', () => {
    const leaf = old.mint(id).certPem;
    assert.equal(x(old.rootsPem[0]!).subject, x(current.rootsPem[0]!).subject, 'same subject: names alone would link them');
    assert.equal(chainAnchoredIn(peer([leaf, current.rootsPem[0]!]), current.rootsPem), false, 'the current root is in the chain, but did not sign the leaf');
    assert.equal(chainAnchoredIn(peer([leaf]), current.rootsPem), false);
    assert.equal(chainAnchoredIn(peer([leaf]), old.rootsPem), true, 'control: under the old bundle it was');
  });
});
