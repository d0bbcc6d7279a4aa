// Egress control end to end in a real lab, driven by real clients inside pods (curl, openssl
// s_client, a raw socket as the pod's own unprivileged user): the six requirements of the egress
// issue — TLS passthrough and origination, monitoring, cluster-wide REGISTRY_ONLY with exact and
// wildcard hosts, per-source policy by verified identity, tamper-resistance, transparency — and
// bad first bytes at the gateway. Each case asserts what the client saw and the log line of the
// component that decided (the gateway, or the node proxy for what never reaches the gateway).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { teardownLab, execInPod, readAgentState, readLabState, captureUnderlay, nodeNetns, podNetns } from '../../../src/lab/index.js';
import { labRunDir } from '../../../src/paths.js';
import { decodeMessage, encodeMessage, newQuery, RCODE, RR_TYPE } from '../../../src/dns/index.js';
import { gatewayAudit as egressAudit, nodeProxyLines as proxyLines } from '../../../src/demo/egress-chapter.js';
import { admin, apply, cli, cliOk, podOf, waitFor, waitPod } from '../lab/helpers.js';
import { fetchNodeProxyDump } from '../../../src/cli/proxy-config.js';
import { HOSTS, badFirstBytes, egressConfig, icmpProbe, labFile, principal, sleeper, writePodClient } from './fixtures.js';

const LAB = `egr${process.pid % 100000}`;
const GW = { namespace: 'ambit-system', name: 'egress-gateway' };
/** The mesh tests' attacker (test/e2e/mesh/attacker.ts), for its `probe` mode. */
const ATTACKER = fileURLToPath(new URL('../mesh/attacker.js', import.meta.url));

type Line = Record<string, unknown>;

const gatewayAudit = (): Line[] => egressAudit(LAB);
const nodeProxyLines = (node: string): Line[] => proxyLines(LAB, node);

/** Waits for (and returns) the first audit line after `mark` that satisfies `pred`. */
async function auditLine(what: string, pred: (l: Line) => boolean, since = 0): Promise<Line> {
  return waitFor(`gateway audit line: ${what}`, () => gatewayAudit().slice(since).find(pred), 8_000);
}

/** Waits for (and returns) the first node-proxy line after `since` that satisfies `pred`. */
async function accessLine(node: string, what: string, pred: (l: Line) => boolean, since: number): Promise<Line> {
  return waitFor(`node proxy ${node} line: ${what}`, () => nodeProxyLines(node).slice(since).find((l) => pred(l)), 8_000);
}

/** Waits for the node proxy's DNS refusal of `name` for `pod` (default/...), logged after `since`. */
const dnsRefusal = (node: string, pod: string, name: string, since: number): Promise<Line> =>
  accessLine(node, `DNS refusal of ${name} for ${pod}`, (l) => l.pod === pod && l.name === name && l.rcode === 'REFUSED', since);

function inPod(pod: string, argv: string[], input?: string) {
  return execInPod(LAB, 'default', pod, argv, { timeoutMs: 15_000, ...(input !== undefined ? { input } : {}) });
}

const curl = (pod: string, url: string, extra: string[] = []) => inPod(pod, ['curl', '-sS', '-m', '5', ...extra, url]);

/** Runs a command as root inside a lab namespace (the test's own vantage points, not a pod's). */
function inNetns(netns: string, argv: string[], timeoutMs = 10_000): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = spawn('ip', ['netns', 'exec', netns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, out });
    });
  });
}

