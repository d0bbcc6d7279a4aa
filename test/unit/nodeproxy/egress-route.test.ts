// route() for external traffic: egress VIPs go to the gateway by name; unknown VIPs, raw external
// IPs (with a gateway) and gateways that do not prove the gateway identity are refused; without a
// gateway the old rules hold. Table-driven over both outboundTrafficPolicy modes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { route, type Route } from '../../../src/nodeproxy/outbound.js';
import { EgressVips } from '../../../src/nodeproxy/egress-vips.js';
import { egressState, GATEWAY_IDENTITY, GATEWAY_IP, IMPOSTOR_IP, type EgressStateOptions, type Mode } from './egress-state.js';

const vips = new EgressVips(undefined, { firstOffset: 1 });
const API = vips.allocate('api.example.com'); // 240.240.0.1
const WILD = vips.allocate('svc1.foo.example'); // 240.240.0.2
const GONE = vips.allocate('old.example.net'); // handed out under ALLOW_ANY, not in the registry

/** A compact view of a route: what the table compares. */
function shape(r: Route): string {
  switch (r.kind) {
    case 'egress': return `egress ${r.authority} via ${r.gateway.ip} expecting ${r.identity} (vip ${r.vip})`;
    case 'refused': return `refused ${r.flag}: ${r.reason}${r.destination ? ` [${r.destination}]` : ''}`;
    case 'passthrough': return `passthrough ${r.ip}:${r.port}`;
    case 'mesh': return `mesh ${r.ip}:${r.port}`;
  }
}

const toGateway = (name: string, port: number, vip: string): string => `egress ${name}:${port} via ${GATEWAY_IP} expecting ${GATEWAY_IDENTITY} (vip ${vip})`;
const RAW_REFUSED = (at: string): string => `refused NO_ROUTE: ${at} is outside the mesh and external traffic leaves only through the egress gateway, which needs a host name: dial external hosts by name (resolved by the mesh's DNS), not by IP address`;
const UNKNOWN_VIP = (at: string): string => `refused NO_ROUTE: ${at} is an egress address this node proxy did not hand out (it may have restarted since the name was resolved): resolve the host name again`;

const cases: { name: string; modes: Mode[]; state?: EgressStateOptions; dst: [string, number]; want: string }[] = [
  { name: 'VIP of an exact ServiceEntry host', modes: ['ALLOW_ANY', 'REGISTRY_ONLY'], dst: [API, 443], want: toGateway('api.example.com', 443, API) },
  { name: 'the port is the original destination port (the gateway decides on ports)', modes: ['ALLOW_ANY', 'REGISTRY_ONLY'], dst: [API, 8443], want: toGateway('api.example.com', 8443, API) },
  { name: 'VIP of a name under a wildcard host', modes: ['ALLOW_ANY', 'REGISTRY_ONLY'], dst: [WILD, 443], want: toGateway('svc1.foo.example', 443, WILD) },
  { name: 'VIP of an unregistered name under ALLOW_ANY still goes to the gateway (audited)', modes: ['ALLOW_ANY'], dst: [GONE, 443], want: toGateway('old.example.net', 443, GONE) },
  {
    name: 'VIP of a name no longer in the registry under REGISTRY_ONLY is refused early', modes: ['REGISTRY_ONLY'], dst: [GONE, 443],
    want: `refused NO_ROUTE: old.example.net:443 (egress address ${GONE}) is no longer named by any ServiceEntry and outboundTrafficPolicy is REGISTRY_ONLY [old.example.net:443]`,
  },
  { name: 'a VIP this proxy never handed out (restart)', modes: ['ALLOW_ANY', 'REGISTRY_ONLY'], dst: ['240.240.9.9', 443], want: UNKNOWN_VIP('240.240.9.9:443') },
  { name: 'a raw external IP with a gateway', modes: ['ALLOW_ANY', 'REGISTRY_ONLY'], dst: ['198.51.100.1', 443], want: RAW_REFUSED('198.51.100.1:443') },
  { name: 'a raw external IP without a gateway, ALLOW_ANY: passthrough as before', modes: ['ALLOW_ANY'], state: { gateway: false }, dst: ['198.51.100.1', 443], want: 'passthrough 198.51.100.1:443' },
  {
    name: 'a raw external IP without a gateway, REGISTRY_ONLY: refused as before', modes: ['REGISTRY_ONLY'], state: { gateway: false }, dst: ['198.51.100.1', 443],
    want: 'refused NO_ROUTE: 198.51.100.1:443 is not in the mesh registry and outboundTrafficPolicy is REGISTRY_ONLY',
  },
  {
    name: 'a VIP without a gateway', modes: ['ALLOW_ANY', 'REGISTRY_ONLY'], state: { gateway: false }, dst: [API, 443],
    want: `refused NO_ROUTE: ${API}:443 is an egress address, but the mesh has no egress gateway (no Service ambit-system/egress-gateway)`,
  },
  {
    name: 'the gateway Service selects only pods with another identity', modes: ['ALLOW_ANY', 'REGISTRY_ONLY'], state: { endpoints: [{ workloadUid: 'ambit-system/impostor@1', ip: IMPOSTOR_IP }] }, dst: [API, 443],
    want: `refused UNREACHABLE: egress gateway ambit-system/egress-gateway has no ready endpoint running as ${GATEWAY_IDENTITY} [api.example.com:443]`,
  },
  {
    name: 'the gateway Service with no endpoints at all still blocks raw IPs', modes: ['ALLOW_ANY', 'REGISTRY_ONLY'], state: { endpoints: [] }, dst: ['198.51.100.1', 80], want: RAW_REFUSED('198.51.100.1:80'),
  },
  { name: 'mesh traffic is untouched by the gateway', modes: ['ALLOW_ANY', 'REGISTRY_ONLY'], dst: ['10.244.1.5', 8080], want: 'mesh 10.244.1.5:8080' },
  {
    name: 'an unknown mesh address is still refused as a mesh address', modes: ['ALLOW_ANY', 'REGISTRY_ONLY'], dst: ['10.244.1.99', 80],
    want: "refused NO_ROUTE: 10.244.1.99:80 is in the mesh's address ranges but not in this proxy's configuration (yet)",
  },
];

