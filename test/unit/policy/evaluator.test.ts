// The compiled evaluator the node proxy holds: same answers as the one-call API, reusable
// across many connections, and cheap enough to run per connection.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { authorize, compilePolicies, type ConnectionAttributes, type PolicyTarget } from '../../../src/policy/index.js';
import { ROOT, allow, deny, sa } from './fixtures.js';

/** A mesh-sized policy set: 100 namespaces, each with an ALLOW by principal and a DENY by port. */
function meshPolicies() {
  const out = [deny(ROOT, 'no-telnet', [{ to: [{ operation: { ports: [23] } }] }])];
  for (let i = 0; i < 100; i++) {
    out.push(allow(`ns${i}`, 'allow-callers', [{ from: [{ source: { principals: [sa(`ns${(i + 1) % 100}`, 'client'), `cluster.local/ns/ns${i}/*`] } }] }]));
    out.push(deny(`ns${i}`, 'block-admin', [{ to: [{ operation: { ports: [9000] } }] }], { role: 'admin' }));
  }
  return out;
}

describe('PolicyEvaluator', () => {
  const policies = meshPolicies();
  const evaluator = compilePolicies(policies, { rootNamespace: ROOT });
  const target: PolicyTarget = { namespace: 'ns5', labels: { role: 'admin' } };
  const conns: ConnectionAttributes[] = [
    { principal: sa('ns6', 'client'), port: 8080 },
    { principal: sa('ns5', 'anything'), port: 8080 },
    { principal: sa('ns7', 'client'), port: 8080 },
    { principal: sa('ns6', 'client'), port: 9000 },
    { principal: sa('ns6', 'client'), port: 23 },
    { port: 8080 },
  ];
  const expected = [true, true, false, false, false, false];

  test('gives the same decisions as authorize()', () => {
    conns.forEach((conn, i) => {
      const compiled = evaluator.authorize(target, conn, { layer: 'L4' });
      assert.deepEqual(compiled, authorize(policies, target, conn, { rootNamespace: ROOT, layer: 'L4' }));
      assert.equal(compiled.allowed, expected[i], `${JSON.stringify(conn)}: ${compiled.reason}`);
    });
    assert.equal(evaluator.authorize(target, conns[4]!, { layer: 'L4' }).policy, `${ROOT}/no-telnet`);
    assert.equal(evaluator.authorize(target, conns[3]!, { layer: 'L4' }).policy, 'ns5/block-admin');
  });

  test('holds no state between decisions', () => {
    const first = conns.map((c) => evaluator.authorize(target, c, { layer: 'L4' }));
    const again = [...conns].reverse().map((c) => evaluator.authorize(target, c, { layer: 'L4' })).reverse();
    assert.deepEqual(again, first);
  });

  test('later changes to the input array do not alter a compiled evaluator', () => {
    const input = [allow('shop', 'deny-all', [])];
    const ev = compilePolicies(input, { rootNamespace: ROOT });
    input.length = 0;
    assert.equal(ev.authorize({ namespace: 'shop', labels: {} }, { port: 1 }, { layer: 'L4' }).allowed, false);
  });

  test('decides 50,000 connections over 201 policies in well under a second', () => {
    const start = process.hrtime.bigint();
    let allowed = 0;
    for (let i = 0; i < 50_000; i++) {
      if (evaluator.authorize(target, conns[i % conns.length]!, { layer: 'L4' }).allowed) allowed++;
    }
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    assert.equal(allowed, Math.ceil(50_000 / 6) + Math.ceil((50_000 - 1) / 6));
    assert.ok(ms < 1000, `took ${ms.toFixed(0)} ms`);
  });
});
