// The node proxy's own checks on a verified CONNECT, before policy: the authority must name the
// pod this HBONE listener serves, and never one of the node proxy's ports. A mesh identity that
// could name another pod would reach it through this pod's proxy, with this pod's standing; each
// refusal is a 400, counted and access-logged with both identities. No socket is dialled: every
// case is refused before the app is, and the allowed control case is refused by policy instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { DEFAULT_MESH_SETTINGS } from '../../../src/config/index.js';
import { acceptTunnel, type InboundContext } from '../../../src/nodeproxy/inbound.js';
import { MeshState } from '../../../src/nodeproxy/state.js';
import { Telemetry } from '../../../src/nodeproxy/telemetry.js';

const wl = (name: string, ip: string) => ({
  uid: `default/${name}@1`, name, namespace: 'default', node: 'node-2', ips: [ip], serviceAccount: name,
  identity: `spiffe://cluster.local/ns/default/sa/${name}`, labels: { app: name }, waypoint: null,
});
const WEB = { namespace: 'default', name: 'web', ip: '10.244.2.5', netns: '/run/netns/unused' };
const PEER = 'spiffe://cluster.local/ns/default/sa/client';

function context(): { ctx: InboundContext; lines: Record<string, unknown>[]; telemetry: Telemetry } {
  const state = new MeshState({
    version: 1, storeId: 's', resources: new Map<string, unknown>([
      ['mesh/mesh', DEFAULT_MESH_SETTINGS],
      ['workload/default/web', wl('web', WEB.ip)],
      ['workload/default/other', wl('other', '10.244.2.6')],
      ['workload/default/client', wl('client', '10.244.1.7')],
      // Only "nobody" may reach web: the control case below ends at policy, not at the app.
      ['authorization-policy/default/web-allow', { name: 'web-allow', namespace: 'default', spec: { action: 'ALLOW', selector: { matchLabels: { app: 'web' } }, rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/nobody'] } }] }] } }],
    ]),
  });
  const lines: Record<string, unknown>[] = [];
  const telemetry = new Telemetry(pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) }));
  const ctx: InboundContext = { state: () => state, workloadOf: async () => state.workloadByName('default', 'web')!, telemetry, log: pino({ level: 'silent' }), open: new Set() };
  return { ctx, lines, telemetry };
}

for (const [what, authority, reason] of [
  ['an authority naming another pod on the node', { host: '10.244.2.6', port: 8080 }, 'CONNECT authority 10.244.2.6:8080 does not name this pod (10.244.2.5)'],
  ['an authority naming a pod elsewhere', { host: '10.244.1.7', port: 8080 }, 'CONNECT authority 10.244.1.7:8080 does not name this pod (10.244.2.5)'],
  ['an authority naming the node proxy\'s own HBONE port', { host: WEB.ip, port: 15008 }, 'CONNECT authority 10.244.2.5:15008 names a port of the node proxy itself'],
  ['an authority naming the node proxy\'s outbound port', { host: WEB.ip, port: 15001 }, 'CONNECT authority 10.244.2.5:15001 names a port of the node proxy itself'],
] as const) {
  test(`${what} gets 400, counted and logged with both identities`, async () => {
    const { ctx, lines, telemetry } = context();
    const v = await acceptTunnel(ctx, WEB, PEER, authority);
    assert.deepEqual(v, { status: 400, reason });
    const line = lines.find((l) => l.access === true);
    assert.ok(line, 'an access line');
    assert.deepEqual(
      [line.flag, line.reason, line.sourcePrincipal, line.sourceWorkload, line.destinationPrincipal, line.destinationWorkload, line.destinationAddress],
      ['BAD_REQUEST', reason, 'cluster.local/ns/default/sa/client', 'client', 'cluster.local/ns/default/sa/web', 'web', `${authority.host}:${authority.port}`],
    );
    assert.match(await telemetry.registry.metrics(), /ambit_tcp_connections_failed_total\{direction="inbound",source_workload="client",[^}]*destination_workload="web",[^}]*response_flag="BAD_REQUEST"\} 1/);
  });
}

test('control: the pod\'s own address and an app port pass these checks and reach policy (DENY here)', async () => {
  const { ctx, lines } = context();
  const v = await acceptTunnel(ctx, WEB, PEER, { host: WEB.ip, port: 8080 });
  assert.equal(v.status, 401);
  assert.equal(lines.find((l) => l.access === true)?.flag, 'DENY');
});

for (const peer of ['spiffe://cluster.local/controlplane', 'spiffe://cluster.local/x/ns/default/sa/client/y', 'spiffe://cluster.local']) {
  test(`a peer whose identity is not a workload's (${peer}) is denied (401, DENY), not failed as unreachable`, async () => {
    const { ctx, lines, telemetry } = context();
    const v = await acceptTunnel(ctx, WEB, peer, { host: WEB.ip, port: 8080 });
    const reason = `peer identity ${peer} is not a workload identity (/ns/<namespace>/sa/<service-account>)`;
    assert.deepEqual(v, { status: 401, reason });
    const line = lines.find((l) => l.access === true);
    assert.ok(line, 'an access line');
    assert.deepEqual([line.flag, line.reason, line.sourceNamespace, line.destinationWorkload], ['DENY', reason, 'unknown', 'web']);
    assert.match(await telemetry.registry.metrics(), /ambit_tcp_connections_failed_total\{direction="inbound",[^}]*destination_workload="web",[^}]*response_flag="DENY"\} 1/);
  });
}
