// The lab's egress pieces that need no kernel: the node drop table as text, which node gets the
// gateway's exception, which pod is the gateway (and which only look like it), and how it runs.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { renderEgressDrops, egressDropsFor, EGRESS_DROP_TABLE, type EgressDrops } from '../../../src/lab/egress-drops.js';
import { isEgressGatewayPod, egressGatewayArgv, egressGatewayResources, egressGatewayPod, waitForEgressGateway } from '../../../src/lab/egress-gateway.js';
import { planLab } from '../../../src/lab/plan.js';
import { defaultLabSpec } from '../../../src/lab/spec.js';
import { wrapCommand, AMBIT_MAIN } from '../../../src/lab/processes.js';
import { labRunDir } from '../../../src/paths.js';
import { AmbitError } from '../../../src/errors.js';
import type { PodResource } from '../../../src/config/types.js';

const plan = planLab('t1', defaultLabSpec());
const e = plan.egress!;
const [n1, n2] = plan.nodes as [NonNullable<(typeof plan.nodes)[0]>, NonNullable<(typeof plan.nodes)[0]>];

const HEAD = [
  `table ip ${EGRESS_DROP_TABLE} {}`,
  `delete table ip ${EGRESS_DROP_TABLE}`,
  `table ip ${EGRESS_DROP_TABLE} {`,
  '  counter forward_dropped {}',
  '  counter output_dropped {}',
  '  set internet {',
  '    type ipv4_addr; flags interval;',
];

function rendered(elements: string, allow: string[]): string {
  return [
    ...HEAD,
    `    elements = { ${elements} }`,
    '  }',
    '  chain forward {',
    '    type filter hook forward priority 0; policy accept;',
    ...allow,
    '    ip daddr @internet counter name forward_dropped drop',
    '  }',
    '  chain output {',
    '    type filter hook output priority 0; policy accept;',
    '    ip daddr @internet counter name output_dropped drop',
    '  }',
    '}',
    '',
  ].join('\n');
}

describe('egress drops: the table', () => {
  const cases: { name: string; drops: EgressDrops; text: string }[] = [
    {
      name: 'no gateway: forwarded and own traffic to the internet is dropped, whatever the protocol',
      drops: { internet: ['203.0.113.0/24', '172.30.0.254'] },
      text: rendered('203.0.113.0/24, 172.30.0.254', []),
    },
    {
      name: 'the gateway node lets exactly the gateway veth with the gateway address through',
      drops: { internet: ['203.0.113.0/24', '172.30.0.254'], gateway: { veth: 'vp0123456789', ip: '10.244.1.1' } },
      text: rendered('203.0.113.0/24, 172.30.0.254', ['    iifname "vp0123456789" ip saddr 10.244.1.1 ip daddr @internet accept']),
    },
    {
      name: 'another internet CIDR',
      drops: { internet: ['198.18.0.0/15', '172.31.0.62'] },
      text: rendered('198.18.0.0/15, 172.31.0.62', []),
    },
  ];
  for (const c of cases) test(c.name, () => assert.equal(renderEgressDrops(c.drops), c.text));

  test('no protocol match anywhere: TCP, UDP and ICMP are all dropped', () => {
    const text = renderEgressDrops({ internet: ['203.0.113.0/24'], gateway: { veth: 'vpx', ip: '10.244.1.1' } });
    assert.doesNotMatch(text, /\b(tcp|udp|icmp|dport|l4proto)\b/);
  });

  test('refuses what would make a broken or injected rule', () => {
    const bad: { drops: EgressDrops; path: string; message: string }[] = [
      { drops: { internet: [] }, path: 'internet', message: 'Cannot render the egress drops: internet lists no address' },
      { drops: { internet: ['203.0.113.0/24'], gateway: { veth: 'vp" accept', ip: '10.244.1.1' } }, path: 'gateway.veth', message: 'Cannot render the egress drops: gateway.veth "vp\\" accept" is not an interface name' },
      { drops: { internet: ['203.0.113.0/24'], gateway: { veth: 'vp0123456789abcdef', ip: '10.244.1.1' } }, path: 'gateway.veth', message: 'Cannot render the egress drops: gateway.veth "vp0123456789abcdef" is not an interface name' },
    ];
    for (const b of bad) {
      assert.throws(() => renderEgressDrops(b.drops), (err: unknown) => err instanceof AmbitError && err.code === 'LAB_EGRESS_INVALID' && err.path === b.path && err.message === b.message);
    }
  });
});

describe('egress drops: which node lets the gateway out', () => {
  const internet = ['203.0.113.0/24', '172.30.0.254'];
  const cases: { name: string; node: typeof n1; gateway?: { node: string; ip: string }; want: EgressDrops }[] = [
    { name: 'gateway node, gateway running', node: n1, gateway: { node: 'node-1', ip: '10.244.1.1' }, want: { internet, gateway: { veth: e.veth, ip: '10.244.1.1' } } },
    { name: 'gateway node, no gateway yet', node: n1, want: { internet } },
    { name: 'another node, gateway running elsewhere', node: n2, gateway: { node: 'node-1', ip: '10.244.1.1' }, want: { internet } },
    { name: 'a "gateway" on a node the plan does not name', node: n2, gateway: { node: 'node-2', ip: '10.244.2.1' }, want: { internet } },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(egressDropsFor(plan, c.node, c.gateway), c.want));

  test('egress off: no exception anywhere', () => {
    const off = planLab('t1', { ...defaultLabSpec(), egress: { enabled: false, node: 'node-1' } });
    assert.deepEqual(egressDropsFor(off, off.nodes[0]!, { node: 'node-1', ip: '10.244.1.1' }), { internet });
  });
});

