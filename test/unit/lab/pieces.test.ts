import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { serviceRules, renderKubeProxy } from '../../../src/lab/kube-proxy.js';
import { netemArgs } from '../../../src/lab/faults.js';
import { assertLabHost } from '../../../src/lab/host-check.js';
import { validateLabName, podNetns, podVethName } from '../../../src/lab/names.js';
import { wrapCommand, AMBIT_MAIN } from '../../../src/lab/processes.js';
import { podResolvConf } from '../../../src/lab/pod-network.js';
import { planLab } from '../../../src/lab/plan.js';
import { defaultLabSpec } from '../../../src/lab/spec.js';
import type { PodResource, ServiceResource } from '../../../src/config/types.js';

const meta = (name: string, labels: Record<string, string> = {}) => ({ name, namespace: 'default', labels, annotations: {} });
const pod = (name: string, labels: Record<string, string>, ip: string | undefined, phase: 'Running' | 'Pending' = 'Running'): PodResource => ({
  kind: 'Pod', apiVersion: 'v1', metadata: meta(name, labels),
  spec: { nodeName: 'node-1', serviceAccountName: 'default', containers: [] },
  status: ip === undefined ? { phase } : { podIP: ip, phase },
});
const svc = (name: string, selector: Record<string, string>, clusterIP?: string): ServiceResource => ({
  kind: 'Service', apiVersion: 'v1', metadata: meta(name),
  spec: { selector, ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }, { port: 53, targetPort: 5353, protocol: 'UDP' }], ...(clusterIP ? { clusterIP } : {}) },
});

describe('kube-proxy rules', () => {
  test('running, selected pods become endpoints; others do not', () => {
    const rules = serviceRules(
      [svc('web', { app: 'web' }, '10.96.0.5'), svc('none', { app: 'none' }, '10.96.0.6'), svc('noip', { app: 'web' })],
      [pod('a', { app: 'web' }, '10.244.1.3'), pod('b', { app: 'web' }, '10.244.2.1'), pod('c', { app: 'web' }, undefined, 'Pending'), pod('d', { app: 'db' }, '10.244.1.9')],
    );
    assert.deepEqual(rules, [
      { clusterIP: '10.96.0.5', port: 53, protocol: 'udp', endpoints: [{ ip: '10.244.1.3', port: 5353 }, { ip: '10.244.2.1', port: 5353 }] },
      { clusterIP: '10.96.0.5', port: 80, protocol: 'tcp', endpoints: [{ ip: '10.244.1.3', port: 8080 }, { ip: '10.244.2.1', port: 8080 }] },
    ]);
    const text = renderKubeProxy(rules);
    assert.match(text, /ip daddr 10\.96\.0\.5 tcp dport 80 dnat ip to numgen random mod 2 map \{ 0 : 10\.244\.1\.3 \. 8080, 1 : 10\.244\.2\.1 \. 8080 \}/);
    assert.match(text, /^delete table ip ambit_lab_kube_proxy$/m);
  });
  test('an empty selector selects nothing', () => {
    assert.deepEqual(serviceRules([svc('all', {}, '10.96.0.7')], [pod('a', { app: 'x' }, '10.244.1.3')]), []);
  });
});

