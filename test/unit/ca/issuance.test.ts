import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { authorizeIssuance, type PlacedPod, type PodPlacementLookup } from '../../../src/ca/index.js';
import { parseSpiffeId } from '../../../src/identity/index.js';

/** Test double for the registry: a fixed list of pods with their service accounts. */
function registry(pods: (PlacedPod & { serviceAccount: string })[]): PodPlacementLookup {
  return {
    podsWithIdentity: (ns, sa) => pods.filter((p) => p.namespace === ns && p.serviceAccount === sa).map(({ namespace, name, nodeName }) => ({ namespace, name, nodeName })),
  };
}

const pods = registry([
  { namespace: 'a', name: 'web', nodeName: 'n1', serviceAccount: 'b' },
  { namespace: 'a', name: 'web-2', nodeName: 'n3', serviceAccount: 'b' },
  { namespace: 'shop', name: 'cart', nodeName: 'n2', serviceAccount: 'cart' },
  { namespace: 'other', name: 'x', nodeName: 'n2', serviceAccount: 'b' },
  ...Array.from({ length: 7 }, (_, i) => ({ namespace: 'big', name: `p${i}`, nodeName: `m${i}`, serviceAccount: 'sa' })),
]);

const table: [string, string, string, { allowed: true } | { allowed: false; code: string; reason: string }][] = [
  ['pod on the node', 'n1', 'spiffe://cluster.local/ns/a/sa/b', { allowed: true }],
  ['second replica on another node', 'n3', 'spiffe://cluster.local/ns/a/sa/b', { allowed: true }],
  ['identity only elsewhere', 'n2', 'spiffe://cluster.local/ns/a/sa/b', {
    allowed: false, code: 'ISSUANCE_NOT_ON_NODE',
    reason: 'Cannot issue spiffe://cluster.local/ns/a/sa/b to node "n2": no pod with this identity is scheduled on it (pods: a/web on n1, a/web-2 on n3)',
  }],
  ['same SA name in another namespace does not count', 'n2', 'spiffe://cluster.local/ns/a/sa/b', {
    allowed: false, code: 'ISSUANCE_NOT_ON_NODE',
    reason: 'Cannot issue spiffe://cluster.local/ns/a/sa/b to node "n2": no pod with this identity is scheduled on it (pods: a/web on n1, a/web-2 on n3)',
  }],
  ['no pod anywhere', 'n1', 'spiffe://cluster.local/ns/a/sa/ghost', {
    allowed: false, code: 'ISSUANCE_NOT_ON_NODE',
    reason: 'Cannot issue spiffe://cluster.local/ns/a/sa/ghost to node "n1": no pod with this identity is scheduled on it (no pod runs with this identity)',
  }],
  ['long placement lists are cut at five', 'n9', 'spiffe://cluster.local/ns/big/sa/sa', {
    allowed: false, code: 'ISSUANCE_NOT_ON_NODE',
    reason: 'Cannot issue spiffe://cluster.local/ns/big/sa/sa to node "n9": no pod with this identity is scheduled on it (pods: big/p0 on m0, big/p1 on m1, big/p2 on m2, big/p3 on m3, big/p4 on m4, and 2 more)',
  }],
  ['trust-domain ID', 'n1', 'spiffe://cluster.local', {
    allowed: false, code: 'ISSUANCE_NOT_WORKLOAD',
    reason: 'Cannot issue spiffe://cluster.local to node "n1": not a workload identity (path must be /ns/<namespace>/sa/<service-account>)',
  }],
  ['non-workload path', 'n1', 'spiffe://cluster.local/ns/a/sa/b/x', {
    allowed: false, code: 'ISSUANCE_NOT_WORKLOAD',
    reason: 'Cannot issue spiffe://cluster.local/ns/a/sa/b/x to node "n1": not a workload identity (path must be /ns/<namespace>/sa/<service-account>)',
  }],
  ['control-plane-looking path', 'n1', 'spiffe://cluster.local/control-plane', {
    allowed: false, code: 'ISSUANCE_NOT_WORKLOAD',
    reason: 'Cannot issue spiffe://cluster.local/control-plane to node "n1": not a workload identity (path must be /ns/<namespace>/sa/<service-account>)',
  }],
];

