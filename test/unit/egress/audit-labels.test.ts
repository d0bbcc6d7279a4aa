// The gateway's metric labels cannot be grown without bound by what a client sends: a refusal is
// labelled by the tunnel's authority host, never by its SNI or Host, and refusals use at most
// REFUSED_HOST_LABELS distinct host values. Real prom-client registry; the log is kept whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createEgressAudit, OTHER_HOSTS, REFUSED_HOST_LABELS, type EgressRecord } from '../../../src/egress/gateway-audit.js';

const base: EgressRecord = { source: 'spiffe://cluster.local/ns/shop/sa/a', authority: 'api.example.com:443', bytesIn: 0, bytesOut: 0, durationMs: 1, verdict: 'refused', code: 'EGRESS_HOST_MISMATCH', reason: 'x' };

async function hostLabels(registry: Registry): Promise<Set<string>> {
  const m = await registry.getSingleMetric('ambit_egress_connections_total')!.get();
  return new Set(m.values.map((v) => String(v.labels.host)));
}

test('refusals with random SNIs add no series: the label is the authority host', async () => {
  const registry = new Registry();
  const lines: Record<string, unknown>[] = [];
  const audit = createEgressAudit(pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) }), registry);
  for (let i = 0; i < 500; i++) audit.record({ ...base, sni: `r${i}.attacker.example` });
  assert.deepEqual([...await hostLabels(registry)], ['api.example.com']);
  assert.equal(lines.filter((l) => String(l.sni).endsWith('.attacker.example')).length, 500, 'every SNI is still in the log');
  audit.record({ ...base, verdict: 'allowed', code: 'ALLOWED', sni: 'api.example.com' });
  assert.ok((await registry.metrics()).includes('host="api.example.com",verdict="allowed"'), 'an allowed connection is labelled by its SNI');
});

test(`at most ${REFUSED_HOST_LABELS} distinct refused hosts, then "${OTHER_HOSTS}"; known ones keep their own`, async () => {
  const registry = new Registry();
  const audit = createEgressAudit(pino({ level: 'silent' }), registry);
  for (let i = 0; i < REFUSED_HOST_LABELS + 200; i++) audit.record({ ...base, authority: `h${i}.example.com:443` });
  audit.record({ ...base, authority: 'h0.example.com:443' });
  const hosts = await hostLabels(registry);
  assert.equal(hosts.size, REFUSED_HOST_LABELS + 1);
  assert.ok(hosts.has(OTHER_HOSTS) && hosts.has('h0.example.com') && !hosts.has(`h${REFUSED_HOST_LABELS}.example.com`));
  const m = await registry.getSingleMetric('ambit_egress_connections_total')!.get();
  assert.equal(m.values.find((v) => v.labels.host === OTHER_HOSTS)?.value, 200);
  assert.equal(m.values.find((v) => v.labels.host === 'h0.example.com')?.value, 2);
});
