// One lab shared by the tests in this file: plain routing between pods on two nodes, Services,
// pod privileges, containment, reconcile, fault knobs, and a `down` that leaves nothing.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { teardownLab, capEff, isAlive, execInPod, labStatus, readLabState, netnsInode, pidsInNetns, listNetns, POD_UID_BASE } from '../../../src/lab/index.js';
import { run } from '../../../src/lab/shell.js';
import { podVethName } from '../../../src/lab/names.js';
import { httpFromPod, apply, cli, cliOk, deletePod, labTraces, serverPod, sleeperPod, waitFor, waitPod, waitPodGone, podOf } from './helpers.js';

const LAB = `e${process.pid}`;
const LAB_RANGES = /(172\.30\.|10\.244\.|203\.0\.113\.|169\.254\.1\.1)/;

const LAB_FILE = `apiVersion: ambit.dev/v1alpha1
kind: Lab
spec:
  nodes: 2
  # Plain routing: these tests are about the lab itself, before any mesh component.
  mesh: { enabled: false }
  internet:
    hosts:
      - names: [api.example.com]
        ports: [{ port: 443, protocol: HTTPS }]
---
${serverPod('server', 'node-2', { app: 'web' })}---
${sleeperPod('client', 'node-1')}---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: default }
spec:
  selector: { app: web }
  ports: [{ port: 80, targetPort: 8080 }]
`;

async function curl(pod: string, url: string, extra: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  return execInPod(LAB, 'default', pod, ['curl', '-sS', '-m', '3', ...extra, url], { timeoutMs: 10000 });
}

