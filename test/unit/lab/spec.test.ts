import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseLabFile, parseLabSpec, defaultLabSpec } from '../../../src/lab/spec.js';
import { planLab } from '../../../src/lab/plan.js';
import { AmbitError } from '../../../src/errors.js';
import { podNetns, podVethName } from '../../../src/lab/names.js';
import { labRunDir } from '../../../src/paths.js';
import { join } from 'node:path';

const head = 'apiVersion: ambit.dev/v1alpha1\nkind: Lab\n';

function err(text: string): { code: string; message: string; path?: string } {
  try {
    parseLabFile(text, 'lab.yaml');
  } catch (e) {
    assert.ok(e instanceof AmbitError);
    return e.path === undefined ? { code: e.code, message: e.message } : { code: e.code, message: e.message, path: e.path };
  }
  assert.fail('expected an error');
}

describe('lab spec', () => {
  test('defaults: 2 nodes, 10.244.<i>.0/24, no hosts, no reuse', () => {
    const s = defaultLabSpec();
    assert.deepEqual(s.nodes, [
      { name: 'node-1', podCIDR: '10.244.1.0/24' },
      { name: 'node-2', podCIDR: '10.244.2.0/24' },
    ]);
    assert.equal(s.ipam.reuseFreed, false);
    assert.deepEqual(s.mesh, { enabled: true }, 'the mesh runs by default');
    assert.deepEqual(s.egress, { enabled: true, node: 'node-1' }, 'and with it the egress gateway, on the first node');
    assert.equal(s.underlayCIDR, '172.30.0.0/24');
    assert.deepEqual(s.internet, { cidr: '203.0.113.0/24', dnsAddress: '203.0.113.53', hosts: [] });
  });

  test('a full file: nodes list, hosts, ipam and extra resources', () => {
    const f = parseLabFile(
      `${head}metadata: { name: demo }\nspec:\n  nodes: [{ name: a }, { name: b, podCIDR: 10.250.0.0/16 }]\n  ipam: { reuseFreed: true }\n` +
        '  internet:\n    hosts:\n      - names: [api.example.com, www.example.com]\n        ports: [{ port: 443 }, { port: 80, protocol: HTTP }]\n' +
        '      - names: [evil.example.net]\n        address: 203.0.113.99\n        certificate: { names: [api.example.com] }\n' +
        '---\napiVersion: v1\nkind: Pod\nmetadata: { name: p }\n',
      'lab.yaml',
    );
    assert.equal(f.name, 'demo');
    assert.deepEqual(f.spec.nodes, [
      { name: 'a', podCIDR: '10.244.1.0/24' },
      { name: 'b', podCIDR: '10.250.0.0/16' },
    ]);
    assert.equal(f.spec.ipam.reuseFreed, true);
    assert.deepEqual(f.spec.internet.hosts, [
      {
        names: ['api.example.com', 'www.example.com'],
        address: '203.0.113.10',
        ports: [{ port: 443, protocol: 'HTTPS' }, { port: 80, protocol: 'HTTP' }],
        certificateNames: ['api.example.com', 'www.example.com'],
      },
      { names: ['evil.example.net'], address: '203.0.113.99', ports: [{ port: 443, protocol: 'HTTPS' }], certificateNames: ['api.example.com'] },
    ]);
    assert.match(f.resourcesText, /kind: Pod/);
    assert.doesNotMatch(f.resourcesText, /kind: Lab/);
  });

  test('a file without a Lab document uses the default spec for the lab', () => {
    const f = parseLabFile('apiVersion: v1\nkind: Namespace\nmetadata: { name: x }\n', 'x.yaml');
    assert.equal(f.spec.nodes.length, 2);
    assert.match(f.resourcesText, /Namespace/);
  });

  test('unknown fields name their path', () => {
    assert.deepEqual(err(`${head}spec:\n  nodez: 3\n`), {
      code: 'LAB_SPEC_INVALID',
      message: 'Cannot read lab spec: spec.nodez is not a known field (known: nodes, underlayCIDR, ipam, mesh, egress, internet) (got 3)',
      path: 'spec.nodez',
    });
    assert.equal(err(`${head}spec:\n  internet: { hosts: [{ names: [a.example.com], tls: true }] }\n`).path, 'spec.internet.hosts[0].tls');
    assert.equal(err(`${head}spec:\n  ipam: { reuse: true }\n`).path, 'spec.ipam.reuse');
    assert.equal(err(`${head}spec:\n  mesh: { enable: false }\n`).path, 'spec.mesh.enable');
    assert.deepEqual(err(`${head}spec:\n  mesh: { enabled: "no" }\n`), {
      code: 'LAB_SPEC_INVALID',
      message: 'Cannot read lab spec: spec.mesh.enabled must be true or false (got "no")',
      path: 'spec.mesh.enabled',
    });
  });

  test('bad values name path and value', () => {
    assert.deepEqual(err(`${head}spec:\n  nodes: 0\n`), {
      code: 'LAB_SPEC_INVALID',
      message: 'Cannot read lab spec: spec.nodes must be an integer from 1 to 50 (got 0)',
      path: 'spec.nodes',
    });
    assert.deepEqual(err(`${head}spec:\n  nodes: [{ name: a, podCIDR: 10.244.1.0/24 }, { name: b, podCIDR: 10.244.0.0/16 }]\n`), {
      code: 'LAB_SPEC_INVALID',
      message: 'Cannot read lab spec: spec.nodes[1].podCIDR overlaps spec.nodes[0].podCIDR (got "10.244.0.0/16")',
      path: 'spec.nodes[1].podCIDR',
    });
    assert.deepEqual(err(`${head}spec:\n  nodes: [{ name: a, podCIDR: 10.96.0.0/24 }]\n`), {
      code: 'LAB_SPEC_INVALID',
      message: 'Cannot read lab spec: spec.nodes[0].podCIDR overlaps the default Service CIDR 10.96.0.0/16 (got "10.96.0.0/24")',
      path: 'spec.nodes[0].podCIDR',
    });
    assert.equal(err(`${head}spec:\n  nodes: [{ name: Bad_Name }]\n`).path, 'spec.nodes[0].name');
    assert.equal(err(`${head}spec:\n  nodes: [{ name: a }, { name: a }]\n`).path, 'spec.nodes[1].name');
    assert.equal(err(`${head}spec:\n  internet: { hosts: [{ names: [api.example.com], address: 198.51.100.1 }] }\n`).path, 'spec.internet.hosts[0].address');
    assert.equal(err(`${head}spec:\n  internet: { hosts: [{ names: [web.default.svc.cluster.local] }] }\n`).path, 'spec.internet.hosts[0].names[0]');
    assert.equal(err(`${head}spec:\n  internet: { hosts: [{ names: [a.example.com], ports: [{ port: 443, protocol: UDP }] }] }\n`).path, 'spec.internet.hosts[0].ports[0].protocol');
    assert.equal(err(`${head}spec:\n  internet: { hosts: [{ names: [a.example.com] }, { names: [a.example.com] }] }\n`).path, 'spec.internet.hosts[1]');
    assert.deepEqual(err('apiVersion: v1\nkind: Lab\n'), {
      code: 'LAB_SPEC_INVALID',
      message: 'Cannot read lab spec: apiVersion must be "ambit.dev/v1alpha1" (got "v1")',
      path: 'apiVersion',
    });
  });

  test('two Lab documents are an error', () => {
    assert.deepEqual(err(`${head}---\n${head}`), {
      code: 'LAB_SPEC_INVALID',
      message: 'Cannot read lab spec lab.yaml: document 2 is a second kind: Lab',
      path: 'lab.yaml',
    });
  });
});

