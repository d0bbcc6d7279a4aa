// What a proxy does with a delta it cannot use: NACK it with the offending field, keep the version
// it holds, and keep running. Before, `upserts: [null]` threw out of the socket's data handler
// (the process exited and resending crashed it again), and `reset: "no"`, an unknown field or a
// mistyped mode were applied. Test double: the "socket" is a PassThrough standing in for the TLS
// stream, so the client's own message handler runs on the frames as they would arrive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { ConfigStreamClient, deltaProblem } from '../../../src/stream/client.js';
import { readFrames } from '../../../src/stream/protocol.js';
import type { Delta } from '../../../src/stream/protocol.js';

const MESH = { trustDomain: 'cluster.local', outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' }, certificateTTLSeconds: 86400, rootNamespace: 'ambit-system', serviceCIDR: '10.96.0.0/16', egressForbiddenUpstreams: [] };
const base = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  type: 'delta', version: 2, baseVersion: 0, reset: true, storeId: 's1', upserts: [{ key: 'mesh/mesh', value: MESH }], removes: [], ...over,
});

function client(): { c: ConfigStreamClient; send: (msg: Record<string, unknown>) => void; replies: Record<string, unknown>[] } {
  const c = new ConfigStreamClient({
    address: '127.0.0.1:1', node: 'node-1', token: 't', trustBundle: '', serverIdentity: 'spiffe://cluster.local/ns/ambit-system/sa/control-plane', log: pino({ level: 'silent' }),
  });
  const sock = new PassThrough();
  const replies: Record<string, unknown>[] = [];
  readFrames(sock, (m) => replies.push(m), () => undefined);
  const onMessage = (c as unknown as { onMessage: (s: PassThrough, m: Record<string, unknown>) => void }).onMessage.bind(c);
  return { c, send: (msg) => onMessage(sock, msg), replies };
}

test('a good delta is applied and ACKed', () => {
  const { c, send, replies } = client();
  send(base());
  assert.deepEqual(replies, [{ type: 'ack', version: 2 }]);
  assert.equal(c.state.version, 2);
});

for (const [what, over, error] of [
  ['an upsert that is null', { upserts: [null] }, /^malformed delta: upserts\[0\]: must be \{key: string, value\}, got null$/],
  ['an upsert whose key is a number', { upserts: [{ key: 5, value: {} }] }, /^malformed delta: upserts\[0\]: must be \{key: string, value\}, got \{"key":5,"value":\{\}\}$/],
  ['reset that is not a boolean', { reset: 'no' }, /^malformed delta: reset: must be true or false, got "no"$/],
  ['an unknown field on the delta', { bogusField: 1 }, /^malformed delta: unknown field "bogusField"/],
  ['a version that is not a whole number', { version: 2.5 }, /^malformed delta: version: must be a whole number, got 2.5$/],
  ['removes that are not keys', { removes: [7] }, /^malformed delta: removes: must be a list of keys/],
  ['a mistyped outbound mode (fail open if read as ALLOW_ANY)', { upserts: [{ key: 'mesh/mesh', value: { ...MESH, outboundTrafficPolicy: { mode: 'REGISTRY-ONLY' } } }] }, /spec\.outboundTrafficPolicy\.mode: must be one of REGISTRY_ONLY, ALLOW_ANY, got "REGISTRY-ONLY"/],
  ['a mistyped mTLS mode', { upserts: [{ key: 'peer-authentication/d/p', value: { name: 'p', namespace: 'd', spec: { mtls: { mode: 'PERMISIVE' } } } }] }, /spec\.mtls\.mode: must be one of STRICT, PERMISSIVE, got "PERMISIVE"/],
  ['an unknown field in a workload', { upserts: [{ key: 'workload/d/a', value: { uid: 'u', name: 'a', namespace: 'd', node: 'n', ips: [], serviceAccount: 's', identity: 'spiffe://td/ns/d/sa/s', labels: {}, waypoint: null, bogusField: 1 } }] }, /workload\/d\/a: bogusField: unknown field/],
] as const) {
  test(`${what}: NACKed with the offending field, the held version kept, the process unharmed`, () => {
    const { c, send, replies } = client();
    send(base());
    const nacks: string[] = [];
    c.on('nack', (_v, e) => nacks.push(e));
    assert.doesNotThrow(() => send(base({ version: 3, ...over })));
    assert.equal(replies.length, 2);
    assert.equal(replies[1]!.type, 'nack');
    assert.match(String(replies[1]!.error), error);
    assert.match(nacks[0] ?? '', error);
    assert.equal(c.state.version, 2, 'the version held before stays');
    assert.deepEqual(c.state.resources.get('mesh/mesh'), MESH);
  });
}

test('deltaProblem passes the control plane\'s own shape (incremental, after a version)', () => {
  assert.equal(deltaProblem(base({ reset: false, baseVersion: 2, version: 3, upserts: [], removes: ['workload/d/a'] }) as unknown as Delta), undefined);
});

test('a rejected version still hands over the resources of it that decoded (the revocations must not wait for a fix)', () => {
  const { c, send, replies } = client();
  send(base());
  const rejected: [number, ReadonlyMap<string, unknown>][] = [];
  c.on('rejected', (v, decoded) => rejected.push([v, decoded]));
  const revocations = { nodes: { 'node-2': 1_700_000_000 }, credentials: [] };
  send(base({ version: 3, upserts: [
    { key: 'revocations/mesh', value: revocations },
    { key: 'peer-authentication/d/p', value: { name: 'p', namespace: 'd', spec: { mtls: { mode: 'PERMISIVE' } } } },
  ] }));
  assert.equal(replies[1]!.type, 'nack');
  assert.equal(c.state.version, 2, 'the version is not applied');
  assert.equal(rejected.length, 1);
  assert.equal(rejected[0]![0], 3);
  assert.deepEqual(rejected[0]![1].get('revocations/mesh'), revocations, 'the revocations that decoded are handed over');
  assert.equal(rejected[0]![1].has('peer-authentication/d/p'), false, 'what did not decode is not');
  // Also when the delta is based on another version than the proxy holds.
  send(base({ version: 5, baseVersion: 4, reset: false, upserts: [{ key: 'revocations/mesh', value: revocations }] }));
  assert.equal(replies[2]!.type, 'nack');
  assert.deepEqual(rejected[1]?.[1].get('revocations/mesh'), revocations);
  // A malformed envelope hands over nothing.
  send(base({ version: 6, bogusField: 1, upserts: [{ key: 'revocations/mesh', value: revocations }] }));
  assert.equal(rejected.length, 2);
});

test('a singleton under another key is refused: a version holds one list of revocations, one mesh, one trust bundle', () => {
  const { c, send, replies } = client();
  send(base());
  send(base({ version: 3, upserts: [{ key: 'revocations/other', value: { nodes: {}, credentials: [] } }] }));
  assert.equal(replies[1]!.type, 'nack');
  assert.match(String(replies[1]!.error), /revocations\/other: a revocations resource is a singleton, keyed revocations\/mesh only/);
  assert.equal(c.state.version, 2);
});
