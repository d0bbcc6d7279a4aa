// What the control plane puts on the wire, a proxy must decode: one resource it cannot would be
// NACKed in every later delta too (each is computed from the last ACKed version), freezing that
// proxy for good. The view is built by the control plane's own apply path from YAML using the
// optional fields each kind has: selectors, named ports, STATIC and DNS endpoints, podCIDRs and
// node addresses or none, policies of both actions, PERMISSIVE, mesh settings, a DestinationRule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Store } from '../../../src/store/index.js';
import { ConfigView, meshOnTheWire } from '../../../src/controlplane/view.js';
import { applyResources, setPodStatus } from '../../../src/controlplane/apply.js';
import { parseDocuments } from '../../../src/config/index.js';
import { decodeResource, decodeResourceValue, WIRE_TYPES, wireTypeOf } from '../../../src/stream/resources.js';
import { DEFAULT_MESH_SETTINGS } from '../../../src/config/types.js';

const YAML = `
apiVersion: v1
kind: Node
metadata: { name: node-1 }
spec: { podCIDR: 10.244.1.0/24, addresses: [172.30.0.11, 192.168.7.11] }
---
apiVersion: v1
kind: Node
metadata: { name: node-2 }
spec: {}
---
apiVersion: v1
kind: Pod
metadata: { name: web, namespace: default, labels: { app: web, tier: front } }
spec: { nodeName: node-1, serviceAccountName: web, containers: [{ name: c, command: [sleep, "1"] }] }
---
apiVersion: v1
kind: Pod
metadata: { name: idle, namespace: default }
spec: { nodeName: node-2, containers: [{ name: c, command: [sleep, "1"] }] }
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: default }
spec:
  selector: { app: web }
  ports: [{ name: http, port: 80, targetPort: 8080 }, { port: 9000, protocol: UDP }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow, namespace: default }
spec:
  selector: { matchLabels: { app: web } }
  action: ALLOW
  rules:
    - from: [{ source: { principals: [cluster.local/ns/default/sa/client], notNamespaces: [evil] } }]
      to: [{ operation: { ports: ["8080"], notPorts: ["9000"] } }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-all, namespace: other }
spec: { action: DENY, rules: [{}] }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: permissive, namespace: default }
spec: { selector: { matchLabels: { app: web } }, mtls: { mode: PERMISSIVE } }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: api, namespace: default }
spec:
  hosts: [api.example.com, "*.foo.example"]
  ports: [{ number: 443, name: tls, protocol: TLS }]
  resolution: DNS
  location: MESH_EXTERNAL
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: fixed, namespace: default }
spec:
  hosts: [fixed.example.com]
  ports: [{ number: 443, name: tls, protocol: TLS, targetPort: 8443 }]
  resolution: STATIC
  location: MESH_EXTERNAL
  endpoints: [{ address: 203.0.113.7 }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: api-tls, namespace: default }
spec:
  host: api.example.com
  trafficPolicy: { tls: { mode: SIMPLE, caCertificates: /etc/ambit/ca.pem } }
---
apiVersion: ambit.dev/v1alpha1
kind: MeshConfig
metadata: { name: mesh }
spec: { outboundTrafficPolicy: { mode: REGISTRY_ONLY }, certificateTTLSeconds: 3600, egressForbiddenUpstreams: [{ cidr: 10.20.0.0/16, reason: corp network }] }
`;

test('every resource the control plane derives decodes on a proxy, of every wire type', () => {
  const store = Store.memory();
  const view = new ConfigView(store, ['-----BEGIN CERTIFICATE-----\nROOT\n-----END CERTIFICATE-----\n'], { nodes: { 'node-9': 1_700_000_000 }, credentials: ['c2VjcmV0'] });
  for (const ns of ['other']) applyResources(store, view, parseDocuments(`apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns} }\n`, 'test'));
  applyResources(store, view, parseDocuments(YAML, 'test'));
  setPodStatus(store, 'default', 'web', { podIP: '10.244.1.5', phase: 'Running' });
  const plan = view.deltaSince(0, false);
  const types = new Set<string>();
  for (const u of plan.upserts) {
    types.add(wireTypeOf(u.key)!);
    assert.deepEqual(decodeResource(u.key, JSON.parse(u.json)), [], `${u.key}: ${u.json}`);
    // A proxy applies the parser's output; on the control plane's own output it is the same value.
    assert.deepEqual(decodeResourceValue(u.key, JSON.parse(u.json)).value, u.key === 'mesh/mesh' ? view.mesh() : JSON.parse(u.json), `${u.key} applied as the control plane holds it`);
  }
  assert.deepEqual([...types].sort(), [...WIRE_TYPES].sort(), 'the view above covers every wire type');
});