describe('lab spec: egress', () => {
  const spec = (body: string) => parseLabFile(`${head}spec:\n${body}`, 'lab.yaml').spec;
  const cases: { body: string; egress: { enabled: boolean; node: string } }[] = [
    { body: '  nodes: 2\n', egress: { enabled: true, node: 'node-1' } },
    { body: '  mesh: { enabled: false }\n', egress: { enabled: false, node: 'node-1' } },
    { body: '  mesh: { enabled: true }\n  egress: { enabled: false }\n', egress: { enabled: false, node: 'node-1' } },
    { body: '  egress: { node: node-2 }\n', egress: { enabled: true, node: 'node-2' } },
    { body: '  egress: {}\n', egress: { enabled: true, node: 'node-1' } },
    { body: '  nodes: [{ name: a }, { name: b }]\n', egress: { enabled: true, node: 'a' } },
    { body: '  nodes: [{ name: a }, { name: b }]\n  egress: { enabled: true, node: b }\n', egress: { enabled: true, node: 'b' } },
  ];
  for (const c of cases) {
    test(`parses ${JSON.stringify(c.body)}`, () => assert.deepEqual(spec(c.body).egress, c.egress));
  }

  const bad: { body: string; path: string; message: string }[] = [
    { body: '  egress: { enabled: true, nodes: node-1 }\n', path: 'spec.egress.nodes', message: 'Cannot read lab spec: spec.egress.nodes is not a known field (known: enabled, node) (got "node-1")' },
    { body: '  egress: { enabled: "yes" }\n', path: 'spec.egress.enabled', message: 'Cannot read lab spec: spec.egress.enabled must be true or false (got "yes")' },
    { body: '  egress: { enabled: false, node: node-2 }\n', path: 'spec.egress.node', message: 'Cannot read lab spec: spec.egress.node has no effect while egress is disabled (remove it, or enable egress) (got "node-2")' },
    { body: '  egress: { node: node-3 }\n', path: 'spec.egress.node', message: 'Cannot read lab spec: spec.egress.node is not a lab node (nodes: node-1, node-2) (got "node-3")' },
    { body: '  egress: { node: "" }\n', path: 'spec.egress.node', message: 'Cannot read lab spec: spec.egress.node must be a non-empty string (got "")' },
    { body: '  egress: { node: 1 }\n', path: 'spec.egress.node', message: 'Cannot read lab spec: spec.egress.node must be a non-empty string (got 1)' },
    { body: '  egress: true\n', path: 'spec.egress', message: 'Cannot read lab spec: spec.egress must be a mapping (got true)' },
    {
      body: '  mesh: { enabled: false }\n  egress: { enabled: true }\n',
      path: 'spec.egress.enabled',
      message: 'Cannot read lab spec: spec.egress.enabled needs spec.mesh.enabled: true (the egress gateway is a mesh workload) (got true)',
    },
  ];
  for (const c of bad) {
    test(`refuses ${JSON.stringify(c.body)}`, () => assert.deepEqual(err(`${head}spec:\n${c.body}`), { code: 'LAB_SPEC_INVALID', message: c.message, path: c.path }));
  }

  test('the plan: the gateway pod, its veth, token and identity; none when egress is off', () => {
    const p = planLab('t1', spec('  egress: { node: node-2 }\n'));
    assert.deepEqual(p.egress, {
      node: 'node-2',
      nodeNetns: 'ambit-t1-n-node-2',
      namespace: 'ambit-system',
      pod: 'egress-gateway',
      service: 'egress-gateway',
      serviceAccount: 'egress-gateway',
      container: 'gateway',
      identity: 'spiffe://cluster.local/ns/ambit-system/sa/egress-gateway',
      trustDomain: 'cluster.local',
      netns: podNetns('t1', 'ambit-system', 'egress-gateway'),
      veth: podVethName('ambit-system', 'egress-gateway'),
      tokenFile: join(labRunDir('t1'), 'egress-gateway', 'token'),
      hbonePort: 15008,
      adminHost: '127.0.0.1',
      readinessPort: 15021,
      configDumpPort: 15000,
    });
    assert.equal(planLab('t1', spec('  mesh: { enabled: false }\n')).egress, undefined);
    assert.equal(planLab('t1', spec('  egress: { enabled: false }\n')).egress, undefined);
  });

  test('a spec built in code with egress but no mesh is refused by the plan too', () => {
    const s = { ...defaultLabSpec(), mesh: { enabled: false } };
    assert.throws(() => planLab('t1', s), (e: unknown) => e instanceof AmbitError && e.code === 'LAB_SPEC_INVALID' && e.path === 'spec.egress.enabled');
  });
});

describe('lab plan', () => {
  test('addresses and names derive from lab name and spec', () => {
    const { spec } = parseLabSpec({ apiVersion: 'ambit.dev/v1alpha1', kind: 'Lab', spec: { nodes: 3 } });
    const p = planLab('t1', spec);
    assert.equal(p.underlay.netns, 'ambit-t1-underlay');
    assert.equal(p.cp.netns, 'ambit-t1-cp');
    assert.equal(p.cp.ip, '172.30.0.2');
    assert.equal(p.inet.ip, '172.30.0.254');
    assert.deepEqual(p.nodes.map((n) => [n.name, n.netns, n.ip, n.uplink]), [
      ['node-1', 'ambit-t1-n-node-1', '172.30.0.11', 'ul1'],
      ['node-2', 'ambit-t1-n-node-2', '172.30.0.12', 'ul2'],
      ['node-3', 'ambit-t1-n-node-3', '172.30.0.13', 'ul3'],
    ]);
    assert.equal(p.clusterDnsIP, '172.30.0.2');
  });
});
