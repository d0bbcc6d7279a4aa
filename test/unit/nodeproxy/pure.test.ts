// The node proxy's pure pieces: routing decisions, mTLS mode resolution, the capture rules text
// and the enrollment message parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { route } from '../../../src/nodeproxy/outbound.js';
import { MeshState } from '../../../src/nodeproxy/state.js';
import { captureRules, PROXY_MARK } from '../../../src/nodeproxy/redirect/rules.js';
import { parseEnrollMessage } from '../../../src/nodeproxy/enroll.js';
import { DEFAULT_MESH_SETTINGS } from '../../../src/config/types.js';

const wl = (name: string, ip: string, sa = name, labels: Record<string, string> = {}) => ({
  uid: `default/${name}@1`, name, namespace: 'default', node: 'node-1', ips: [ip], serviceAccount: sa,
  identity: `spiffe://cluster.local/ns/default/sa/${sa}`, labels, waypoint: null,
});

function state(extra: [string, unknown][] = [], mode: 'ALLOW_ANY' | 'REGISTRY_ONLY' = 'ALLOW_ANY'): MeshState {
  const a = wl('a', '10.244.1.5');
  const b = wl('b', '10.244.2.7', 'b', { app: 'b' });
  const resources = new Map<string, unknown>([
    ['workload/default/a', a],
    ['workload/default/b', b],
    ['service/default/b', { name: 'b', namespace: 'default', hostname: 'b.default.svc.cluster.local', vip: '10.96.0.9', ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }], endpoints: [{ workloadUid: b.uid, ip: '10.244.2.7' }] }],
    ['service/default/empty', { name: 'empty', namespace: 'default', hostname: 'empty.default.svc.cluster.local', vip: '10.96.0.10', ports: [{ port: 80, targetPort: 80, protocol: 'TCP' }], endpoints: [] }],
    ['mesh/mesh', { ...DEFAULT_MESH_SETTINGS, outboundTrafficPolicy: { mode } }],
    ...extra,
  ]);
  return new MeshState({ version: 1, storeId: 's', resources });
}

test('route: a pod IP goes to that pod, a VIP to an endpoint on its target port, the rest by outbound policy', () => {
  const s = state();
  assert.deepEqual(route(s, { address: '10.244.2.7', port: 8080 }), { kind: 'mesh', workload: s.workloadByIp('10.244.2.7'), ip: '10.244.2.7', port: 8080, via: 'pod' });
  const v = route(s, { address: '10.96.0.9', port: 80 });
  assert.equal(v.kind, 'mesh');
  assert.deepEqual(v.kind === 'mesh' && [v.ip, v.port, v.workload.name, v.via], ['10.244.2.7', 8080, 'b', 'service default/b']);
  assert.deepEqual(route(s, { address: '10.96.0.9', port: 81 }), { kind: 'refused', flag: 'NO_ROUTE', reason: 'service default/b has no TCP port 81' });
  assert.deepEqual(route(s, { address: '10.96.0.10', port: 80 }), { kind: 'refused', flag: 'UNREACHABLE', reason: 'service default/empty has no ready endpoints' });
  assert.deepEqual(route(s, { address: '198.51.100.1', port: 443 }), { kind: 'passthrough', ip: '198.51.100.1', port: 443 });
  // A mesh address this proxy does not know (its config is behind) is never passed through in clear.
  const withNodes = state([['node/node-2', { name: 'node-2', podCIDR: '10.244.2.0/24' }]]);
  assert.deepEqual(route(withNodes, { address: '10.244.2.99', port: 8080 }), {
    kind: 'refused', flag: 'NO_ROUTE', reason: "10.244.2.99:8080 is in the mesh's address ranges but not in this proxy's configuration (yet)",
  });
  assert.equal(route(withNodes, { address: '10.96.7.7', port: 80 }).kind, 'refused', 'an unknown VIP in the service CIDR too');
  assert.deepEqual(route(state([], 'REGISTRY_ONLY'), { address: '198.51.100.1', port: 443 }), {
    kind: 'refused', flag: 'NO_ROUTE', reason: '198.51.100.1:443 is not in the mesh registry and outboundTrafficPolicy is REGISTRY_ONLY',
  });
});

test('mTLS mode: STRICT by default; the most specific PeerAuthentication wins', () => {
  const pa = (ns: string, name: string, mode: string, selector?: Record<string, string>): [string, unknown] => [
    `peer-authentication/${ns}/${name}`, { name, namespace: ns, spec: { mtls: { mode }, ...(selector ? { selector: { matchLabels: selector } } : {}) } },
  ];
  assert.equal(state().mtlsMode(state().workloadByIp('10.244.2.7')!), 'STRICT');
  const meshWide = state([pa('ambit-system', 'all', 'PERMISSIVE')]);
  assert.equal(meshWide.mtlsMode(meshWide.workloadByIp('10.244.2.7')!), 'PERMISSIVE');
  const nsStrict = state([pa('ambit-system', 'all', 'PERMISSIVE'), pa('default', 'ns', 'STRICT')]);
  assert.equal(nsStrict.mtlsMode(nsStrict.workloadByIp('10.244.2.7')!), 'STRICT');
  const bOnly = state([pa('default', 'ns', 'STRICT'), pa('default', 'b', 'PERMISSIVE', { app: 'b' })]);
  assert.equal(bOnly.mtlsMode(bOnly.workloadByIp('10.244.2.7')!), 'PERMISSIVE');
  assert.equal(bOnly.mtlsMode(bOnly.workloadByIp('10.244.1.5')!), 'STRICT');
});

