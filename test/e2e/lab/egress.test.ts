// The egress gateway as the lab deploys it, and invariant 7 at the node: the gateway is a system
// pod (its own non-root uid without capabilities, not captured, with its own SVID), its credential is out of the
// pods' reach, and every node drops internet-bound TCP, UDP and ICMP that does not come from the
// gateway pod, even when capture is bypassed (a compromised node-proxy path: root in the pod's
// namespace with the proxy mark) and even from the node namespace itself.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { teardownLab, readLabState, labStatus, capEff, isAlive, listNetns, probeEgressGateway, egressGatewayResources, egressGatewayArgv, EGRESS_DROP_TABLE, POD_UID_BASE, type EgressPlan } from '../../../src/lab/index.js';
import { run } from '../../../src/lab/shell.js';
import { labRunDir } from '../../../src/paths.js';
import { nodeNetns } from '../../../src/lab/names.js';
import { connectFromNetns, udpSocketInNetns, netnsPath } from '../../../src/sys/index.js';
import { encodeMessage, decodeMessage, newQuery, RR_TYPE } from '../../../src/dns/index.js';
import { PROXY_MARK } from '../../../src/nodeproxy/redirect/rules.js';
import { admin, apply, cli, cliOk, labTraces, sleeperPod, waitFor, waitPod, waitPodGone, podOf } from './helpers.js';

const LAB = `eg${process.pid % 100000}`;
const HOST = '203.0.113.10';
const DNS = '203.0.113.53';

const LAB_FILE = `apiVersion: ambit.dev/v1alpha1
kind: Lab
spec:
  nodes: 2
  egress: { node: node-1 }
  internet:
    hosts:
      - names: [api.example.com]
        ports: [{ port: 443, protocol: HTTPS }, { port: 7000, protocol: TCP }]
---
${sleeperPod('near', 'node-1')}---
${sleeperPod('far', 'node-2')}`;

type Outcome = 'answered' | 'timeout' | string;

