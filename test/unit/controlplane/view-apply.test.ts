import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Store } from '../../../src/store/index.js';
import { ConfigView } from '../../../src/controlplane/view.js';
import { applyResources, deleteResources, setPodStatus } from '../../../src/controlplane/apply.js';
import { parseDocuments } from '../../../src/config/index.js';
import type { WireService, WireWorkload } from '../../../src/stream/resources.js';

const docs = (y: string) => parseDocuments(y, 'test');
const pod = (name: string, labels = '{app: web}', node = 'node-1') =>
  `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, labels: ${labels}}\nspec: {nodeName: ${node}, containers: [{name: c, command: [sleep, "1"]}]}\n`;
const svc = (name: string, extra = '') => `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}}\nspec: {selector: {app: web}, ports: [{port: 80}]${extra}}\n`;

function setup() {
  const store = Store.memory();
  const view = new ConfigView(store, ['ROOT']);
  return { store, view };
}

test('services get ClusterIPs from the service CIDR; re-apply keeps them; a changed clusterIP is refused', () => {
  const { store, view } = setup();
  const r = applyResources(store, view, docs(svc('a') + '---\n' + svc('b')));
  assert.deepEqual(r.map((x) => [x.action, x.resource.kind === 'Service' && x.resource.spec.clusterIP]), [['created', '10.96.0.2'], ['created', '10.96.0.3']]);
  assert.equal(applyResources(store, view, docs(svc('a')))[0]!.action, 'unchanged');
  assert.throws(() => applyResources(store, view, docs(svc('a', ', clusterIP: 10.96.0.9'))), {
    code: 'FIELD_IMMUTABLE',
    message: 'Cannot apply Service "default/a": spec.clusterIP is immutable (it is 10.96.0.2), got "10.96.0.9"',
  });
  assert.throws(() => applyResources(store, view, docs(svc('c', ', clusterIP: 10.96.0.3'))), { code: 'CLUSTER_IP_TAKEN', message: /already used by Service\/default\/b/ });
  assert.throws(() => applyResources(store, view, docs(svc('d', ', clusterIP: 10.1.0.3'))), { code: 'CLUSTER_IP_INVALID' });
  for (const [ip, what] of [['10.96.0.0', 'network'], ['10.96.255.255', 'broadcast']] as const) {
    assert.throws(() => applyResources(store, view, docs(svc('e', `, clusterIP: ${ip}`))), { code: 'CLUSTER_IP_INVALID', path: 'spec.clusterIP', message: new RegExp(`spec\\.clusterIP ${ip.replaceAll('.', '\\.')} is the ${what} address of the service CIDR 10\\.96\\.0\\.0/16`) });
  }
});

test('a request is all or nothing: one bad object leaves the store untouched', () => {
  const { store, view } = setup();
  const bad = docs(pod('ok') + '---\n' + pod('other')).map((r, i) => (i === 1 ? { ...r, metadata: { ...r.metadata, namespace: 'missing' } } : r));
  assert.throws(() => applyResources(store, view, bad), { code: 'NAMESPACE_NOT_FOUND', message: /namespace "missing" does not exist/ });
  assert.equal(store.revision, 0);
  assert.throws(() => applyResources(store, view, [...docs(pod('x')), ...docs(pod('x'))]), { code: 'APPLY_DUPLICATE' });
});

test('the view derives workloads with identity and service endpoints that follow pod IPs and labels', () => {
  const { store, view } = setup();
  applyResources(store, view, docs(svc('web') + '---\n' + pod('w1') + '---\n' + pod('w2')));
  setPodStatus(store, 'default', 'w1', { podIP: '10.244.1.5', phase: 'Running' });
  const wl = view.value('workload/default/w1') as WireWorkload;
  assert.equal(wl.identity, 'spiffe://cluster.local/ns/default/sa/default');
  assert.deepEqual(wl.ips, ['10.244.1.5']);
  assert.deepEqual((view.value('service/default/web') as WireService).endpoints.map((e) => e.ip), ['10.244.1.5']);
  // Relabelling a pod out of the selector removes it from the endpoints.
  applyResources(store, view, docs(pod('w1', '{app: other}')));
  assert.deepEqual((view.value('service/default/web') as WireService).endpoints, []);
  assert.throws(() => setPodStatus(store, 'default', 'nope', { podIP: '10.0.0.1' }), { code: 'NOT_FOUND' });
  assert.throws(() => setPodStatus(store, 'default', 'w2', { podIP: '10.0.0.256' }), { code: 'INVALID_IPV4', path: 'status.podIP', message: /^Cannot set pod "default\/w2" status\.podIP: / });
});