describe('authorizeIssuance (node-scoped credentials)', () => {
  for (const [name, node, uri, want] of table) {
    test(name, () => assert.deepEqual(authorizeIssuance({ node, spiffeId: parseSpiffeId(uri) }, pods), want));
  }
});

describe('authorizeIssuance (workload credentials: bound identity, still node-scoped)', () => {
  const bound = 'spiffe://cluster.local/ns/a/sa/b';
  const cases: [string, string, string, { allowed: true } | { allowed: false; code: string; reason: string }][] = [
    ['the bound identity, scheduled on the node', 'n1', bound, { allowed: true }],
    ['another identity scheduled on the same node', 'n2', 'spiffe://cluster.local/ns/shop/sa/cart', {
      allowed: false, code: 'ISSUANCE_NOT_BOUND',
      reason: 'Cannot issue spiffe://cluster.local/ns/shop/sa/cart to node "n2": the workload credential is bound to spiffe://cluster.local/ns/a/sa/b only',
    }],
    ['the bound identity, but not scheduled on the token\'s node', 'n2', bound, {
      allowed: false, code: 'ISSUANCE_NOT_ON_NODE',
      reason: 'Cannot issue spiffe://cluster.local/ns/a/sa/b to node "n2": no pod with this identity is scheduled on it (pods: a/web on n1, a/web-2 on n3)',
    }],
    ['the bound identity in another trust domain', 'n1', 'spiffe://evil.example/ns/a/sa/b', {
      allowed: false, code: 'ISSUANCE_NOT_BOUND',
      reason: 'Cannot issue spiffe://evil.example/ns/a/sa/b to node "n1": the workload credential is bound to spiffe://cluster.local/ns/a/sa/b only',
    }],
  ];
  for (const [name, node, uri, want] of cases) {
    test(name, () => assert.deepEqual(authorizeIssuance({ node, spiffeId: parseSpiffeId(uri), boundIdentity: bound }, pods), want));
  }
});

describe('authorizeIssuance (the egress gateway identity is reserved for its own credential)', () => {
  const gw = 'spiffe://cluster.local/ns/ambit-system/sa/egress-gateway';
  const withGateway: PodPlacementLookup = {
    podsWithIdentity: (ns, sa) => (ns === 'ambit-system' && sa === 'egress-gateway' ? [{ namespace: ns, name: 'egress-gateway', nodeName: 'n1' }] : []),
  };
  test('a node proxy of the gateway\'s own node is refused its identity', () => {
    assert.deepEqual(authorizeIssuance({ node: 'n1', spiffeId: parseSpiffeId(gw) }, withGateway), {
      allowed: false, code: 'ISSUANCE_RESERVED',
      reason: 'Cannot issue spiffe://cluster.local/ns/ambit-system/sa/egress-gateway to node "n1": the egress gateway\'s identity is issued only to a workload credential bound to it (AdminApi.issueWorkloadToken), never to a node proxy',
    });
  });
  test('the gateway\'s bound credential on its node gets it', () => {
    assert.deepEqual(authorizeIssuance({ node: 'n1', spiffeId: parseSpiffeId(gw), boundIdentity: gw }, withGateway), { allowed: true });
  });
  test('other ambit-system identities are ordinary workloads', () => {
    const other = 'spiffe://cluster.local/ns/ambit-system/sa/other';
    assert.equal(authorizeIssuance({ node: 'n1', spiffeId: parseSpiffeId(other) }, withGateway).allowed, false);
    assert.equal((authorizeIssuance({ node: 'n1', spiffeId: parseSpiffeId(other) }, withGateway) as { code: string }).code, 'ISSUANCE_NOT_ON_NODE');
  });
});