test('a mesh setting added later is left off the wire while empty (older proxies refuse unknown fields), and filled in by the proxy', () => {
  assert.equal('egressForbiddenUpstreams' in meshOnTheWire(DEFAULT_MESH_SETTINGS), false);
  const set = { ...DEFAULT_MESH_SETTINGS, egressForbiddenUpstreams: [{ cidr: '10.20.0.0/16' }] };
  assert.deepEqual(meshOnTheWire(set), set);
  assert.deepEqual(decodeResourceValue('mesh/mesh', meshOnTheWire(DEFAULT_MESH_SETTINGS)).value, DEFAULT_MESH_SETTINGS);
});

test('a proxy applies the parsed value, with the parser\'s defaults, not the raw one beside it', () => {
  const mesh = decodeResourceValue('mesh/mesh', { certificateTTLSeconds: 60 });
  assert.deepEqual(mesh.problems, []);
  assert.deepEqual(mesh.value, { ...DEFAULT_MESH_SETTINGS, certificateTTLSeconds: 60 });
  const rule = decodeResourceValue('destination-rule/shop/r', { name: 'r', namespace: 'shop', spec: { host: 'api.example.com', trafficPolicy: { tls: { mode: 'SIMPLE', caCertificates: '/ca.pem' } } } });
  assert.deepEqual(rule.problems, []);
  assert.equal((rule.value as { name: string }).name, 'r', 'name and namespace kept');
  const bad = decodeResourceValue('mesh/mesh', { serviceCIDR: 'x' });
  assert.equal(bad.problems.length, 1);
});

test('revocations go on the wire only once something is revoked, and a proxy refuses a malformed list whole', () => {
  const store = Store.memory();
  const view = new ConfigView(store, []);
  const keys = (): string[] => view.deltaSince(0, false).upserts.map((u) => u.key);
  assert.equal(keys().includes('revocations/mesh'), false, 'nothing revoked: no resource (proxies from before it keep accepting every version)');
  const v0 = view.version;
  view.setRevocations({ nodes: { 'node-2': 1_700_000_000 }, credentials: [] });
  assert.equal(view.version, v0 + 1, 'a revocation is a new version');
  const delta = view.deltaSince(v0, true);
  assert.deepEqual(delta.upserts.map((u) => [u.key, JSON.parse(u.json)]), [['revocations/mesh', { nodes: { 'node-2': 1_700_000_000 }, credentials: [] }]], 'the delta carries just the list');
  view.setRevocations(undefined);
  assert.deepEqual(view.deltaSince(v0 + 1, true).removes, ['revocations/mesh']);

  assert.deepEqual(decodeResource('revocations/mesh', { nodes: { 'node-2': 5 }, credentials: ['a'] }), []);
  assert.deepEqual(decodeResource('revocations/mesh', { nodes: { 'node-2': 1.5 }, credentials: [] }), ['revocations/mesh: nodes."node-2": must be a whole number of Unix seconds, got 1.5']);
  assert.deepEqual(decodeResource('revocations/mesh', { nodes: { 'node-2': '5' }, credentials: [] }), ['revocations/mesh: nodes."node-2": must be a whole number of Unix seconds, got "5"']);
  assert.deepEqual(decodeResource('revocations/mesh', { nodes: [], credentials: [] }), ['revocations/mesh: nodes: must be an object of node name to Unix seconds, got []']);
  assert.deepEqual(decodeResource('revocations/mesh', { nodes: {}, credentials: [7] }), ['revocations/mesh: credentials: must be a list of strings']);
  assert.deepEqual(decodeResource('revocations/mesh', { nodes: {}, credentials: [], serials: [] }), ['revocations/mesh: serials: unknown field (known: nodes, credentials)']);
});
