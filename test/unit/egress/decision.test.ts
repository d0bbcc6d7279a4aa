// Egress decisions from real configuration: ServiceEntries and AuthorizationPolicies parsed
// from YAML with src/config, then the registry decision (exact beats wildcard, ports, modes)
// and the per-source policy at the gateway (app A may reach *.foo.example, app B *.bar.example).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDocuments, type AuthorizationPolicyResource, type ServiceEntryResource } from '../../../src/config/index.js';
import { compilePolicies, type PolicyTarget } from '../../../src/policy/index.js';
import { decideEgress, egressAuthorize, EgressRegistry, type EgressDecision } from '../../../src/egress/index.js';

const entries = parseDocuments(
  `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: api, namespace: shop }
spec:
  hosts: [api.foo.example]
  ports: [{ number: 443, name: https, protocol: TLS }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: foo-all, namespace: shop }
spec:
  hosts: ["*.foo.example"]
  ports: [{ number: 443, name: https, protocol: TLS }, { number: 8443, name: alt, protocol: TLS }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: bar, namespace: billing }
spec:
  hosts: ["*.bar.example", "plain.bar.example"]
  ports: [{ number: 80, name: http, protocol: HTTP }]
`,
  'entries.yaml',
) as ServiceEntryResource[];

const registry = new EgressRegistry(entries);

describe('registry decision', () => {
  const rows: [string, 'REGISTRY_ONLY' | 'ALLOW_ANY', string, number, EgressDecision][] = [
    ['exact beats wildcard', 'REGISTRY_ONLY', 'api.foo.example', 443,
      { allowed: true, serviceEntry: 'shop/api', matchedHost: 'api.foo.example', reason: 'allowed: ServiceEntry shop/api names api.foo.example on port 443' }],
    ['case and trailing dot are canonicalised', 'REGISTRY_ONLY', 'API.Foo.Example.', 443,
      { allowed: true, serviceEntry: 'shop/api', matchedHost: 'api.foo.example', reason: 'allowed: ServiceEntry shop/api names api.foo.example on port 443' }],
    ['wildcard covers a deeper name', 'REGISTRY_ONLY', 'a.b.foo.example', 443,
      { allowed: true, serviceEntry: 'shop/foo-all', matchedHost: '*.foo.example', reason: 'allowed: ServiceEntry shop/foo-all names *.foo.example on port 443' }],
    ['exact host lacks the port: the wildcard that declares it governs', 'REGISTRY_ONLY', 'api.foo.example', 8443,
      { allowed: true, serviceEntry: 'shop/foo-all', matchedHost: '*.foo.example', reason: 'allowed: ServiceEntry shop/foo-all names *.foo.example on port 8443' }],
    ['exact entry in a wildcard list', 'REGISTRY_ONLY', 'plain.bar.example', 80,
      { allowed: true, serviceEntry: 'billing/bar', matchedHost: 'plain.bar.example', reason: 'allowed: ServiceEntry billing/bar names plain.bar.example on port 80' }],
    ['wildcard does not cover the apex', 'REGISTRY_ONLY', 'foo.example', 443,
      { allowed: false, reason: 'refused by REGISTRY_ONLY: no ServiceEntry names foo.example' }],
    ['suffix lookalike', 'REGISTRY_ONLY', 'api.foo.example.evil.org', 443,
      { allowed: false, reason: 'refused by REGISTRY_ONLY: no ServiceEntry names api.foo.example.evil.org' }],
    ['known host, undeclared port', 'REGISTRY_ONLY', 'x.bar.example', 443,
      { allowed: false, reason: 'refused by REGISTRY_ONLY: ServiceEntry host *.bar.example covers x.bar.example but declares no port 443' }],
    ['unknown host under ALLOW_ANY', 'ALLOW_ANY', 'elsewhere.org', 443,
      { allowed: true, reason: 'allowed by ALLOW_ANY: no ServiceEntry names elsewhere.org' }],
    ['known host under ALLOW_ANY still reports its entry', 'ALLOW_ANY', 'x.bar.example', 80,
      { allowed: true, serviceEntry: 'billing/bar', matchedHost: '*.bar.example', reason: 'allowed: ServiceEntry billing/bar names *.bar.example on port 80' }],
    ['IP literal is refused even under ALLOW_ANY', 'ALLOW_ANY', '10.0.0.1', 443,
      { allowed: false, reason: 'refused: host "10.0.0.1" is not a valid DNS host name' }],
    ['empty host is refused', 'REGISTRY_ONLY', '', 443,
      { allowed: false, reason: 'refused: host "" is not a valid DNS host name' }],
  ];
  for (const [name, mode, host, port, expected] of rows) {
    test(name, () => assert.deepEqual(registry.decide(mode, { host, port }), expected));
  }

  test('wire-form entries give the same answers; duplicates across namespaces pick the first by id', () => {
    const wire = [
      { name: 'z', namespace: 'b', spec: entries[0]!.spec },
      { name: 'a', namespace: 'b', spec: entries[0]!.spec },
    ];
    assert.deepEqual(decideEgress(wire, 'REGISTRY_ONLY', { host: 'api.foo.example', port: 443 }).serviceEntry, 'b/a');
    assert.deepEqual(decideEgress([], 'REGISTRY_ONLY', { host: 'api.foo.example', port: 443 }).allowed, false);
  });

  test('bad mode and port are caller bugs', () => {
    assert.throws(() => registry.decide('OPEN' as 'ALLOW_ANY', { host: 'a.example', port: 1 }), {
      code: 'INVALID_EGRESS_REQUEST',
      message: 'Cannot decide egress: mode must be "REGISTRY_ONLY" or "ALLOW_ANY", got "OPEN"',
    });
    assert.throws(() => registry.decide('ALLOW_ANY', { host: 'a.example', port: 0 }), {
      code: 'INVALID_EGRESS_REQUEST',
      message: 'Cannot decide egress: port must be a port number from 1 to 65535, got 0',
    });
  });
});