/** A TCP echo round trip from a namespace (as root, optionally with a mark): answered, timeout or the errno. */
function tcpFrom(netns: string, port: number, mark?: number, timeoutMs = 1500): Promise<Outcome> {
  return new Promise((resolve) => {
    const s = connectFromNetns(netnsPath(netns), { host: HOST, port, ...(mark === undefined ? {} : { mark }) });
    const done = (o: Outcome): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    s.on('connect', () => s.write('ping\n'));
    s.on('data', (d: Buffer) => done(d.toString() === 'ping\n' ? 'answered' : `odd reply ${JSON.stringify(d.toString())}`));
    s.on('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}

/** A DNS query over UDP to the internet DNS from a namespace: answered, timeout or the errno. */
async function udpFrom(netns: string, mark?: number, timeoutMs = 1500): Promise<Outcome> {
  const sock = await udpSocketInNetns(netnsPath(netns), { host: '0.0.0.0', port: 0, ...(mark === undefined ? {} : { mark }) });
  return new Promise((resolve) => {
    const done = (o: Outcome): void => {
      clearTimeout(timer);
      sock.close();
      resolve(o);
    };
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    sock.on('message', (m: Buffer) => done(decodeMessage(m).answers.some((a) => a.type === 'A' && a.address === HOST) ? 'answered' : 'odd reply'));
    sock.on('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
    sock.send(encodeMessage(newQuery(0x4242, 'api.example.com', RR_TYPE.A)), 53, DNS, (err) => {
      if (err) done((err as NodeJS.ErrnoException).code ?? err.message);
    });
  });
}

/** One ICMP echo from a namespace as root (`ping -m` sets SO_MARK): true when answered. */
async function icmpFrom(netns: string, mark?: number): Promise<boolean> {
  return pingAnswered(await run('ip', ['netns', 'exec', netns, 'ping', '-n', '-c', '1', '-W', '1', ...(mark === undefined ? [] : ['-m', String(mark)]), HOST], { allowFail: true }));
}

/** ping's exit: 0 answered, 1 no answer (dropped, or refused on send); anything else (no ping at all: 127) is the test's own failure. */
function pingAnswered(r: { code: number | null; stderr: string }): boolean {
  if (r.code !== 0 && r.code !== 1) throw new Error(`ping could not run (exit ${r.code}): ${r.stderr.trim()}`);
  return r.code === 0;
}

async function dropped(node: string, counter: 'forward_dropped' | 'output_dropped'): Promise<number> {
  const r = await run('ip', ['netns', 'exec', nodeNetns(LAB, node), 'nft', '-j', 'list', 'counter', 'ip', EGRESS_DROP_TABLE, counter]);
  const entry = (JSON.parse(r.stdout) as { nftables: { counter?: { packets: number } }[] }).nftables.find((x) => x.counter);
  assert.ok(entry?.counter, `counter ${counter} on ${node}`);
  return entry.counter.packets;
}

function egressPlan(): EgressPlan {
  const e = readLabState(LAB)?.plan.egress;
  assert.ok(e, 'the lab planned an egress gateway');
  return e;
}

function gatewayPod(): NonNullable<ReturnType<typeof podOf>> {
  const p = podOf(LAB, 'egress-gateway', 'ambit-system');
  assert.ok(p?.netns && p.ip, `the gateway pod runs: ${JSON.stringify(p)}`);
  return p;
}

async function tables(netns: string): Promise<string> {
  return (await run('ip', ['netns', 'exec', netns, 'nft', 'list', 'tables'])).stdout;
}

describe('lab egress: the gateway pod and the node drops', () => {
  let dir = '';
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ambit-lab-egress-'));
    writeFileSync(join(dir, 'lab.yaml'), LAB_FILE);
    const out = await cliOk(['lab', 'up', '--name', LAB, '-f', join(dir, 'lab.yaml')]);
    assert.match(out, /^closing the nodes' direct way to the internet \(203\.0\.113\.0\/24\)\.\.\. ok \(\d+ ms\)$/m);
    assert.match(out, /^starting the egress gateway \(pod ambit-system\/egress-gateway on node-1\)\.\.\. ok \(\d+ ms\)$/m);
    await waitPod(LAB, 'near');
    await waitPod(LAB, 'far');
  });
  after(async () => {
    await cli(['lab', 'down', '--name', LAB]);
    await teardownLab(LAB); // also when the CLI itself cannot run
    rmSync(dir, { recursive: true, force: true });
  });

  test('status shows the gateway: a system pod on node-1, its own non-root uid without capabilities, not captured', async () => {
    const json = JSON.parse(await cliOk(['lab', 'status', '--name', LAB, '-o', 'json'])) as ReturnType<typeof labStatus>;
    const gw = json.pods.find((p) => p.namespace === 'ambit-system' && p.name === 'egress-gateway');
    assert.ok(gw, 'listed by lab status');
    assert.equal(gw.node, 'node-1');
    assert.equal(gw.phase, 'Running');
    assert.equal(gw.system, true);
    assert.match(gw.ip!, /^10\.244\.1\.\d+$/);
    assert.match(await cliOk(['lab', 'status', '--name', LAB]), /^ambit-system\s+egress-gateway\s+node-1\s+10\.244\.1\.\d+\s+Running\s+gateway:\d+\s+system pod: egress gateway/m);
    const pid = gw.containers[0]!.pid;
    assert.ok(gw.uid !== undefined && gw.uid >= POD_UID_BASE, `the gateway has a pod uid: ${gw.uid}`);
    assert.match(readFileSync(`/proc/${pid}/status`, 'utf8'), new RegExp(`^Uid:\\s+${gw.uid}\\s+${gw.uid}\\s+${gw.uid}\\s+${gw.uid}$`, 'm'), 'the gateway runs as its own uid, not root');
    assert.equal(capEff(pid), 0n, 'but without any capability: it cannot alter its namespace');
    // Not captured: no capture table in its namespace, where an app pod has one.
    assert.doesNotMatch(await tables(gw.netns!), /ambit_capture/);
    assert.match(await tables(podOf(LAB, 'near')!.netns!), /table ip ambit_capture/);
    const dump = JSON.parse((await run('ip', ['netns', 'exec', nodeNetns(LAB, 'node-1'), 'curl', '-sS', 'http://127.0.0.1:15000/config_dump'])).stdout) as { pods: { namespace: string; name: string }[] };
    assert.ok(!dump.pods.some((p) => p.namespace === 'ambit-system'), 'the node proxy does not hold the gateway pod');
  });

  test('the gateway is ready and holds an SVID for its own identity (dump on 15000)', async () => {
    const e = egressPlan();
    const gw = gatewayPod();
    assert.equal((await probeEgressGateway(gw.netns!, e)).status, 200);
    const r = await probeEgressGateway(gw.netns!, e, '/config_dump', e.configDumpPort);
    assert.equal(r.status, 200);
    const dump = JSON.parse(r.body) as { identity: string; svids: unknown };
    assert.equal(dump.identity, 'spiffe://cluster.local/ns/ambit-system/sa/egress-gateway');
    assert.match(JSON.stringify(dump.svids), /spiffe:\/\/cluster\.local\/ns\/ambit-system\/sa\/egress-gateway/);
  });

  test('from an app pod, TCP, UDP and ICMP to the internet are dropped at the node even with capture bypassed', async () => {
    for (const [pod, node] of [['near', 'node-1'], ['far', 'node-2']] as const) {
      const netns = podOf(LAB, pod)!.netns!;
      // As the pod user, capture stops it in the pod already.
      const uid = String(podOf(LAB, pod)!.uid);
      const asApp = await run('ip', ['netns', 'exec', netns, 'setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', 'ping', '-n', '-c', '1', '-W', '1', HOST], { allowFail: true });
      assert.equal(pingAnswered(asApp), false, `${pod}: ICMP as the pod user`);
      // Root with the proxy mark passes capture; the node must drop it, and counts it.
      let before = await dropped(node, 'forward_dropped');
      assert.equal(await tcpFrom(netns, 7000, PROXY_MARK), 'timeout', `${pod}: marked TCP`);
      let after = await dropped(node, 'forward_dropped');
      assert.ok(after > before, `${pod}: the node dropped the TCP SYN (${before} -> ${after})`);
      before = after;
      assert.equal(await udpFrom(netns, PROXY_MARK), 'timeout', `${pod}: marked UDP`);
      after = await dropped(node, 'forward_dropped');
      assert.ok(after > before, `${pod}: the node dropped the UDP datagram (${before} -> ${after})`);
      before = after;
      assert.equal(await icmpFrom(netns, PROXY_MARK), false, `${pod}: marked ICMP`);
      after = await dropped(node, 'forward_dropped');
      assert.ok(after > before, `${pod}: the node dropped the ICMP echo (${before} -> ${after})`);
    }
  });

  test('the node namespace itself cannot reach the internet either', async () => {
    for (const node of ['node-1', 'node-2']) {
      const netns = nodeNetns(LAB, node);
      // Counted after each protocol, so that (say) a retransmitted SYN cannot stand in for the ICMP echo.
      for (const [what, attempt] of [
        ['TCP', async () => assert.notEqual(await tcpFrom(netns, 7000), 'answered', `${node}: TCP`)],
        ['UDP', async () => assert.notEqual(await udpFrom(netns), 'answered', `${node}: UDP`)],
        ['ICMP', async () => assert.equal(await icmpFrom(netns), false, `${node}: ICMP`)],
      ] as const) {
        const before = await dropped(node, 'output_dropped');
        await attempt();
        const after = await dropped(node, 'output_dropped');
        assert.ok(after > before, `${node}: ${what} dropped on output (${before} -> ${after})`);
      }
    }
  });

  test('from the gateway pod namespace the internet host answers (TCP, UDP, ICMP)', async () => {
    const netns = gatewayPod().netns!;
    const before = await dropped('node-1', 'forward_dropped');
    assert.equal(await tcpFrom(netns, 7000), 'answered');
    assert.equal(await udpFrom(netns), 'answered');
    assert.equal(await icmpFrom(netns), true);
    assert.equal(await dropped('node-1', 'forward_dropped'), before, 'nothing of the gateway was dropped');
  });

  test('an app pod cannot read the gateway credential', async () => {
    const e = egressPlan();
    assert.ok(readFileSync(e.tokenFile, 'utf8').length > 0, 'the token is there');
    const r = await cli(['lab', 'exec', 'near', '--name', LAB, '--', 'cat', e.tokenFile]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Permission denied/);
    assert.equal(r.stdout, '');
  });

  test('a pod that runs the gateway command under another name is an ordinary pod: its own uid, captured, no token', async () => {
    const e = egressPlan();
    const argv = egressGatewayArgv(readLabState(LAB)!.plan, e);
    await apply(LAB, `apiVersion: v1\nkind: Pod\nmetadata: { name: imitation, namespace: ambit-system }\nspec:\n  nodeName: node-1\n  serviceAccountName: egress-gateway\n  containers:\n    - { name: gateway, command: ${JSON.stringify(argv)} }\n`);
    try {
      await imitationChecks();
    } finally {
      await admin(LAB).delete([{ kind: 'Pod', namespace: 'ambit-system', name: 'imitation' }]);
      await waitPodGone(LAB, 'imitation', 'ambit-system');
    }
  });

  async function imitationChecks(): Promise<void> {
    const p = await waitPod(LAB, 'imitation', 'Running', 'ambit-system');
    assert.equal(p.system, undefined);
    assert.match(await tables(p.netns!), /table ip ambit_capture/, 'enrolled like any pod');
    const log = await waitFor('the imitation to fail on the token', () => {
      const text = readFileSync(p.containers[0]!.logFile, 'utf8');
      return /EACCES/.test(text) ? text : undefined;
    }, 10_000);
    assert.match(log, /--token-file/);
    await waitFor('the imitation to exit', () => (isAlive(p.containers[0]!.pid) ? undefined : true), 5000);
    const table = (await run('ip', ['netns', 'exec', nodeNetns(LAB, 'node-1'), 'nft', 'list', 'table', 'ip', EGRESS_DROP_TABLE])).stdout;
    assert.doesNotMatch(table, new RegExp(`saddr ${p.ip!.replaceAll('.', '\\.')} `), 'no way out for it');
    // Its node proxy, which captured it, asked for its SVID like any pod's and was refused the gateway's identity.
    await waitFor('node-1\'s proxy refused the gateway identity for the imitation', () => (readFileSync(join(labRunDir(LAB), 'logs', 'node-proxy-node-1.log'), 'utf8').split('\n')
      .some((l) => l.includes('"SVID request failed; retrying"') && l.includes('sa/egress-gateway') && l.includes('never to a node proxy')) ? true : undefined), 10_000);
  }

  test('the drop table follows the gateway pod: closed while it is gone, open to its new address when it is back', async () => {
    const e = egressPlan();
    const old = gatewayPod();
    const pod = egressGatewayResources(readLabState(LAB)!.plan, e).find((r) => r.kind === 'Pod')!;
    await admin(LAB).delete([{ kind: 'Pod', namespace: e.namespace, name: e.pod }]);
    try {
      await gatewayComesBack(old, pod);
    } finally {
      // A failure above must not leave the lab without its gateway.
      if (!podOf(LAB, e.pod, e.namespace)) await admin(LAB).apply([pod]);
    }
  });

  async function gatewayComesBack(old: ReturnType<typeof gatewayPod>, pod: ReturnType<typeof egressGatewayResources>[number]): Promise<void> {
    const e = egressPlan();
    await waitPodGone(LAB, e.pod, e.namespace);
    const closed = async (): Promise<true | undefined> => (!(await run('ip', ['netns', 'exec', nodeNetns(LAB, 'node-1'), 'nft', 'list', 'table', 'ip', EGRESS_DROP_TABLE])).stdout.includes('iifname') ? true : undefined);
    await waitFor('the gateway exception removed', closed, 5000);
    assert.equal(statSync(e.tokenFile).uid, 0, 'while no gateway runs its credential is root\'s again');
    await admin(LAB).apply([pod]);
    const back = await waitPod(LAB, e.pod, 'Running', e.namespace);
    assert.notEqual(back.ip, old.ip, 'a new address (no reuse)');
    assert.equal(back.system, true);
    assert.ok(back.uid !== undefined && back.uid !== old.uid, `a new uid (${old.uid} -> ${back.uid})`);
    assert.deepEqual([statSync(e.tokenFile).uid, statSync(e.tokenFile).mode & 0o777], [back.uid, 0o400], 'the credential is handed to the new gateway user');
    await waitFor('the exception names the new address', async () => ((await run('ip', ['netns', 'exec', nodeNetns(LAB, 'node-1'), 'nft', 'list', 'table', 'ip', EGRESS_DROP_TABLE])).stdout.includes(`ip saddr ${back.ip} `) ? true : undefined), 5000);
    assert.equal(await tcpFrom(back.netns!, 7000), 'answered');
    await waitFor('the new gateway ready', async () => ((await probeEgressGateway(back.netns!, e).catch(() => ({ status: 0 }))).status === 200 ? true : undefined), 15_000);
  }

  test('down leaves no namespace, process, nftables table, /etc/netns entry or file', async () => {
    const pids = labStatus(LAB).pods.flatMap((p) => p.containers.map((c) => c.pid));
    const e = egressPlan();
    await cliOk(['lab', 'down', '--name', LAB]);
    assert.deepEqual(await labTraces(LAB), { netns: [], pids: [], etc: [], runDir: false, rootLinks: [] });
    for (const pid of pids) assert.equal(isAlive(pid), false, `pid ${pid} still alive`);
    assert.ok(!(await listNetns()).some((n) => n.startsWith(`ambit-${LAB}-`)));
    assert.doesNotMatch((await run('nft', ['list', 'tables'])).stdout, /ambit_lab/);
    assert.throws(() => readFileSync(e.tokenFile), /ENOENT/);
    assert.doesNotMatch((await run('ps', ['-eo', 'args'])).stdout, new RegExp(`ambit-${LAB}-|--name ${LAB}\\b`));
  });
});