describe('egress control in the lab', () => {
  let client: ReturnType<typeof writePodClient>;
  let gatewayIp = '';

  const raw = async (pod: string, mode: 'tcp' | 'end' | 'udp' | 'dns', host: string, port: number, bytes: Buffer, waitMs = 3000) => {
    const r = await inPod(pod, ['node', client.path, mode, host, String(port), bytes.toString('base64'), String(waitMs)]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout.trim()) as { how: string; bytes: number; text: string; hex: string };
  };

  before(async () => {
    client = writePodClient();
    await cliOk(['lab', 'up', '--name', LAB, '-f', client.write('lab.yaml', labFile(LAB))]);
    await waitPod(LAB, GW.name, 'Running', GW.namespace);
    gatewayIp = podOf(LAB, GW.name, GW.namespace)!.ip!;
    await apply(
      LAB,
      [sleeper('app-a', 'node-2', 'app-a'), sleeper('app-b', 'node-1', 'app-b'), sleeper('attacker', 'node-2', 'attacker'), egressConfig(join(labRunDir(LAB), 'public-ca', 'root.crt'))].join('---\n'),
    );
    for (const p of ['app-a', 'app-b', 'attacker']) await waitPod(LAB, p);
    await waitFor('the first egress request goes through', async () => ((await curl('app-a', `https://${HOSTS.api.name}/warmup`)).code === 0 ? true : undefined), 30_000);
  });

  after(async () => {
    // For a post-mortem: AMBIT_TEST_KEEP_LOGS=DIR keeps the lab's logs there before teardown.
    const keep = process.env.AMBIT_TEST_KEEP_LOGS;
    if (keep) cpSync(join(labRunDir(LAB), 'logs'), join(keep, LAB), { recursive: true });
    await cli(['lab', 'down', '--name', LAB]);
    await teardownLab(LAB);
    client?.cleanup();
  });

  test('transparency and TLS passthrough: a plain `curl https://…` in a pod leaves through the gateway, SNI inspected and audited', async () => {
    const mark = gatewayAudit().length;
    const resolved = await inPod('app-a', ['getent', 'hosts', HOSTS.api.name]);
    assert.match(resolved.stdout, /^240\.240\.\d+\.\d+\s/, 'the pod resolves the external name to a node-proxy VIP, never the real address');
    const r = await curl('app-a', `https://${HOSTS.api.name}/hello`);
    assert.equal(r.code, 0, r.stderr);
    const site = JSON.parse(r.stdout) as { server: string; tls: boolean; sni: string; peer: { address: string } };
    assert.equal(site.server, HOSTS.api.name);
    assert.equal(site.tls, true);
    assert.equal(site.sni, HOSTS.api.name, 'the application\'s own TLS reached the site (passthrough)');
    assert.equal(site.peer.address, gatewayIp, 'the site saw the gateway, the only way out');
    const line = await auditLine('app-a passthrough', (l) => l.source === principal('app-a') && l.sni === HOSTS.api.name && l.verdict === 'allowed', mark);
    assert.equal(line.sourcePod, 'default/app-a', 'the audit names the pod as well as its verified identity');
    assert.equal(line.mode, 'passthrough');
    assert.deepEqual(line.resolved, [HOSTS.api.address]);
    assert.equal(line.upstream, `${HOSTS.api.address}:443`);
    assert.ok(Number(line.bytesIn) > 0 && Number(line.bytesOut) > 0, 'bytes both ways');
    assert.equal(typeof line.durationMs, 'number');
    assert.equal(line.code, 'ALLOWED');
    assert.equal(line.serviceEntry, 'default/api');
  });

  test('TLS origination: plain HTTP from the pod, verified TLS from the gateway to the site', async () => {
    const mark = gatewayAudit().length;
    const r = await curl('app-a', `http://${HOSTS.api.name}/plain`);
    assert.equal(r.code, 0, r.stderr);
    const site = JSON.parse(r.stdout) as { tls: boolean; sni: string; host: string; path: string };
    assert.equal(site.tls, true, 'the site was reached over TLS');
    assert.equal(site.sni, HOSTS.api.name);
    assert.equal(site.path, '/plain');
    const line = await auditLine('app-a origination', (l) => l.source === principal('app-a') && l.host === HOSTS.api.name && l.mode === 'originate', mark);
    assert.equal(line.verdict, 'allowed');
    assert.equal(line.upstream, `${HOSTS.api.address}:443`);
  });

  test('origination refuses a site whose certificate the configured CA bundle does not verify', async () => {
    await apply(
      LAB,
      [
        'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: { name: foo-plain, namespace: default }\nspec:',
        `  hosts: [${HOSTS.foo.name}]\n  ports: [{ number: 80, name: http, protocol: HTTP, targetPort: 443 }]\n  resolution: DNS\n---`,
        'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: { name: foo-wrong-ca, namespace: default }\nspec:',
        // The mesh CA never signs internet hosts: verification must fail.
        `  host: ${HOSTS.foo.name}\n  trafficPolicy: { tls: { mode: SIMPLE, caCertificates: ${join(labRunDir(LAB), 'mesh-ca.pem')} } }\n`,
      ].join('\n'),
    );
    try {
      const mark = gatewayAudit().length;
      const line = await waitFor('an untrusted upstream is refused', async () => {
        const r = await curl('app-a', `http://${HOSTS.foo.name}/`);
        assert.notEqual(r.code, 0, 'no answer from an unverified site');
        return gatewayAudit().slice(mark).find((l) => l.host === HOSTS.foo.name && l.code === 'EGRESS_UPSTREAM_UNTRUSTED');
      }, 10_000);
      assert.equal(line.verdict, 'refused');
      assert.equal(line.source, principal('app-a'));
    } finally {
      await admin(LAB).delete([{ kind: 'DestinationRule', namespace: 'default', name: 'foo-wrong-ca' }, { kind: 'ServiceEntry', namespace: 'default', name: 'foo-plain' }]);
    }
  });

  test('monitoring: gateway metrics carry the verified source, host and verdict', async () => {
    const netns = podNetns(LAB, GW.namespace, GW.name);
    const m = await inNetns(netns, ['curl', '-sS', '-m', '3', 'http://127.0.0.1:15020/metrics']);
    assert.equal(m.code, 0, m.out);
    const allowed = new RegExp(`ambit_egress_connections_total\\{[^}]*source="${principal('app-a')}"[^}]*host="${HOSTS.api.name}"[^}]*verdict="allowed"[^}]*\\} [1-9]`);
    assert.match(m.out, allowed);
    assert.match(m.out, /ambit_egress_bytes_total\{[^}]*direction="in"/);
  });

  test('cluster-wide policy: exact and wildcard ServiceEntry hosts pass; under REGISTRY_ONLY everything else is refused', async () => {
    const wild = await curl('app-a', `https://${HOSTS.foo.name}/`);
    assert.equal(wild.code, 0, wild.stderr);
    assert.equal(JSON.parse(wild.stdout).server, HOSTS.foo.name, '*.foo.example covers service1.foo.example');
    // An unregistered name does not even resolve: the node proxy's DNS refuses it. So do names
    // that only look like the wildcard: its apex, and a suffix match without the dot.
    for (const name of [HOSTS.other.name, HOSTS.foo.name.replace(/^[^.]+\./, ''), `evil${HOSTS.foo.name.replace(/^[^.]+\./, '')}`]) {
      const mark = nodeProxyLines('node-2').length;
      const unknown = await curl('app-a', `https://${name}/`);
      assert.equal(unknown.code, 6, `${name}: curl could not resolve (${unknown.stderr.trim()})`);
      await dnsRefusal('node-2', 'default/app-a', name, mark);
    }
    // And its address, dialled directly, goes nowhere.
    const mark = nodeProxyLines('node-2').length;
    const byIp = await curl('app-a', `https://${HOSTS.other.address}/`, ['-k']);
    assert.notEqual(byIp.code, 0);
    const refused = await accessLine('node-2', 'raw IP refused', (l) => l.access === true && l.destinationAddress === `${HOSTS.other.address}:443` && String(l.sourcePrincipal).endsWith('sa/app-a'), mark);
    assert.equal(refused.flag, 'NO_ROUTE');
  });

  test('closed by default: with no MeshConfig at all an unregistered name is refused; ALLOW_ANY has to be asked for', async () => {
    const meshConfig = (mode: string): string => `apiVersion: ambit.dev/v1alpha1\nkind: MeshConfig\nmetadata: { name: mesh }\nspec:\n  outboundTrafficPolicy: { mode: ${mode} }\n`;
    const dump = async (): Promise<{ version: number; mode: string }> => {
      const d = JSON.parse((await fetchNodeProxyDump(LAB, 'node-2')).body) as { config: { version: number; mesh: { outboundTrafficPolicy: { mode: string } } } };
      return { version: d.config.version, mode: d.config.mesh.outboundTrafficPolicy.mode };
    };
    /** Runs `change` and waits until node-2 applied a newer version. */
    const applied = async (change: () => Promise<unknown>): Promise<string> => {
      const v0 = (await dump()).version;
      await change();
      return (await waitFor('node-2 on the new version', async () => { const d = await dump(); return d.version > v0 ? d : undefined; }, 10_000)).mode;
    };
    const resolves = async (): Promise<string> => (await inPod('app-a', ['getent', 'hosts', HOSTS.other.name])).stdout.trim();
    const noMeshConfig = () => admin(LAB).delete([{ kind: 'MeshConfig', name: 'mesh' }]);
    try {
      // Control: under ALLOW_ANY (asked for) the unregistered name resolves, to a VIP (still through the gateway)...
      assert.equal(await applied(() => apply(LAB, meshConfig('ALLOW_ANY'))), 'ALLOW_ANY');
      assert.match(await resolves(), /^240\.240\.\d+\.\d+\s/, 'under ALLOW_ANY it gets an egress VIP');
      // ...and with no MeshConfig at all it is refused: the default is closed.
      assert.equal(await applied(noMeshConfig), 'REGISTRY_ONLY', 'no MeshConfig: REGISTRY_ONLY');
      const mark = nodeProxyLines('node-2').length;
      assert.equal(await resolves(), '', `${HOSTS.other.name} no longer resolves`);
      await dnsRefusal('node-2', 'default/app-a', HOSTS.other.name, mark);
    } finally {
      await apply(LAB, meshConfig('REGISTRY_ONLY'));
    }
  });

  test('per-source policy by verified identity: A reaches *.foo.example, B *.bar.example, A to service1.bar.example is refused', async () => {
    const aFoo = await curl('app-a', `https://${HOSTS.foo.name}/`);
    assert.equal(aFoo.code, 0, aFoo.stderr);
    const bBar = await curl('app-b', `https://${HOSTS.bar.name}/`);
    assert.equal(bBar.code, 0, bBar.stderr);
    assert.equal(JSON.parse(bBar.stdout).server, HOSTS.bar.name);
    const mark = gatewayAudit().length;
    const aBar = await curl('app-a', `https://${HOSTS.bar.name}/`);
    assert.notEqual(aBar.code, 0, 'app-a may not reach service1.bar.example');
    const line = await auditLine('app-a denied to bar', (l) => l.source === principal('app-a') && l.sni === HOSTS.bar.name, mark);
    assert.equal(line.verdict, 'refused');
    assert.equal(line.code, 'EGRESS_POLICY_DENIED');
    assert.match(String(line.reason), /app-a/);
    const bFoo = await curl('app-b', `https://${HOSTS.foo.name}/`);
    assert.notEqual(bFoo.code, 0, 'and app-b may not reach service1.foo.example');
    await auditLine('app-b denied to foo', (l) => l.source === principal('app-b') && l.sni === HOSTS.foo.name && l.code === 'EGRESS_POLICY_DENIED', mark);
  });

  test('tamper: dialing an external IP directly (TCP), over UDP or ICMP puts no packet on the underlay', async () => {
    const proxyMark = nodeProxyLines('node-2').length;
    const dropped = async (): Promise<number> => {
      const m = await inNetns(nodeNetns(LAB, 'node-2'), ['curl', '-sS', '-m', '3', 'http://127.0.0.1:15020/metrics']);
      const hit = /ambit_capture_dropped_packets\{pod="default\/attacker",direction="out"\} (\d+)/.exec(m.out);
      assert.ok(hit, `node-2 reports the attacker's capture drops:\n${m.out.split('\n').filter((l) => l.includes('dropped')).join('\n')}`);
      return Number(hit[1]);
    };
    const droppedBefore = await dropped();
    let tcp = { how: '' };
    let udp = { how: '' };
    let ping = { code: 0, stdout: '' };
    const cap = await captureUnderlay(LAB, async () => {
      tcp = await raw('attacker', 'tcp', HOSTS.api.address, 7000, Buffer.from('ping\n'), 2000);
      udp = await raw('attacker', 'udp', HOSTS.api.address, 7000, Buffer.from('ping\n'), 1500);
      ping = await inPod('attacker', icmpProbe(HOSTS.api.address));
      // Positive control inside the same capture: allowed traffic leaves, from the gateway only.
      const ok = await curl('app-a', `https://${HOSTS.api.name}/control`);
      assert.equal(ok.code, 0, ok.stderr);
    }, ['net', '203.0.113.0/24']);
    assert.notEqual(tcp.how, 'timeout', 'the TCP attempt was closed by the node proxy');
    assert.match(tcp.how, /closed|error/);
    assert.equal(udp.how, 'timeout', 'no UDP reply');
    assert.notEqual(ping.code, 0, 'no ICMP reply');
    assert.match(ping.stdout, /^no reply/, `the probe ran and got no reply: ${ping.stdout}`);
    const lines = cap.summary.split('\n').filter((l) => l.includes(' IP '));
    assert.ok(lines.some((l) => l.includes(`${gatewayIp}.`)), `the capture saw the gateway's allowed traffic:\n${cap.summary}`);
    const strays = lines.filter((l) => !l.includes(`${gatewayIp}.`) && !l.includes(` ${gatewayIp}:`) && !/ > 10\.244\./.test(l));
    assert.deepEqual(strays, [], 'nothing but the gateway talks to the internet');
    // The kernel dropped the UDP datagram and the ICMP echo in the pod; the proxy reports both.
    assert.ok((await dropped()) >= droppedBefore + 2, 'UDP and ICMP counted as dropped by capture');
    await accessLine('node-2', 'attacker raw TCP refused', (l) => l.access === true && l.destinationAddress === `${HOSTS.api.address}:7000` && String(l.sourcePrincipal).endsWith('sa/attacker') && l.flag === 'NO_ROUTE', proxyMark);
  });

  test('tamper: the pod cannot edit its capture rules (no CAP_NET_ADMIN); capture still holds afterwards', async () => {
    for (const argv of [['nft', 'flush', 'table', 'ip', 'ambit_capture'], ['nft', 'delete', 'table', 'ip', 'ambit_capture'], ['ip', 'route', 'add', '203.0.113.0/24', 'dev', 'eth0']]) {
      const r = await inPod('attacker', argv);
      assert.notEqual(r.code, 0, argv.join(' '));
      assert.match(r.stderr, /Operation not permitted|Permission denied/, argv.join(' '));
    }
    const netns = podNetns(LAB, 'default', 'attacker');
    const rules = await inNetns(netns, ['nft', 'list', 'table', 'ip', 'ambit_capture']);
    assert.match(rules.out, /redirect to :15001/, 'the capture table is intact');
    const still = await curl('attacker', `https://${HOSTS.api.address}/`, ['-k']);
    assert.notEqual(still.code, 0);
  });

  test('tamper: another resolver is no way around the DNS policy (every DNS packet goes to the node proxy)', async () => {
    const ask = async (name: string) => {
      const q = encodeMessage(newQuery(0x4242, name, RR_TYPE.A));
      const r = await raw('attacker', 'dns', '203.0.113.53', 53, q, 3000);
      assert.equal(r.how, 'reply', `an answer for ${name}`);
      return decodeMessage(Buffer.from(r.hex, 'hex'));
    };
    const mark = nodeProxyLines('node-2').length;
    const forbidden = await ask(HOSTS.other.name);
    assert.equal(forbidden.rcode, RCODE.REFUSED, 'REFUSED, not the internet DNS\'s real answer');
    assert.equal(forbidden.answers.length, 0);
    const allowed = await ask(HOSTS.api.name);
    const addrs = allowed.answers.map((a) => (a as { address?: string }).address);
    assert.ok(addrs.length > 0 && addrs.every((a) => a?.startsWith('240.240.')), `a VIP, never ${HOSTS.api.address}: ${addrs.join(',')}`);
    // The node proxy answered (and logged) this query, asked of another server, as the attacker's.
    await dnsRefusal('node-2', 'default/attacker', HOSTS.other.name, mark);
  });

  test('tamper: a DNS query of another class (CHAOS, ANY, a made-up one) is REFUSED, not relayed out of the mesh', async () => {
    // Before the fix such a query skipped every zone (they answer only IN) and went upstream, to
    // cluster-dns and on to the internet DNS, which answered NXDOMAIN: the name had left the mesh.
    for (const [cls, to] of [[3, '203.0.113.53'], [255, '10.96.0.10'], [0x4321, '203.0.113.53']] as const) {
      const q = newQuery(0x5000 + cls, `exfil-${process.pid}-${cls}.${HOSTS.other.name}`, RR_TYPE.TXT);
      q.questions[0]!.class = cls;
      const r = await raw('attacker', 'dns', to, 53, encodeMessage(q), 3000);
      assert.equal(r.how, 'reply', `an answer for class ${cls}`);
      const m = decodeMessage(Buffer.from(r.hex, 'hex'));
      assert.deepEqual([m.id, m.rcode, m.answers.length], [0x5000 + cls, RCODE.REFUSED, 0], `class ${cls} asked of ${to}: REFUSED by the node proxy, not the upstream's NXDOMAIN`);
    }
  });

  test('tamper: an allowed SNI sent to another IP does not reach it; the gateway dials only what the name resolves to', async () => {
    const decoyLog = (): string => {
      const f = join(labRunDir(LAB), 'logs', `inet-${HOSTS.decoy.name}-443.log`);
      return existsSync(f) ? readFileSync(f, 'utf8') : '';
    };
    const requests = (): number => decoyLog().split('\n').filter((l) => l.includes('"request"')).length;
    // Control: a request the decoy does get shows in its log (from the gateway's namespace, the one way out).
    const seen = requests();
    const control = await inNetns(podNetns(LAB, GW.namespace, GW.name), ['curl', '-sS', '-m', '3', '-k', `https://${HOSTS.decoy.address}/control`]);
    assert.equal(control.code, 0, control.out);
    await waitFor('the decoy logged the control request', () => (requests() > seen ? true : undefined), 5_000);
    const before = requests();
    const proxyMark = nodeProxyLines('node-2').length;
    const s = await inPod('attacker', ['openssl', 's_client', '-connect', `${HOSTS.decoy.address}:443`, '-servername', HOSTS.api.name, '-brief'], 'Q\n');
    assert.notEqual(s.code, 127, 'openssl ran');
    assert.doesNotMatch(s.stdout + s.stderr, /Verification: OK|Protocol version: TLSv1/, 'no handshake with the decoy');
    const c = await curl('attacker', `https://${HOSTS.api.name}/`, ['--resolve', `${HOSTS.api.name}:443:${HOSTS.decoy.address}`]);
    assert.notEqual(c.code, 0);
    await accessLine('node-2', 'decoy refused', (l) => l.access === true && l.destinationAddress === `${HOSTS.decoy.address}:443` && l.flag === 'NO_ROUTE' && String(l.sourcePrincipal).endsWith('sa/attacker'), proxyMark);
    assert.equal(requests(), before, 'the decoy saw no request');
    // Through the gateway, the same SNI goes where the lab DNS says, whatever VIP the client used.
    const mark = gatewayAudit().length;
    const ok = await curl('attacker', `https://${HOSTS.api.name}/`);
    assert.equal(ok.code, 0, ok.stderr);
    const line = await auditLine('attacker allowed', (l) => l.source === principal('attacker') && l.verdict === 'allowed', mark);
    assert.equal(line.upstream, `${HOSTS.api.address}:443`);
  });

  test('SSRF: an allowed name pinned to a node\'s own underlay address is refused at the gateway, naming the node', async () => {
    const node1 = readLabState(LAB)!.plan.nodes.find((n) => n.name === 'node-1')!.ip;
    const name = 'kubelet.foo.example'; // app-a may reach *.foo.example
    await apply(LAB, `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: { name: node-ssrf, namespace: default }\nspec:\n  hosts: [${name}]\n  ports: [{ number: 443, name: tls, protocol: TLS }]\n  resolution: STATIC\n  endpoints: [{ address: ${node1} }]\n`);
    try {
      const mark = gatewayAudit().length;
      await waitFor('the ServiceEntry at the gateway', async () => {
        const r = await curl('app-a', `https://${name}/`, ['-k']);
        assert.notEqual(r.code, 0, `never reaches node-1: ${r.stdout}`);
        return gatewayAudit().slice(mark).find((l) => l.sni === name && l.code === 'EGRESS_ADDRESS_FORBIDDEN');
      }, 15_000);
      const line = gatewayAudit().slice(mark).find((l) => l.sni === name && l.code === 'EGRESS_ADDRESS_FORBIDDEN')!;
      assert.equal(line.source, principal('app-a'));
      assert.equal(line.upstream, undefined, 'nothing was dialled');
      assert.equal(line.reason, `Cannot dial "${name}" at ${node1}: it is in ${node1}/32 (node node-1's own address)`);
    } finally {
      await admin(LAB).delete([{ kind: 'ServiceEntry', namespace: 'default', name: 'node-ssrf' }]);
    }
  });

  test('tamper: domain fronting (allowed name, other Host or SNI) is refused', async () => {
    const mark = gatewayAudit().length;
    const http = await curl('attacker', `http://${HOSTS.api.name}/front`, ['-H', `Host: ${HOSTS.bar.name}`]);
    assert.notEqual(http.code, 0);
    assert.doesNotMatch(http.stdout, /"server"/, 'no site answered');
    const l1 = await auditLine('Host fronting', (l) => l.source === principal('attacker') && l.code === 'EGRESS_HOST_MISMATCH' && l.host === HOSTS.bar.name, mark);
    assert.equal(l1.authority, `${HOSTS.api.name}:80`);
    const tls = await inPod('attacker', ['openssl', 's_client', '-connect', `${HOSTS.api.name}:443`, '-servername', HOSTS.foo.name, '-brief'], 'Q\n');
    assert.doesNotMatch(tls.stdout + tls.stderr, /Protocol version: TLSv1/, 'no handshake with a fronted SNI');
    const l2 = await auditLine('SNI fronting', (l) => l.source === principal('attacker') && l.code === 'EGRESS_HOST_MISMATCH' && l.sni === HOSTS.foo.name, mark);
    assert.equal(l2.authority, `${HOSTS.api.name}:443`);
  });

  test('tamper: plaintext to the gateway is refused, from a pod (captured, verified) and from outside the mesh', async () => {
    const mark = gatewayAudit().length;
    const r = await raw('attacker', 'tcp', gatewayIp, 15008, Buffer.from(`GET / HTTP/1.1\r\nHost: ${HOSTS.api.name}\r\n\r\n`), 3000);
    assert.doesNotMatch(r.text, /"server"/);
    const line = await auditLine('tunnel to the gateway by IP', (l) => l.source === principal('attacker') && l.code === 'EGRESS_BAD_AUTHORITY', mark);
    assert.equal(line.authority, `${gatewayIp}:15008`);
    // A client with no mesh identity at all (the node namespace, root, no capture) gets no TLS session.
    const node1 = nodeNetns(LAB, 'node-1');
    const outsideMark = gatewayAudit().length;
    const outside = await inNetns(node1, ['curl', '-sS', '-m', '3', `http://${gatewayIp}:15008/`]);
    assert.notEqual(outside.code, 0);
    const https = await inNetns(node1, ['curl', '-sS', '-m', '3', '-k', `https://${gatewayIp}:15008/`]);
    assert.notEqual(https.code, 0, 'TLS without a client certificate is refused');
    // Both are audited by the gateway, with no verified source.
    // Both are audited by the gateway, from node-1 (its link to the pod, not a pod address), with
    // no verified source: the plain bytes as a failed handshake, the TLS client for its missing certificate.
    const fromNode1 = (): Line[] => gatewayAudit().slice(outsideMark).filter((l) => typeof l.sourceAddress === 'string' && !l.sourceAddress.startsWith('10.244.') && l.verdict === 'refused' && !String(l.source).startsWith('spiffe://'));
    await waitFor('both unverified refusals audited', () => (fromNode1().length >= 2 ? true : undefined), 8_000);
    const reasons = fromNode1().map((l) => `${String(l.code)}: ${String(l.reason)}`);
    assert.ok(reasons.some((r) => /^HBONE_TLS_FAILURE: ERR_SSL_(HTTP_REQUEST|WRONG_VERSION_NUMBER)/.test(r)), `the plaintext attempt: ${reasons.join(' | ')}`);
    assert.ok(reasons.some((r) => /^HBONE_TLS_FAILURE: ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE/.test(r)), `the TLS attempt without a certificate: ${reasons.join(' | ')}`);
  });

  test('impersonation: a certificate claiming app-a\'s identity from a CA of the attacker\'s own gets no tunnel through the gateway', async () => {
    // Root on node-1 (outside every pod) forges app-a's SPIFFE ID and tries to leave as app-a.
    const roots = (await admin(LAB).trustBundle()).match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)!;
    const input = client.write('forged.json', JSON.stringify({ attack: 'connect', host: gatewayIp, port: 15008, authority: `${HOSTS.api.name}:443`, tls: { otherCa: { identity: principal('app-a') }, rootsPem: roots } }));
    const mark = gatewayAudit().length;
    const r = await inNetns(nodeNetns(LAB, 'node-1'), [process.execPath, ATTACKER, 'probe', input], 25_000);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out.trim(), /^ERR /, `no tunnel: ${r.out}`);
    const line = await auditLine('the forged certificate refused', (l) => l.code === 'HBONE_TLS_FAILURE' && /client certificate rejected: UNABLE_TO_VERIFY_LEAF_SIGNATURE/.test(String(l.reason)), mark);
    assert.ok(!String(line.source).startsWith('spiffe://'), `nobody verified as its source: ${JSON.stringify(line)}`);
    assert.ok(!gatewayAudit().slice(mark).some((l) => l.source === principal('app-a')), 'nothing was audited as app-a');
  });

  test('bad first bytes at the gateway are each refused and logged; other traffic keeps flowing', async () => {
    // What every lab site was asked, by path (their logs: one "request" line each).
    const sitePaths = (): string[] => readdirSync(join(labRunDir(LAB), 'logs')).filter((f) => f.startsWith('inet-'))
      .flatMap((f) => readFileSync(join(labRunDir(LAB), 'logs', f), 'utf8').split('\n'))
      .filter((l) => l.includes('"msg":"request"')).map((l) => String((JSON.parse(l) as Line).path));
    for (const c of badFirstBytes()) {
      const mark = gatewayAudit().length;
      const count = (path: string): number => sitePaths().filter((x) => x === path).length;
      const [fine0, two0] = [count('/still-fine'), count('/two')];
      const r = await raw('app-a', c.end ? 'end' : 'tcp', HOSTS.api.name, c.port, c.bytes, 12_000);
      assert.doesNotMatch(r.text, /"server"/, `${c.what}: no site answered`);
      const line = await auditLine(c.what, (l) => l.source === principal('app-a') && c.code.test(String(l.code)), mark);
      assert.equal(line.verdict, 'refused', c.what);

      const ok = await curl('app-b', `https://${HOSTS.api.name}/still-fine`);
      assert.equal(ok.code, 0, `${c.what}: ${ok.stderr}`);
      // The sites' logs show that request (so they are read right), and never the second
      // pipelined request: none of its bytes left the gateway.
      await waitFor('the site logged the request after the attack', () => (count('/still-fine') > fine0 ? true : undefined), 5_000);
      assert.equal(count('/two'), two0, `${c.what}: no site was asked for /two`);
    }
  });

  test('the gateway holds its own SVID; app pods cannot read its credential', async () => {
    const state = readAgentState(LAB);
    const rec = state?.pods[`${GW.namespace}/${GW.name}`];
    assert.ok(rec, 'the gateway pod is in the agent state');
    const dump = await inNetns(podNetns(LAB, GW.namespace, GW.name), ['curl', '-sS', '-m', '3', 'http://127.0.0.1:15000/']);
    assert.match(dump.out, /spiffe:\/\/cluster\.local\/ns\/ambit-system\/sa\/egress-gateway/);
    const tokenFile = readLabState(LAB)!.plan.egress!.tokenFile;
    assert.ok(readFileSync(tokenFile, 'utf8').length > 0, 'control: the credential is there (root reads it)');
    const r = await inPod('attacker', ['cat', tokenFile]);
    assert.notEqual(r.code, 0, 'an app pod read the gateway credential');
    assert.match(r.stderr, /Permission denied/);
  });
});