describe('per-source policy at the gateway', () => {
  const policies = (parseDocuments(
    `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: app-a-foo, namespace: egress }
spec:
  selector: { matchLabels: { app: egress-gateway } }
  action: ALLOW
  rules:
  - from: [{ source: { principals: [cluster.local/ns/shop/sa/app-a] } }]
    to: [{ operation: { hosts: ["*.foo.example"], ports: [443] } }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: app-b-bar, namespace: egress }
spec:
  selector: { matchLabels: { app: egress-gateway } }
  action: ALLOW
  rules:
  - from: [{ source: { principals: [cluster.local/ns/billing/sa/app-b] } }]
    to: [{ operation: { hosts: ["*.bar.example"] } }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: no-secrets, namespace: egress }
spec:
  action: DENY
  rules:
  - to: [{ operation: { hosts: [secrets.foo.example] } }]
`,
    'policies.yaml',
  ) as AuthorizationPolicyResource[]).map((p) => ({ name: p.metadata.name, namespace: p.metadata.namespace!, spec: p.spec }));
  const evaluator = compilePolicies(policies, { rootNamespace: 'ambit-system' });
  const gateway: PolicyTarget = { namespace: 'egress', labels: { app: 'egress-gateway' } };
  const A = 'cluster.local/ns/shop/sa/app-a';
  const B = 'spiffe://cluster.local/ns/billing/sa/app-b';

  const rows: [string, string | undefined, string, number, boolean, string][] = [
    ['A to its wildcard', A, 'api.foo.example', 443, true, 'allowed by ALLOW policy egress/app-a-foo'],
    ['A to its wildcard, other port', A, 'api.foo.example', 8443, false, 'no ALLOW policy matched (policies: egress/app-a-foo, egress/app-b-bar)'],
    ['A to B\'s hosts', A, 'x.bar.example', 80, false, 'no ALLOW policy matched (policies: egress/app-a-foo, egress/app-b-bar)'],
    ['B (spiffe URI) to its wildcard', B, 'x.bar.example', 80, true, 'allowed by ALLOW policy egress/app-b-bar'],
    ['B to A\'s hosts', B, 'api.foo.example', 443, false, 'no ALLOW policy matched (policies: egress/app-a-foo, egress/app-b-bar)'],
    ['DENY wins over A\'s ALLOW', A, 'SECRETS.foo.example', 443, false, 'denied by DENY policy egress/no-secrets'],
    ['no verified identity', undefined, 'api.foo.example', 443, false, 'no ALLOW policy matched (policies: egress/app-a-foo, egress/app-b-bar)'],
    ['malformed host never matches', A, 'api..foo.example', 443, false, 'no ALLOW policy matched (policies: egress/app-a-foo, egress/app-b-bar)'],
  ];
  for (const [name, principal, host, port, allowed, reason] of rows) {
    test(name, () => {
      const d = egressAuthorize(evaluator, gateway, principal === undefined ? { host, port } : { principal, host, port });
      assert.deepEqual([d.allowed, d.reason], [allowed, reason]);
    });
  }

  test('a bad principal is a caller bug reported by the policy layer', () => {
    assert.throws(() => egressAuthorize(evaluator, gateway, { principal: 'app-a', host: 'a.foo.example', port: 443 }), {
      code: 'INVALID_CONNECTION_ATTRIBUTES',
    });
    assert.throws(() => egressAuthorize(evaluator, gateway, { principal: A, host: 'a.foo.example', port: 70000 }), {
      code: 'INVALID_EGRESS_REQUEST',
      message: 'Cannot decide egress: port must be a port number from 1 to 65535, got 70000',
    });
  });
});