describe('lab (shared, 2 nodes)', () => {
  let dir = '';
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ambit-lab-e2e-'));
    writeFileSync(join(dir, 'lab.yaml'), LAB_FILE);
    const out = await cliOk(['lab', 'up', '--name', LAB, '-f', join(dir, 'lab.yaml')]);
    assert.match(out, /creating underlay, 2 nodes, control-plane and internet namespaces\.\.\. ok \(\d+ ms\)/);
    assert.match(out, new RegExp(`lab ${LAB} is up`));
    await waitPod(LAB, 'server');
    await waitPod(LAB, 'client');
    await httpFromPod(LAB, 'client', 'http://web/', 'hello from server\n');
  });
  after(async () => {
    await cli(['lab', 'down', '--name', LAB]);
    await teardownLab(LAB); // also when the CLI itself cannot run
    rmSync(dir, { recursive: true, force: true });
  });

  test('up on a healthy lab is refused', async () => {
    const r = await cli(['lab', 'up', '--name', LAB]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `ambit: Cannot bring lab ${LAB} up: lab ${LAB} is already up (use --replace, or \`ambit lab down --name ${LAB}\`)\n`);
  });

  test('pods on two nodes reach each other by IP and by service name', async () => {
    const server = podOf(LAB, 'server')!;
    assert.equal(server.node, 'node-2');
    assert.match(server.ip!, /^10\.244\.2\.\d+$/);
    assert.match(podOf(LAB, 'client')!.ip!, /^10\.244\.1\.\d+$/);
    assert.equal((await curl('client', `http://${server.ip}:8080/`)).stdout, 'hello from server\n');
    assert.equal((await curl('client', 'http://web/')).stdout, 'hello from server\n');
    assert.equal((await curl('client', 'http://web.default.svc.cluster.local/')).stdout, 'hello from server\n');
    // and back: the server pod reaches the client's node
    const back = await execInPod(LAB, 'default', 'server', ['curl', '-sS', '-m', '3', `http://${server.ip}:8080/`]);
    assert.equal(back.stdout, 'hello from server\n');
  });

  test('the control plane allocated the ClusterIP that the node kube-proxy DNATs', async () => {
    const svc = JSON.parse(await cliOk(['get', 'service', 'web', '-n', 'default', '-o', 'json', '--lab', LAB])) as unknown;
    const s = (Array.isArray(svc) ? svc[0] : (svc as { items?: unknown[] }).items?.[0] ?? svc) as { spec: { clusterIP: string } };
    assert.match(s.spec.clusterIP, /^10\.96\.\d+\.\d+$/);
    assert.equal((await curl('client', `http://${s.spec.clusterIP}/`)).stdout, 'hello from server\n');
  });

  test("a pod's app process has CapEff 0, runs as its pod's own non-root uid and cannot touch nftables", async () => {
    const server = podOf(LAB, 'server')!;
    const pid = server.containers[0]!.pid;
    const uid = server.uid!;
    assert.ok(uid >= POD_UID_BASE, `pod uid ${uid}`);
    assert.notEqual(uid, podOf(LAB, 'client')!.uid, 'each pod its own uid');
    assert.equal(capEff(pid), 0n);
    assert.match(readFileSync(`/proc/${pid}/status`, 'utf8'), new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, 'm'));
    const list = await execInPod(LAB, 'default', 'client', ['nft', 'list', 'ruleset']);
    assert.notEqual(list.code, 0);
    assert.match(list.stderr, /Operation not permitted/);
    const add = await execInPod(LAB, 'default', 'client', ['nft', 'add', 'table', 'ip', 'pwn']);
    assert.notEqual(add.code, 0);
    const flush = await execInPod(LAB, 'default', 'client', ['nft', 'flush', 'ruleset']);
    assert.notEqual(flush.code, 0);
  });

  test('a pod cannot reach any address outside the lab; the root namespace has no lab address or route', async () => {
    const hostAddrs = (await run('ip', ['-o', '-4', 'addr', 'show'])).stdout
      .split('\n')
      .map((l) => /inet (\d+\.\d+\.\d+\.\d+)/.exec(l)?.[1])
      .filter((a): a is string => a !== undefined && !a.startsWith('127.'));
    let accepted = 0;
    const listener = net.createServer((s) => {
      accepted++;
      s.destroy();
    });
    await new Promise<void>((r) => listener.listen(0, '0.0.0.0', r));
    const port = (listener.address() as net.AddressInfo).port;
    try {
      for (const a of [...hostAddrs, '127.0.0.1']) {
        const r = await curl('client', `http://${a}:${port}/`, ['--connect-timeout', '1']);
        assert.notEqual(r.code, 0, `pod reached ${a}:${port}`);
      }
      assert.equal(accepted, 0);
    } finally {
      listener.close();
    }
    const routeOut = await execInPod(LAB, 'default', 'client', ['ip', 'route', 'get', '192.0.2.1']);
    assert.match(routeOut.stdout, /via 169\.254\.1\.1 dev eth0/);
    const fromNode = await run('ip', ['netns', 'exec', readLabState(LAB)!.plan.nodes[0]!.netns, 'ip', 'route', 'get', '192.0.2.1'], { allowFail: true });
    assert.match(fromNode.stderr, /Network is unreachable/, 'a node has no default route out');
    const root = `${(await run('ip', ['-o', 'addr'])).stdout}\n${(await run('ip', ['route', 'show', 'table', 'all'])).stdout}`;
    assert.doesNotMatch(root, LAB_RANGES);
  });

  test('pods resolve internet names through the cluster DNS and trust the lab public CA', async () => {
    const r = await execInPod(LAB, 'default', 'client', ['getent', 'hosts', 'api.example.com']);
    assert.match(r.stdout, /^203\.0\.113\.10\s+api\.example\.com/);
    const bundle = await execInPod(LAB, 'default', 'client', ['grep', '-c', 'BEGIN CERTIFICATE', '/etc/ssl/certs/ca-certificates.crt']);
    const host = readFileSync('/etc/ssl/certs/ca-certificates.crt', 'utf8').split('BEGIN CERTIFICATE').length - 1;
    assert.equal(Number(bundle.stdout.trim()), host + 1, 'the pod sees the system roots plus the lab public CA');
    const https = await curl('client', 'https://api.example.com/hello');
    assert.equal(https.code, 0, https.stderr);
    assert.deepEqual(
      (({ server, sni, path }) => ({ server, sni, path }))(JSON.parse(https.stdout) as { server: string; sni: string; path: string }),
      { server: 'api.example.com', sni: 'api.example.com', path: '/hello' },
    );
    const verify = await execInPod(LAB, 'default', 'client', ['openssl', 's_client', '-connect', 'api.example.com:443', '-servername', 'api.example.com', '-verify_return_error'], { timeoutMs: 10000 });
    assert.match(verify.stdout, /Verify return code: 0 \(ok\)/);
  });

  test('a container command starting with `ambit` runs this CLI (built-in echo app)', async () => {
    await apply(LAB, 'apiVersion: v1\nkind: Pod\nmetadata: { name: echo, namespace: default }\nspec:\n  nodeName: node-2\n  containers:\n    - { name: echo, command: [ambit, app, echo, --port, "9090"] }\n');
    const p = await waitPod(LAB, 'echo');
    const body = await waitFor('echo app answering', async () => {
      const r = await curl('client', `http://${p.ip}:9090/x`);
      return r.code === 0 ? r.stdout : undefined;
    });
    const report = JSON.parse(body) as { pod: string; peer: { address: string }; path: string };
    assert.equal(report.pod, 'echo');
    assert.equal(report.path, '/x');
    assert.equal(report.peer.address, podOf(LAB, 'client')!.ip, 'plain routing keeps the source pod IP');
    assert.equal(capEff(p.containers[0]!.pid), 0n);
  });

  test('reconcile adds and removes a pod', async () => {
    await apply(LAB, serverPod('extra', 'node-1', { app: 'web' }));
    const p = await waitPod(LAB, 'extra');
    assert.equal(await httpFromPod(LAB, 'client', `http://${p.ip}:8080/`, 'hello from extra\n'), 'hello from extra\n');
    const ino = netnsInode(p.netns!)!;
    const pid = p.containers[0]!.pid;
    await deletePod(LAB, 'extra');
    await waitPodGone(LAB, 'extra');
    assert.ok(!(await listNetns()).includes(p.netns!));
    assert.deepEqual(pidsInNetns(new Set([ino])), []);
    assert.equal(isAlive(pid), false);
    const links = (await run('ip', ['-n', readLabState(LAB)!.plan.nodes[0]!.netns, '-o', 'link'])).stdout;
    assert.ok(!links.includes(podVethName('default', 'extra')), 'the node-side veth is gone');
    // the service no longer sends anything to the removed pod
    for (let i = 0; i < 5; i++) assert.equal((await curl('client', 'http://web/')).stdout, 'hello from server\n');
  });

  test('status and logs', async () => {
    const json = JSON.parse(await cliOk(['lab', 'status', '--name', LAB, '-o', 'json'])) as ReturnType<typeof labStatus>;
    assert.equal(json.healthy, true);
    assert.deepEqual(json.nodes.map((n) => n.name), ['node-1', 'node-2']);
    assert.ok(json.components.find((c) => c.name === 'control-plane')?.alive);
    const table = await cliOk(['lab', 'status', '--name', LAB]);
    assert.match(table, /^default\s+server\s+node-2\s+10\.244\.2\.\d+\s+Running\s+web:\d+/m);
    await curl('client', 'http://web/');
    const logs = await cli(['lab', 'logs', 'client', '--name', LAB]);
    assert.equal(logs.code, 0);
    const bad = await cli(['lab', 'logs', 'client', '--name', LAB, '-c', 'nope']);
    assert.equal(bad.stderr, 'ambit: Cannot read logs: pod default/client has no container "nope" (containers: main)\n');
    const missing = await cli(['lab', 'exec', 'ghost', '--name', LAB, '--', 'true']);
    assert.equal(missing.stderr, `ambit: Cannot find pod "default/ghost" in lab ${LAB}: it is not (yet) created by the lab agent\n`);
  });

  test('exec runs a command and passes its exit code', async () => {
    const r = await cli(['lab', 'exec', 'client', '--name', LAB, '--', 'sh', '-c', 'echo $POD_NAME; exit 3']);
    assert.equal(r.code, 3);
    assert.equal(r.stdout, 'client\n');
  });

  test('netem adds loss (and latency where the kernel has netem) to a node link; --clear removes it', async () => {
    const ip = podOf(LAB, 'server')!.ip!;
    const get = async (): Promise<{ code: number; stdout: string }> => curl('client', `http://${ip}:8080/`, ['--connect-timeout', '1', '-o', '/dev/null', '-w', '%{time_connect}']);
    await cliOk(['lab', 'netem', 'node-2', '--name', LAB, '--loss', '100%']);
    assert.notEqual((await get()).code, 0, 'nothing crosses a link with 100% loss');
    await cliOk(['lab', 'netem', 'node-2', '--name', LAB, '--clear']);
    assert.equal((await get()).code, 0);
    const delay = await cli(['lab', 'netem', 'node-2', '--name', LAB, '--delay', '100ms']);
    if (delay.code === 0) {
      assert.ok(Number((await get()).stdout) >= 0.19, 'a SYN/SYN-ACK crosses the delayed link both ways');
      await cliOk(['lab', 'netem', 'node-2', '--name', LAB, '--clear']);
      assert.ok(Number((await get()).stdout) < 0.1);
    } else {
      assert.equal(delay.stderr, 'ambit: Cannot add --delay "100ms" on node node-2: this kernel has no netem qdisc (CONFIG_NET_SCH_NETEM); --loss still works\n');
    }
    const bad = await cli(['lab', 'netem', 'node-9', '--name', LAB, '--delay', '1ms']);
    assert.equal(bad.stderr, `ambit: Cannot find node "node-9" in lab ${LAB} (nodes: node-1, node-2)\n`);
  });

  test('kill and restart the agent: pods applied meanwhile appear after the restart', async () => {
    await cliOk(['lab', 'kill', 'agent', '--name', LAB]);
    assert.equal(labStatus(LAB).components.find((c) => c.name === 'agent')?.alive, false);
    assert.equal(labStatus(LAB).healthy, false);
    await apply(LAB, sleeperPod('late', 'node-2'));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(podOf(LAB, 'late'), undefined);
    await cliOk(['lab', 'restart', 'agent', '--name', LAB]);
    await waitPod(LAB, 'late');
    assert.equal(podOf(LAB, 'server')?.phase, 'Running', 'existing pods are kept, not rebuilt');
    assert.equal((await curl('client', 'http://web/')).stdout, 'hello from server\n');
    const bad = await cli(['lab', 'kill', 'nope', '--name', LAB]);
    assert.match(bad.stderr, /^ambit: Cannot find component "nope" in lab e\d+ \(components: control-plane, /);
  });

  test('pause-config and resume-config reach the control plane', async () => {
    await cliOk(['lab', 'pause-config', 'node-1', '--name', LAB]);
    await cliOk(['lab', 'resume-config', 'node-1', '--name', LAB]);
  });

  test('down leaves no namespace, link, nftables table, process, /etc/netns entry or run dir', async () => {
    const state = readLabState(LAB)!;
    const pids = [...Object.values(state.components).map((c) => c.pid), ...labStatus(LAB).pods.flatMap((p) => p.containers.map((c) => c.pid))];
    const count = (await listNetns()).filter((n) => n.startsWith(`ambit-${LAB}-`)).length;
    assert.equal(count, 5 + labStatus(LAB).pods.length);
    const out = await cliOk(['lab', 'down', '--name', LAB]);
    assert.match(out, new RegExp(`^lab ${LAB} is down: removed ${count} namespaces, \\d+ processes`));
    const traces = await labTraces(LAB);
    assert.deepEqual(traces, { netns: [], pids: [], etc: [], runDir: false, rootLinks: [] });
    for (const pid of pids) assert.equal(isAlive(pid), false, `pid ${pid} still alive`);
    const nft = (await run('nft', ['list', 'tables'])).stdout;
    assert.doesNotMatch(nft, /ambit_lab/);
    const ps = (await run('ps', ['-eo', 'args'])).stdout;
    assert.doesNotMatch(ps, new RegExp(`ambit-${LAB}-|--name ${LAB}\\b`));
    await waitFor('no mounts of the lab', async () => (!(await run('cat', ['/proc/mounts'])).stdout.includes(`ambit-${LAB}-`) ? true : undefined), 2000);
    const again = await cli(['lab', 'down', '--name', LAB]);
    assert.equal(again.code, 0, 'down is idempotent');
  });
});
