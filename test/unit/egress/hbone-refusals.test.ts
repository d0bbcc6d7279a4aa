// How the gateway audits a refusal the HBONE server made itself: the server's verified peer,
// authority and address win; without them, the source says why it is unknown. The audit sink is
// a plain array (what the real audit would log is tested in gateway.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SOURCE_NO_HANDSHAKE, hboneRefusalAudit } from '../../../src/egress/hbone-refusals.js';
import type { EgressRecord } from '../../../src/egress/gateway-audit.js';

const PEER = 'spiffe://cluster.local/ns/default/sa/app-a';

function auditInto(): { records: EgressRecord[]; refusals: ReturnType<typeof hboneRefusalAudit> } {
  const records: EgressRecord[] = [];
  return { records, refusals: hboneRefusalAudit({ record: (r) => records.push(r) }) };
}

test('a refusal after onTunnel failed is audited with the verified source, authority and address', () => {
  const { records, refusals } = auditInto();
  refusals.onRefused('UNREACHABLE', 'onTunnel failed: boom', { peer: PEER, authority: 'api.example.com:443', remote: '10.244.1.5' });
  assert.equal(records.length, 1);
  assert.deepEqual(
    { source: records[0]!.source, authority: records[0]!.authority, sourceAddress: records[0]!.sourceAddress, code: records[0]!.code, verdict: records[0]!.verdict, reason: records[0]!.reason },
    { source: PEER, authority: 'api.example.com:443', sourceAddress: '10.244.1.5', code: 'HBONE_UNREACHABLE', verdict: 'refused', reason: 'onTunnel failed: boom' },
  );
});

test('a connection-level refusal with no context has an unknown source, and says so', () => {
  const { records, refusals } = auditInto();
  refusals.onRefused('HANDSHAKE_TIMEOUT', 'no TLS handshake within 10000 ms');
  assert.equal(records[0]!.source, SOURCE_NO_HANDSHAKE);
  assert.equal(records[0]!.authority, '-');
  assert.equal(records[0]!.sourceAddress, undefined);
});

test('a refusal the gateway already audited itself is skipped once', () => {
  const { records, refusals } = auditInto();
  refusals.alreadyAudited('policy said no');
  refusals.onRefused('DENY', 'policy said no', { peer: PEER });
  refusals.onRefused('DENY', 'policy said no', { peer: PEER });
  assert.equal(records.length, 1, 'the second one is a new refusal');
});
