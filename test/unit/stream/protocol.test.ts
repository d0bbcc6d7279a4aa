import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { readFrames, writeFrame } from '../../../src/stream/protocol.js';
import { decodeResource, resourcesByType, WIRE_TYPES } from '../../../src/stream/resources.js';
import type { AmbitError } from '../../../src/errors.js';

function collect(limit?: number) {
  const sock = new PassThrough();
  const msgs: Record<string, unknown>[] = [];
  const errs: AmbitError[] = [];
  readFrames(sock, (m) => msgs.push(m), (e) => errs.push(e), limit);
  return { sock, msgs, errs };
}

test('frames split across chunks and several frames in one chunk are both read', () => {
  const { sock, msgs } = collect();
  const a = new PassThrough();
  const bufs: Buffer[] = [];
  a.on('data', (d: Buffer) => bufs.push(d));
  writeFrame(a, { type: 'ack', version: 1 });
  writeFrame(a, '{"type":"ack","version":2}');
  const all = Buffer.concat(bufs);
  for (let i = 0; i < all.length; i += 3) sock.write(all.subarray(i, i + 3));
  assert.deepEqual(msgs, [{ type: 'ack', version: 1 }, { type: 'ack', version: 2 }]);
});

for (const [name, bytes, code, message] of [
  ['an oversized length', Buffer.from([0, 0, 0x10, 0]), 'STREAM_FRAME_TOO_LARGE', 'Cannot read a config-stream frame: 4096 bytes is over the limit of 1024'],
  ['a body that is not JSON', Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from('{x}')]), 'STREAM_FRAME_INVALID', 'Cannot read a config-stream frame: it is not valid JSON'],
  ['JSON without a type', Buffer.concat([Buffer.from([0, 0, 0, 2]), Buffer.from('[]')]), 'STREAM_FRAME_INVALID', 'Cannot read a config-stream frame: not an object with a "type"'],
] as const) {
  test(`${name} is refused and the connection closed`, () => {
    const { sock, msgs, errs } = collect(1024);
    sock.write(bytes);
    assert.equal(msgs.length, 0);
    assert.equal(errs[0]?.code, code);
    assert.equal(errs[0]?.message, message);
    assert.equal(sock.destroyed, true);
  });
}

test('stream resources are decoded strictly', () => {
  const good = { uid: 'u', name: 'a', namespace: 'd', node: 'n', ips: ['10.0.0.1'], serviceAccount: 's', identity: 'spiffe://td/ns/d/sa/s', labels: {}, waypoint: null };
  assert.deepEqual(decodeResource('workload/d/a', good), []);
  assert.deepEqual(decodeResource('workload/d/a', { ...good, identity: '10.0.0.1' }), ['workload/d/a: identity: must be a spiffe:// URI']);
  assert.deepEqual(decodeResource('workload/d/a', { ...good, ips: [1] }), ['workload/d/a: ips: must be a list of strings']);
  assert.deepEqual(decodeResource('gadget/x', {}), ['gadget/x: unknown resource type']);
  assert.deepEqual(decodeResource('mesh/mesh', 'x'), ['mesh/mesh: must be an object']);
});

test('destination-rule resources must carry exactly the origination shape (the config parser, run again)', () => {
  const good = { name: 'r', namespace: 'shop', spec: { host: 'api.example.com', trafficPolicy: { tls: { mode: 'SIMPLE', caCertificates: '/ca.pem' } } } };
  assert.deepEqual(decodeResource('destination-rule/shop/r', good), []);
  const error = (why: string): string => `destination-rule/shop/r: Cannot apply DestinationRule "shop/r" (from the config stream): ${why}`;
  assert.deepEqual(decodeResource('destination-rule/shop/r', { ...good, spec: { ...good.spec, trafficPolicy: { tls: { mode: 'DISABLE', caCertificates: '/ca.pem' } } } }), [error('spec.trafficPolicy.tls.mode: "DISABLE" is not supported by ambit: a DestinationRule in ambit exists only to originate TLS')]);
  assert.deepEqual(decodeResource('destination-rule/shop/r', { ...good, spec: { ...good.spec, trafficPolicy: { tls: { mode: 'SIMPLE', caCertificates: 'ca.pem' } } } }), [error('spec.trafficPolicy.tls.caCertificates: must be an absolute path to a PEM bundle on the egress gateway\'s machine, got "ca.pem"')]);
  assert.deepEqual(decodeResource('destination-rule/shop/r', { ...good, spec: { trafficPolicy: good.spec.trafficPolicy } }), [error('spec.host: required')]);
  assert.deepEqual(decodeResource('destination-rule/shop/r', { ...good, owner: 'x' }), ['destination-rule/shop/r: owner: unknown field (known: name, namespace, spec)']);
});

test('policies, service entries and mesh settings are checked as the control plane parsed them: no unknown action, mode or field', () => {
  const mesh = { trustDomain: 'cluster.local', outboundTrafficPolicy: { mode: 'ALLOW_ANY' }, certificateTTLSeconds: 86400, rootNamespace: 'ambit-system', serviceCIDR: '10.96.0.0/16' };
  assert.deepEqual(decodeResource('mesh/mesh', mesh), []);
  assert.deepEqual(decodeResource('mesh/mesh', { ...mesh, bogusField: 1 }), ['mesh/mesh: Cannot apply MeshConfig "mesh" (from the config stream): spec.bogusField: unknown field']);
  assert.deepEqual(decodeResource('authorization-policy/d/p', { name: 'p', namespace: 'd', spec: { action: 'ALLOW', rules: [{ from: [{ source: { principals: ['cluster.local/ns/d/sa/a'] } }] }] } }), []);
  assert.deepEqual(decodeResource('authorization-policy/d/p', { name: 'p', namespace: 'd', spec: { action: 'DENNY', rules: [] } }), ['authorization-policy/d/p: Cannot apply AuthorizationPolicy "d/p" (from the config stream): spec.action: must be one of ALLOW, DENY, got "DENNY"']);
  assert.deepEqual(decodeResource('service-entry/d/e', { name: 'e', namespace: 'd', spec: { hosts: ['api.example.com'], ports: [{ number: 443, name: 'https', protocol: 'TLS' }], resolution: 'DNS', location: 'MESH_EXTERNAL', bogus: true } }).length, 1);
});

test('a version\'s resources grouped by type: every wire type present (empty when absent), values in the version\'s order, unknown keys left out', () => {
  const resources = new Map<string, unknown>([
    ['workload/shop/a', { name: 'a' }],
    ['node/n1', { name: 'n1', podCIDR: '10.244.1.0/24' }],
    ['workload/shop/b', { name: 'b' }],
    ['mesh/mesh', { trustDomain: 'cluster.local' }],
    ['gadget/x', { name: 'x' }],
  ]);
  const r = resourcesByType(resources);
  assert.deepEqual(Object.keys(r).sort(), [...WIRE_TYPES].sort());
  assert.deepEqual(r.workload.map((w) => w.name), ['a', 'b']);
  assert.deepEqual(r.node.map((n) => n.podCIDR), ['10.244.1.0/24']);
  assert.equal(r.mesh.length, 1);
  assert.deepEqual(r['trust-bundle'], []);
  assert.equal(Object.values(r).flat().length, 4, 'the unknown type is not grouped anywhere');
});