test('a pod IP outside its node\'s podCIDR is refused, naming both (a proxy not knowing the pod yet would take it for an outside address)', () => {
  const { store, view } = setup();
  applyResources(store, view, docs('apiVersion: v1\nkind: Node\nmetadata: {name: node-1}\nspec: {podCIDR: 10.244.1.0/24}\n---\n' + pod('w1')));
  assert.throws(() => setPodStatus(store, 'default', 'w1', { podIP: '10.244.2.5', phase: 'Running' }), {
    code: 'POD_IP_OUTSIDE_NODE_CIDR', path: 'status.podIP',
    message: 'Cannot set pod "default/w1" status.podIP to 10.244.2.5: it is outside the podCIDR 10.244.1.0/24 of its node node-1',
  });
  assert.equal(store.get('Pod/default/w1')?.resource.kind === 'Pod' && (store.get('Pod/default/w1')!.resource as { status?: unknown }).status, undefined, 'nothing stored');
  setPodStatus(store, 'default', 'w1', { podIP: '10.244.1.5', phase: 'Running' });
  assert.deepEqual((view.value('workload/default/w1') as WireWorkload).ips, ['10.244.1.5']);
});

test('deltas carry exactly what changed since a version; unknown or foreign versions get a reset', () => {
  const { store, view } = setup();
  applyResources(store, view, docs(pod('a') + '---\n' + pod('b')));
  const v1 = view.version;
  applyResources(store, view, docs(pod('c')));
  deleteResources(store, [{ kind: 'Pod', name: 'a' }]);
  const d = view.deltaSince(v1, true);
  assert.equal(d.reset, false);
  assert.deepEqual(d.upserts.map((u) => u.key), ['workload/default/c']);
  assert.deepEqual(d.removes, ['workload/default/a']);
  const none = view.deltaSince(view.version, true);
  assert.deepEqual([none.upserts.length, none.removes.length], [0, 0]);
  const reset = view.deltaSince(v1, false);
  assert.equal(reset.reset, true);
  assert.deepEqual(reset.upserts.map((u) => u.key).sort(), ['mesh/mesh', 'trust-bundle/mesh', 'workload/default/b', 'workload/default/c']);
  applyResources(store, view, docs('apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nspec: {podCIDR: 10.244.1.0/24}\n'));
  assert.deepEqual(view.value('node/n1'), { name: 'n1', podCIDR: '10.244.1.0/24' }, 'nodes carry their pod CIDR to proxies');
  assert.equal(view.deltaSince(view.version + 5, true).reset, true);
});

test('a re-created pod gets a new workload UID (a new incarnation is a new workload)', () => {
  const { store, view } = setup();
  applyResources(store, view, docs(pod('a')));
  const first = (view.value('workload/default/a') as WireWorkload).uid;
  deleteResources(store, [{ kind: 'Pod', name: 'a' }]);
  applyResources(store, view, docs(pod('a')));
  assert.notEqual((view.value('workload/default/a') as WireWorkload).uid, first);
});

test('changing the trust domain in MeshConfig re-derives every identity', () => {
  const { store, view } = setup();
  applyResources(store, view, docs(pod('a')));
  applyResources(store, view, docs('apiVersion: ambit.dev/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec: {trustDomain: example.org}\n'));
  assert.equal((view.value('workload/default/a') as WireWorkload).identity, 'spiffe://example.org/ns/default/sa/default');
});
