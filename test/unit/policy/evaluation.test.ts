// Istio's evaluation order and scope: DENY first, then "no ALLOW in scope allows", then a
// matching ALLOW, else deny; which policies apply (namespace, root namespace, selector); the
// empty-rules forms; and the exact reasons a decision gives.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { policiesFor } from '../../../src/policy/index.js';
import { ROOT, allow, decide, deny, fromFront, plaintext, sa, web } from './fixtures.js';

const fromFrontRule = { from: [{ source: { principals: [sa('front', 'web')] } }] };
const fromOtherRule = { from: [{ source: { principals: [sa('other', 'x')] } }] };

describe('evaluation order', () => {
  test('no policies: allowed, no policy named', () => {
    assert.deepEqual(decide([], fromFront), { allowed: true, reason: 'allowed: no ALLOW policy applies' });
  });
  test('ALLOW with rules: [] (Istio spec: {}) denies everything', () => {
    assert.deepEqual(decide([allow('shop', 'deny-all', [])], fromFront), {
      allowed: false,
      reason: 'no ALLOW policy matched (policies: shop/deny-all)',
    });
  });
  test('a rule {} allows everything, plaintext too', () => {
    const p = [allow('shop', 'allow-all', [{}])];
    assert.deepEqual(decide(p, fromFront), { allowed: true, policy: 'shop/allow-all', action: 'ALLOW', reason: 'allowed by ALLOW policy shop/allow-all' });
    assert.equal(decide(p, plaintext).allowed, true);
  });
  test('DENY with rules: [] matches nothing', () => {
    assert.deepEqual(decide([deny('shop', 'empty', [])], fromFront), { allowed: true, reason: 'allowed: no ALLOW policy applies' });
  });
  test('a DENY rule {} denies everything', () => {
    assert.deepEqual(decide([deny('shop', 'block', [{}])], fromFront), {
      allowed: false,
      policy: 'shop/block',
      action: 'DENY',
      reason: 'denied by DENY policy shop/block',
    });
  });
  test('a matching DENY wins over a matching ALLOW', () => {
    const d = decide([allow('shop', 'a-allow', [fromFrontRule]), deny('shop', 'z-deny', [fromFrontRule])], fromFront);
    assert.equal(d.allowed, false);
    assert.equal(d.policy, 'shop/z-deny');
  });
  test('a DENY that does not match leaves the decision to ALLOW policies', () => {
    const p = [deny('shop', 'block-other', [fromOtherRule]), allow('shop', 'allow-front', [fromFrontRule])];
    assert.equal(decide(p, fromFront).reason, 'allowed by ALLOW policy shop/allow-front');
    assert.equal(decide(p, { principal: sa('third', 'y'), port: 8080 }).reason, 'no ALLOW policy matched (policies: shop/allow-front)');
  });
  test('only DENY policies in scope: whatever they do not deny is allowed', () => {
    assert.equal(decide([deny('shop', 'block-other', [fromOtherRule])], fromFront).reason, 'allowed: no ALLOW policy applies');
  });
  test('any one of several ALLOW policies is enough; the reason lists all when none matches', () => {
    const p = [allow('shop', 'b', [fromOtherRule]), allow('shop', 'a', [fromFrontRule])];
    assert.equal(decide(p, fromFront).policy, 'shop/a');
    assert.equal(decide(p, plaintext).reason, 'no ALLOW policy matched (policies: shop/a, shop/b)');
  });
  test('a policy matches when any of its rules matches', () => {
    const p = [allow('shop', 'two', [fromOtherRule, fromFrontRule])];
    assert.equal(decide(p, fromFront).allowed, true);
  });
  test('a spec without action is an ALLOW policy (Istio default)', () => {
    const p = { name: 'implicit', namespace: 'shop', spec: { rules: [fromOtherRule] } } as never;
    assert.equal(decide([p], fromFront).reason, 'no ALLOW policy matched (policies: shop/implicit)');
  });
  test('the deciding policy does not depend on input order: root namespace first, then by name', () => {
    const p = [deny('shop', 'b', [{}]), deny('shop', 'a', [{}]), deny(ROOT, 'z', [{}])];
    assert.equal(decide(p, fromFront).policy, `${ROOT}/z`);
    assert.equal(decide([...p].reverse(), fromFront).policy, `${ROOT}/z`);
    assert.equal(decide(p.slice(0, 2), fromFront).policy, 'shop/a');
  });
});

describe('which policies apply', () => {
  test('policies of other namespaces do not apply', () => {
    assert.equal(decide([allow('other', 'deny-all', []), deny('other', 'block', [{}])], fromFront).reason, 'allowed: no ALLOW policy applies');
  });
  test('root-namespace policies apply mesh-wide', () => {
    assert.equal(decide([deny(ROOT, 'block', [{}])], fromFront).reason, `denied by DENY policy ${ROOT}/block`);
    assert.equal(decide([allow(ROOT, 'mesh', [fromOtherRule])], fromFront).reason, `no ALLOW policy matched (policies: ${ROOT}/mesh)`);
  });
  test('a root ALLOW and a namespace ALLOW combine: either may allow', () => {
    const p = [allow(ROOT, 'mesh', [fromOtherRule]), allow('shop', 'local', [fromFrontRule])];
    assert.equal(decide(p, fromFront).policy, 'shop/local');
    assert.equal(decide(p, { principal: sa('other', 'x'), port: 1 }).policy, `${ROOT}/mesh`);
  });
  test('a selector applies only when every label matches', () => {
    assert.equal(decide([allow('shop', 'db-only', [], { app: 'db' })], fromFront).allowed, true);
    assert.equal(decide([allow('shop', 'web-only', [], { app: 'web' })], fromFront).allowed, false);
    assert.equal(decide([allow('shop', 'both', [], { app: 'web', tier: 'front' })], fromFront).allowed, false);
    assert.equal(decide([allow('shop', 'partly', [], { app: 'web', tier: 'back' })], fromFront).allowed, true);
    assert.equal(decide([allow('shop', 'extra', [], { app: 'web', version: 'v1' })], fromFront).allowed, true);
  });
  test('a selector does not match a label inherited from Object.prototype', () => {
    assert.equal(decide([allow('shop', 'proto', [], { constructor: 'x' })], fromFront).allowed, true);
  });
  test('a selector in the root namespace selects workloads in every namespace', () => {
    const p = [deny(ROOT, 'no-web', [{}], { app: 'web' })];
    assert.equal(decide(p, fromFront).allowed, false);
    assert.equal(decide(p, fromFront, { target: { namespace: 'blog', labels: { app: 'web' } } }).allowed, false);
    assert.equal(decide(p, fromFront, { target: { namespace: 'blog', labels: { app: 'api' } } }).allowed, true);
  });
  test('policiesFor returns the applicable wire policies, root first, each once', () => {
    const mesh = allow(ROOT, 'mesh', []);
    const local = allow('shop', 'local', []);
    const selected = deny('shop', 'a-selected', [], { app: 'web' });
    const other = deny('shop', 'db', [], { app: 'db' });
    const elsewhere = allow('blog', 'x', []);
    assert.deepEqual(policiesFor([local, other, elsewhere, selected, mesh], web, ROOT), [mesh, selected, local]);
    assert.deepEqual(policiesFor([mesh, local], { namespace: ROOT, labels: {} }, ROOT), [mesh]);
    assert.equal(policiesFor([mesh], web, ROOT)[0], mesh, 'the same object, not a copy');
  });
});
