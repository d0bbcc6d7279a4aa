// Table: principals and namespaces, with wildcards and not-forms, for authenticated and
// plaintext peers, under both actions. The plaintext rows pin ambit's secure choice: an ALLOW
// rule that names identities never matches a peer without one (not even through notPrincipals,
// the ISTIO-SECURITY-2021-004 trap), while a DENY rule with notPrincipals/notNamespaces does
// match it, so "deny everyone except X" also denies plaintext.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PolicySource } from '../../../src/config/index.js';
import { allow, decide, deny, fromFront, plaintext, sa } from './fixtures.js';
import type { ConnectionAttributes } from '../../../src/policy/index.js';

type Row = [name: string, source: PolicySource, conn: ConnectionAttributes, allowMatches: boolean, denyMatches: boolean];

const admin: ConnectionAttributes = { principal: sa('front', 'admin'), port: 8080 };
const back: ConnectionAttributes = { principal: sa('back', 'api'), port: 8080 };
const FW = sa('front', 'web');

const rows: Row[] = [
  // principals
  ['exact principal', { principals: [FW] }, fromFront, true, true],
  ['other principal', { principals: [FW] }, back, false, false],
  ['one of several principals (OR)', { principals: [sa('x', 'y'), FW] }, fromFront, true, true],
  ['"*" matches any authenticated peer', { principals: ['*'] }, back, true, true],
  ['"*" does not match plaintext', { principals: ['*'] }, plaintext, false, false],
  ['prefix principal', { principals: ['cluster.local/ns/front/*'] }, admin, true, true],
  ['prefix principal, other namespace', { principals: ['cluster.local/ns/front/*'] }, back, false, false],
  ['suffix principal', { principals: ['*/sa/web'] }, fromFront, true, true],
  ['suffix principal, other account', { principals: ['*/sa/web'] }, admin, false, false],
  ['principal is case-sensitive', { principals: ['cluster.local/ns/FRONT/sa/web'] }, fromFront, false, false],
  ['exact principal vs plaintext', { principals: [FW] }, plaintext, false, false],
  ['other trust domain', { principals: ['other.td/ns/front/sa/web'] }, fromFront, false, false],
  // notPrincipals
  ['notPrincipals, peer listed', { notPrincipals: [FW] }, fromFront, false, false],
  ['notPrincipals, peer not listed', { notPrincipals: [FW] }, admin, true, true],
  ['notPrincipals vs plaintext: ALLOW no, DENY yes', { notPrincipals: [FW] }, plaintext, false, true],
  ['notPrincipals "*" vs authenticated', { notPrincipals: ['*'] }, back, false, false],
  ['notPrincipals "*" vs plaintext (deny-plaintext idiom)', { notPrincipals: ['*'] }, plaintext, false, true],
  ['notPrincipals prefix', { notPrincipals: ['cluster.local/ns/front/*'] }, admin, false, false],
  // namespaces
  ['exact namespace', { namespaces: ['front'] }, fromFront, true, true],
  ['other namespace', { namespaces: ['front'] }, back, false, false],
  ['"*" namespace, authenticated', { namespaces: ['*'] }, back, true, true],
  ['"*" namespace vs plaintext', { namespaces: ['*'] }, plaintext, false, false],
  ['prefix namespace', { namespaces: ['fr*'] }, fromFront, true, true],
  ['suffix namespace', { namespaces: ['*nt'] }, fromFront, true, true],
  ['suffix namespace, no match', { namespaces: ['*-prod'] }, fromFront, false, false],
  ['namespace vs plaintext', { namespaces: ['front'] }, plaintext, false, false],
  // notNamespaces
  ['notNamespaces, peer listed', { notNamespaces: ['front'] }, fromFront, false, false],
  ['notNamespaces, peer not listed', { notNamespaces: ['back'] }, fromFront, true, true],
  ['notNamespaces vs plaintext: ALLOW no, DENY yes', { notNamespaces: ['front'] }, plaintext, false, true],
  ['notNamespaces prefix', { notNamespaces: ['f*'] }, fromFront, false, false],
  // AND across fields
  ['principals AND namespaces, both hold', { principals: [FW], namespaces: ['front'] }, fromFront, true, true],
  ['principals AND namespaces, one fails', { principals: [FW], namespaces: ['back'] }, fromFront, false, false],
  ['namespace prefix minus one principal: web', { principals: ['cluster.local/ns/front/*'], notPrincipals: [sa('front', 'admin')] }, fromFront, true, true],
  ['namespace prefix minus one principal: admin', { principals: ['cluster.local/ns/front/*'], notPrincipals: [sa('front', 'admin')] }, admin, false, false],
  ['namespaces AND notPrincipals vs plaintext', { namespaces: ['front'], notPrincipals: [FW] }, plaintext, false, false],
  ['notNamespaces AND notPrincipals vs plaintext', { notNamespaces: ['front'], notPrincipals: [FW] }, plaintext, false, true],
];

describe('source matching', () => {
  for (const [name, source, conn, allowMatches, denyMatches] of rows) {
    test(`${name}: ALLOW ${allowMatches ? 'matches' : 'does not match'}, DENY ${denyMatches ? 'matches' : 'does not match'}`, () => {
      const a = decide([allow('shop', 'a', [{ from: [{ source }] }])], conn);
      assert.equal(a.allowed, allowMatches, `ALLOW: ${a.reason}`);
      const d = decide([deny('shop', 'd', [{ from: [{ source }] }])], conn);
      assert.equal(d.allowed, !denyMatches, `DENY: ${d.reason}`);
    });
  }
  test('any one of several from entries is enough (OR across sources)', () => {
    const p = [allow('shop', 'a', [{ from: [{ source: { principals: [sa('x', 'y')] } }, { source: { namespaces: ['front'] } }] }])];
    assert.equal(decide(p, fromFront).allowed, true);
    assert.equal(decide(p, back).allowed, false);
  });
  test('the namespace is taken from the verified principal when the caller does not pass it', () => {
    const p = [allow('shop', 'a', [{ from: [{ source: { namespaces: ['front'] } }] }])];
    assert.equal(decide(p, { principal: sa('front', 'web'), port: 1 }).allowed, true);
    assert.equal(decide(p, { principal: sa('front', 'web'), namespace: 'front', port: 1 }).allowed, true);
  });
  test('deny everyone except one identity: plaintext and other identities are denied', () => {
    const p = [deny('shop', 'only-front-web', [{ from: [{ source: { notPrincipals: [FW] } }] }])];
    assert.equal(decide(p, fromFront).allowed, true);
    assert.equal(decide(p, admin).reason, 'denied by DENY policy shop/only-front-web');
    assert.equal(decide(p, plaintext).reason, 'denied by DENY policy shop/only-front-web');
  });
});