for (const c of cases) {
  for (const mode of c.modes) {
    test(`route (${mode}): ${c.name}`, () => {
      const s = egressState({ ...c.state, mode });
      // Always pick the last endpoint: the impostor, were it ever a candidate, would then be chosen.
      const got = route(s, { address: c.dst[0], port: c.dst[1] }, { egress: vips, pick: (n) => n - 1 });
      assert.equal(shape(got), c.want);
    });
  }
}

test('state: only endpoints running as the gateway identity are the gateway; the rest is listed as ignored', () => {
  const gw = egressState().egressGateway!;
  assert.equal(gw.identity, GATEWAY_IDENTITY);
  assert.deepEqual(gw.endpoints.map((e) => [e.ip, e.workload.name]), [[GATEWAY_IP, 'egress-gateway-0']]);
  assert.deepEqual(gw.ignored, [{ ip: IMPOSTOR_IP, workloadUid: 'ambit-system/impostor@1', why: `runs as spiffe://cluster.local/ns/ambit-system/sa/default, not ${GATEWAY_IDENTITY}` }]);
  const unknown = egressState({ endpoints: [{ workloadUid: 'ambit-system/ghost@1', ip: '10.244.3.9' }, { workloadUid: 'ambit-system/egress-gateway-0@1', ip: '10.244.3.77' }] }).egressGateway!;
  assert.deepEqual(unknown.endpoints, []);
  assert.deepEqual(unknown.ignored.map((i) => i.why), ['no workload with that uid in the config', 'workload ambit-system/egress-gateway-0 does not have IP 10.244.3.77']);
  assert.equal(egressState({ gateway: false }).egressGateway, undefined);
  assert.equal(egressState().serviceEntryHosts.match('a.b.foo.example'), '*.foo.example');
});

test('egress VIPs: stable per name, never reused, exhaustion says what happened', () => {
  const t = new EgressVips('240.240.7.0/30', { firstOffset: 1 });
  assert.equal(t.capacity, 2);
  assert.equal(t.allocate('a.example.com'), '240.240.7.1');
  assert.equal(t.allocate('b.example.com'), '240.240.7.2');
  assert.equal(t.allocate('a.example.com'), '240.240.7.1');
  assert.equal(t.nameOf('240.240.7.2'), 'b.example.com');
  assert.equal(t.nameOf('240.240.7.3'), undefined);
  assert.equal(t.isEgressAddress('240.240.7.3'), true);
  assert.equal(t.isEgressAddress('240.240.8.1'), false);
  assert.throws(() => t.allocate('c.example.com'), {
    code: 'EGRESS_VIP_EXHAUSTED',
    message: 'Cannot allocate an egress address for "c.example.com": all 2 addresses of 240.240.7.0/30 are in use by other names; this node proxy never reuses one while it runs (restart it to start over)',
  });
  assert.throws(() => new EgressVips('240.240.7.0/31'), { code: 'EGRESS_VIP_RANGE_INVALID' });
});

test('egress VIPs: a table starts at a random place and wraps round, so a restarted proxy rarely hands a cached VIP to another name', () => {
  const starts = new Set(Array.from({ length: 20 }, () => new EgressVips().firstOffset));
  assert.ok(starts.size >= 15, `20 tables, ${starts.size} different starts`);
  const t = new EgressVips('240.240.7.0/29', { firstOffset: 5 });
  assert.deepEqual(['a', 'b', 'c', 'd', 'e', 'f'].map((n) => t.allocate(`${n}.example.com`)), ['240.240.7.5', '240.240.7.6', '240.240.7.1', '240.240.7.2', '240.240.7.3', '240.240.7.4'], 'from 5, wrapping past the broadcast address to 1');
  assert.throws(() => t.allocate('g.example.com'), { code: 'EGRESS_VIP_EXHAUSTED' });
  assert.throws(() => new EgressVips('240.240.7.0/29', { firstOffset: 7 }), { code: 'EGRESS_VIP_RANGE_INVALID', message: /firstOffset must be a whole number from 1 to 6, got 7/ });
});