test('a policy the proxy cannot enforce makes building the state throw (so the version is NACKed)', () => {
  assert.throws(() => state([['authorization-policy/default/bad', { name: 'bad', namespace: 'default', spec: { action: 'AUDIT', rules: [] } }]]), { code: 'INVALID_POLICY' });
});

test('capture rules: proxy-marked sockets and loopback skip; TCP to 15001, DNS to 15053, inbound to 15006 except 15008', () => {
  const r = captureRules();
  assert.match(r, new RegExp(`meta mark & 0xfff == 0x${PROXY_MARK.toString(16)} return`));
  assert.match(r, /udp dport 53 redirect to :15053/);
  assert.match(r, /tcp dport 53 redirect to :15053/);
  assert.match(r, /meta l4proto tcp redirect to :15001/);
  assert.match(r, /tcp dport 15008 return\n\s+meta l4proto tcp redirect to :15006/);
  // What the filter chains drop is counted in named counters, both ways.
  assert.match(r, /counter dropped_out \{\}[\s\S]*counter dropped_in \{\}/);
  assert.match(r, /ct state established,related accept\n\s+counter name dropped_out drop\n\s+\}/);
  assert.match(r, /meta l4proto tcp accept\n\s+counter name dropped_in drop\n\s+\}/);
  // Re-installing is atomic: the table is declared, deleted and defined in one script.
  assert.match(r, /^table ip ambit_capture\ndelete table ip ambit_capture\ntable ip ambit_capture \{/);
});

test('enrollment messages are parsed strictly', () => {
  const pod = { namespace: 'default', name: 'a', ip: '10.244.1.5', netns: '/run/netns/x' };
  assert.deepEqual(parseEnrollMessage(JSON.stringify({ op: 'add', pod })), { op: 'add', pod });
  assert.deepEqual(parseEnrollMessage(JSON.stringify({ op: 'snapshot', pods: [pod] })), { op: 'snapshot', pods: [pod] });
  assert.deepEqual(parseEnrollMessage('{"op":"remove","pod":{"namespace":"default","name":"a"}}'), { op: 'remove', pod: { namespace: 'default', name: 'a' } });
  for (const [line, message] of [
    ['nope', 'Cannot enroll: the message is not JSON'],
    ['{"op":"join"}', 'Cannot enroll: unknown op "join" (expected snapshot, add or remove)'],
    [JSON.stringify({ op: 'add', pod: { ...pod, netns: '' } }), 'Cannot enroll: pod.netns must be a non-empty string, got ""'],
    [JSON.stringify({ op: 'snapshot', pods: [pod, { ...pod, ip: 7 }] }), 'Cannot enroll: pods[1].ip must be a non-empty string, got 7'],
    ['{"op":"snapshot"}', 'Cannot enroll: snapshot.pods must be a list'],
    ['{"op":"remove","pod":{}}', 'Cannot enroll: remove needs pod.namespace and pod.name'],
    ['[1]', 'Cannot enroll: the message must be a JSON object with an op'],
    ['null', 'Cannot enroll: the message must be a JSON object with an op'],
    [JSON.stringify({ op: 'add', pod: { ...pod, hostNetwork: true } }), 'Cannot enroll: pod.hostNetwork is not a known field (known: namespace, name, ip, netns)'],
    [JSON.stringify({ op: 'snapshot', pods: [{ ...pod, uid: 'x' }] }), 'Cannot enroll: pods[0].uid is not a known field (known: namespace, name, ip, netns)'],
    [JSON.stringify({ op: 'add', pod, skipCapture: true }), 'Cannot enroll: skipCapture is not a known field (known: op, pod)'],
    ['{"op":"remove","pod":{"namespace":"default","name":"a","ip":"10.0.0.1"}}', 'Cannot enroll: pod.ip is not a known field (known: namespace, name)'],
  ]) {
    assert.throws(() => parseEnrollMessage(line!), { code: 'ENROLL_INVALID', message }, line);
  }
});

test('closed by default: with no MeshConfig in the stream, an external address is refused (REGISTRY_ONLY, not Istio\'s ALLOW_ANY)', () => {
  const s = new MeshState({ version: 1, storeId: 's', resources: new Map<string, unknown>([['workload/default/a', wl('a', '10.244.1.5')]]) });
  assert.equal(s.mesh.outboundTrafficPolicy.mode, 'REGISTRY_ONLY');
  assert.deepEqual(route(s, { address: '198.51.100.1', port: 443 }), {
    kind: 'refused', flag: 'NO_ROUTE', reason: '198.51.100.1:443 is not in the mesh registry and outboundTrafficPolicy is REGISTRY_ONLY',
  });
});