describe('small pieces', () => {
  test('netem arguments are validated', () => {
    assert.deepEqual(netemArgs({ delay: '50ms', loss: '1%' }), ['netem', 'delay', '50ms', 'loss', '1%']);
    assert.throws(() => netemArgs({ delay: '50' }), { code: 'LAB_NETEM_INVALID', message: 'Cannot set --delay "50": expected a duration like 50ms' });
    assert.throws(() => netemArgs({ loss: '1' }), { code: 'LAB_NETEM_INVALID', message: 'Cannot set --loss "1": expected a percentage from 0% to 100% like 1%' });
    assert.throws(() => netemArgs({}), { code: 'LAB_NETEM_INVALID' });
  });
  test('host check: one line that says what is needed', () => {
    assert.throws(() => assertLabHost('linux', 1000), { code: 'LAB_NEEDS_ROOT', message: 'ambit lab: needs root (CAP_NET_ADMIN) to create network namespaces; run with sudo' });
    assert.throws(() => assertLabHost('darwin', 0), { code: 'LAB_NEEDS_LINUX', message: 'ambit lab: needs Linux (network namespaces, veth, nftables); this is darwin' });
    assert.doesNotThrow(() => assertLabHost('linux', 0));
  });
  test('lab names cannot make one prefix match another', () => {
    assert.equal(validateLabName('t123'), 't123');
    for (const bad of ['a-b', '', 'A', 'x'.repeat(21), 'a_b']) {
      assert.throws(() => validateLabName(bad), { code: 'LAB_NAME_INVALID' });
    }
  });
  test('pod names fit kernel limits and are stable', () => {
    const ns = podNetns('t1', 'default', 'a-very-long-pod-name-that-goes-on-and-on');
    assert.match(ns, /^ambit-t1-p-[0-9a-f]{10}$/);
    assert.equal(ns, podNetns('t1', 'default', 'a-very-long-pod-name-that-goes-on-and-on'));
    assert.ok(podVethName('default', 'x').length <= 15);
    assert.notEqual(podVethName('default', 'x'), podVethName('other', 'x'));
  });
  test("pod commands run in the namespace as the pod's own user without capabilities; ambit means this CLI", () => {
    const argv = wrapCommand({ argv: ['ambit', 'app', 'echo'], netns: 'ambit-t1-p-x', user: { uid: 200123, gid: 200123, home: '/run/ambit/t1/homes/200123' } });
    assert.deepEqual(argv.slice(0, 4), ['ip', 'netns', 'exec', 'ambit-t1-p-x']);
    assert.deepEqual(argv.slice(4, 8), ['setpriv', '--reuid=200123', '--regid=200123', '--clear-groups']);
    assert.ok(argv.includes('--inh-caps=-all') && argv.includes('--bounding-set=-all') && argv.includes('--no-new-privs'));
    assert.deepEqual(argv.slice(-4), [process.execPath, AMBIT_MAIN, 'app', 'echo']);
  });
  test('AMBIT_PROFILE_NODE_PROXY profiles node proxies only', () => {
    const before = process.env.AMBIT_PROFILE_NODE_PROXY;
    process.env.AMBIT_PROFILE_NODE_PROXY = '/tmp/prof-x';
    try {
      assert.deepEqual(wrapCommand({ argv: ['ambit', 'node-proxy', '--node', 'n1'] }), [process.execPath, '--initial-old-space-size=32', '--expose-internals', '--cpu-prof', '--cpu-prof-dir=/tmp/prof-x', AMBIT_MAIN, 'node-proxy', '--node', 'n1']);
      assert.deepEqual(wrapCommand({ argv: ['ambit', 'app', 'echo'] }), [process.execPath, AMBIT_MAIN, 'app', 'echo']);
    } finally {
      if (before === undefined) delete process.env.AMBIT_PROFILE_NODE_PROXY;
      else process.env.AMBIT_PROFILE_NODE_PROXY = before;
    }
    assert.deepEqual(wrapCommand({ argv: ['ambit', 'node-proxy'] }), [process.execPath, '--initial-old-space-size=32', '--expose-internals', AMBIT_MAIN, 'node-proxy']);
  });
  test('the relaying daemons (node proxy, egress gateway) start with their heap floor; nothing else does', () => {
    assert.deepEqual(wrapCommand({ argv: ['ambit', 'egress-gateway', '--x'] }), [process.execPath, '--initial-old-space-size=32', '--expose-internals', AMBIT_MAIN, 'egress-gateway', '--x']);
    assert.deepEqual(wrapCommand({ argv: ['ambit', 'control-plane'] }), [process.execPath, AMBIT_MAIN, 'control-plane']);
  });
  test('resolv.conf carries the Kubernetes search path', () => {
    assert.equal(
      podResolvConf(planLab('t1', defaultLabSpec()), 'shop'),
      'nameserver 172.30.0.2\nsearch shop.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n',
    );
  });
});