describe('egress gateway: the pod the lab deploys', () => {
  test('its command carries every flag, pointing at lab addresses and files', () => {
    assert.deepEqual(egressGatewayArgv(plan, e), [
      'ambit', 'egress-gateway',
      '--node', 'node-1',
      '--control-plane', '172.30.0.2:15012',
      '--token-file', `${labRunDir('t1')}/egress-gateway/token`,
      '--trust-bundle', `${labRunDir('t1')}/mesh-ca.pem`,
      '--pod', 'ambit-system/egress-gateway',
      '--listen', '0.0.0.0:15008',
      '--dns', '203.0.113.53:53',
      '--admin-host', '127.0.0.1',
      '--trust-domain', 'cluster.local',
    ]);
  });

  test('namespace, service account, Service on 15008 selecting app: egress-gateway, then the pod', () => {
    const r = egressGatewayResources(plan, e);
    assert.deepEqual(r.map((x) => `${x.kind} ${x.metadata.namespace ?? ''}/${x.metadata.name}`), [
      'Namespace /ambit-system',
      'ServiceAccount ambit-system/egress-gateway',
      'Service ambit-system/egress-gateway',
      'Pod ambit-system/egress-gateway',
    ]);
    const svc = r[2]!;
    assert.ok(svc.kind === 'Service');
    assert.deepEqual(svc.spec, { selector: { app: 'egress-gateway' }, ports: [{ name: 'hbone', port: 15008, targetPort: 15008, protocol: 'TCP' }] });
    const pod = r[3]!;
    assert.ok(pod.kind === 'Pod');
    assert.deepEqual(pod.metadata.labels, { app: 'egress-gateway' });
    assert.equal(pod.spec.nodeName, 'node-1');
    assert.equal(pod.spec.serviceAccountName, 'egress-gateway');
  });

  const gw = (): PodResource => structuredClone(egressGatewayPod(plan, e));
  const lookalikes: { name: string; change: (p: PodResource) => void }[] = [
    { name: 'another namespace', change: (p) => (p.metadata.namespace = 'default') },
    { name: 'another name', change: (p) => (p.metadata.name = 'egress-gateway-2') },
    { name: 'another node', change: (p) => (p.spec.nodeName = 'node-2') },
    { name: 'another service account', change: (p) => (p.spec.serviceAccountName = 'default') },
    { name: 'another command', change: (p) => (p.spec.containers[0]!.command = ['sh', '-c']) },
    { name: 'an extra argument', change: (p) => p.spec.containers[0]!.args.push('--evil') },
    { name: 'one argument fewer', change: (p) => p.spec.containers[0]!.args.pop() },
    { name: 'an env (NODE_OPTIONS would run code as root)', change: (p) => p.spec.containers[0]!.env.push({ name: 'NODE_OPTIONS', value: '--require /tmp/x.js' }) },
    { name: 'a second container', change: (p) => p.spec.containers.push({ name: 'side', command: ['sleep', 'infinity'], args: [], env: [] }) },
    { name: 'another container name', change: (p) => (p.spec.containers[0]!.name = 'main') },
  ];
  test('the gateway pod exactly as planned is the system pod', () => assert.equal(isEgressGatewayPod(plan, gw()), true));
  for (const l of lookalikes) {
    test(`a pod like it but with ${l.name} is an ordinary pod`, () => {
      const p = gw();
      l.change(p);
      assert.equal(isEgressGatewayPod(plan, p), false);
    });
  }
  test('with egress off, nothing is the system pod', () => {
    const off = planLab('t1', { ...defaultLabSpec(), egress: { enabled: false, node: 'node-1' } });
    assert.equal(isEgressGatewayPod(off, gw()), false);
  });

  test('the system pod runs like every pod: its own non-root user, every capability dropped', () => {
    assert.deepEqual(wrapCommand({ argv: ['ambit', 'egress-gateway'], netns: 'ns1', user: { uid: 200007, gid: 200007, home: '/h' } }), [
      'ip', 'netns', 'exec', 'ns1', 'setpriv', '--reuid=200007', '--regid=200007', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--', process.execPath, '--initial-old-space-size=32', '--expose-internals', AMBIT_MAIN, 'egress-gateway',
    ]);
    assert.ok(!wrapCommand({ argv: ['sleep', '1'], netns: 'ns1', user: { uid: 200008, gid: 200008, home: '/h' } }).some((a) => /^--re[ug]id=0$/.test(a)));
  });
});

describe('egress gateway: waiting for it', () => {
  test('a gateway that never comes up fails `up` with LAB_TIMEOUT naming its log', async () => {
    // No agent state for this lab: the pod is never built, so the wait runs out.
    const ghost = planLab('ghost1', defaultLabSpec());
    const log = `${labRunDir('ghost1')}/logs/pods/ambit-system/egress-gateway/gateway.log`;
    await assert.rejects(waitForEgressGateway(ghost, 200), (err: unknown) => {
      assert.ok(err instanceof AmbitError);
      assert.equal(err.code, 'LAB_TIMEOUT');
      assert.equal(err.message, `Cannot start the egress gateway: it was not ready within 200 ms (the lab agent has not built its pod yet; log ${log}: (no output yet))`);
      return true;
    });
  });
});

