// The egress gateway end to end on loopback: the real `ambit control-plane` and `ambit
// egress-gateway` processes, a DNS server naming a loopback TLS server, and an HBONE client with
// an SVID that the control plane signed for a pod applied through the admin API. A host is
// reachable only while a ServiceEntry names it; a refusal is logged with the verified source; a
// DestinationRule originates TLS; a CA bundle that cannot be read is a NACK, not an outage. The
// "internet" is 127.0.0.2 (`--allow-loopback-upstreams`); the control plane on 127.0.0.1 stays
// forbidden as an upstream, and a STATIC ServiceEntry is dialled at its endpoint, not at DNS's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { ControlPlaneProcess, freePort } from '../../src/testing/control-plane-process.js';
import { ConfigStreamClient } from '../../src/stream/index.js';
import { controlPlaneIdentity } from '../../src/stream/index.js';
import { createCsr, parseSpiffeId } from '../../src/identity/index.js';
import { createHboneContext, verifyServerIdentity } from '../../src/hbone/index.js';
import { DnsServer, StaticZone } from '../../src/dns/index.js';
import { createPublicCa, type PublicCaResult } from '../../src/lab/public-ca.js';
import { parseDocuments } from '../../src/config/index.js';
import { egressGatewayIdentity } from '../../src/config/egress-gateway.js';
import { silentLogger } from '../../src/log.js';
import { drain, httpGet, openTunnel, tlsThrough } from '../unit/egress/gateway-harness.js';
import { EgressGatewayProcess } from './egress-gateway-process.js';
import { credentialIdOf } from '../../src/testing/tokens.js';

const GW = egressGatewayIdentity('cluster.local');
/** The external server's address: loopback, but not the control plane's 127.0.0.1. */
const EXTERNAL_IP = '127.0.0.2';
const WEB = 'spiffe://cluster.local/ns/shop/sa/web';
const cleanups: (() => Promise<unknown> | unknown)[] = [];
let cp: ControlPlaneProcess;
let gw: EgressGatewayProcess;
let pub: PublicCaResult;
let external: HttpsServer;
let P: number;
let gwPort: number;
let webCtx: ReturnType<typeof createHboneContext>;
let dir: string;
/** The node credential web's SVID was asked for with. */
let nodeToken: string;

const registry = `
apiVersion: v1
kind: Namespace
metadata: {name: ambit-system}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Node
metadata: {name: node-1}
---
apiVersion: ambit.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}
---
apiVersion: v1
kind: Pod
metadata: {name: egress-gateway, namespace: ambit-system, labels: {app: egress-gateway}}
spec: {nodeName: node-1, serviceAccountName: egress-gateway, containers: [{name: gw, command: [ambit, egress-gateway]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {nodeName: node-1, serviceAccountName: web, containers: [{name: main, command: [ambit, app, echo]}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web-egress, namespace: ambit-system}
spec:
  selector: {matchLabels: {app: egress-gateway}}
  rules:
  - from: [{source: {principals: [cluster.local/ns/shop/sa/web]}}]
    to: [{operation: {hosts: [api.example.com, plain.example.com, cp.example.com, static.example.com]}}]
`;

const apiEntry = (): string => `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: shop}
spec: {hosts: [api.example.com], ports: [{number: ${P}, name: tls, protocol: TLS}]}
`;

const plainEntry = (): string => `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: plain, namespace: shop}
spec: {hosts: [plain.example.com], ports: [{number: 80, name: http, protocol: HTTP, targetPort: ${P}}]}
`;

const rule = (name: string, host: string, bundle: string): string => `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: shop}
spec: {host: ${host}, trafficPolicy: {tls: {mode: SIMPLE, caCertificates: ${bundle}}}}
`;

async function session(): Promise<ClientHttp2Session> {
  const s = h2connect(`https://127.0.0.1:${gwPort}`, {
    createConnection: () => tlsConnect({ host: '127.0.0.1', port: gwPort, secureContext: webCtx, ALPNProtocols: ['h2'], checkServerIdentity: verifyServerIdentity(GW) }),
  });
  s.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => s.once('connect', () => resolve()).once('error', reject));
  cleanups.push(() => s.close());
  return s;
}

/** TCP connections the external server has accepted so far. */
let externalDials = 0;

/**
 * Opens a tunnel to `host` (api.example.com), speaks TLS through it: the response body, or how it
 * failed (the error, and the RST_STREAM code the gateway ended the tunnel with), and how many
 * connections the external server accepted meanwhile.
 */
async function viaApi(host = 'api.example.com'): Promise<{ body?: string; rstCode?: number; error?: string; status: number; dialled: number }> {
  const dials0 = externalDials;
  const s = await session();
  const t = await openTunnel(s, `${host}:${P}`);
  if (t.status !== 200) return { status: t.status, dialled: externalDials - dials0 };
  const ended = drain(t.stream);
  try {
    const sock: TLSSocket = await tlsThrough(t.stream, host, pub.rootPem);
    const body = await httpGet(sock, host);
    sock.end();
    return { status: 200, body, dialled: externalDials - dials0 };
  } catch (err) {
    const { rstCode } = await ended;
    return { status: 200, error: (err as Error).message, ...(rstCode !== undefined ? { rstCode } : {}), dialled: externalDials - dials0 };
  }
}

/**
 * A tunnel the gateway refused on its ClientHello: the client's TLS never got a ServerHello (the
 * tunnel ended under it), and the external server was never dialled. (The reset code itself is
 * asserted in the unit tests, gateway-hardening: here the client's TLS socket closes the stream first.)
 */
function assertRefused(r: Awaited<ReturnType<typeof viaApi>>, what: string): void {
  assert.equal(r.body, undefined, `${what}: no answer`);
  assert.match(r.error ?? '', /disconnected before secure TLS connection was established/, `${what}: the tunnel ended before any TLS answer (${JSON.stringify(r)})`);
  assert.equal(r.dialled, 0, `${what}: the external server was never dialled`);
}

async function viaPlain(): Promise<string> {
  const s = await session();
  const t = await openTunnel(s, 'plain.example.com:80');
  assert.equal(t.status, 200);
  const body = await httpGet(t.stream, 'plain.example.com');
  t.stream.end();
  return body;
}

const hasEntry = (name: string) => (d: Record<string, unknown>): boolean => (d.serviceEntries as { name: string }[]).some((e) => e.name === name);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ambit-egress-e2e-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  pub = await createPublicCa(join(dir, 'pub'), [{ names: ['api.example.com', 'plain.example.com', 'cp.example.com', 'static.example.com'] }]);
  external = createHttpsServer({ cert: readFileSync(pub.hosts[0]!.certPath), key: readFileSync(pub.hosts[0]!.keyPath) }, (req, res) => {
    req.resume();
    req.on('end', () => res.end(`hello ${req.headers.host} sni=${(req.socket as TLSSocket).servername}`));
  });
  external.on('connection', () => externalDials++);
  await new Promise<void>((r) => external.listen(0, EXTERNAL_IP, () => r()));
  cleanups.push(() => new Promise<void>((r) => { external.closeAllConnections(); external.close(() => r()); }));
  P = (external.address() as AddressInfo).port;
  const a = (name: string, address: string) => ({ name, type: 'A' as const, class: 1, ttl: 5, address });
  const dns = new DnsServer({ zones: [new StaticZone([
    a('api.example.com', EXTERNAL_IP), a('plain.example.com', EXTERNAL_IP),
    // Points at the control plane (127.0.0.1): refused even though loopback is allowed here.
    a('cp.example.com', '127.0.0.1'),
    // DNS says nothing listens here; the STATIC entry pins EXTERNAL_IP.
    a('static.example.com', '127.0.0.9'),
  ])] });
  const dnsAt = await dns.listen('127.0.0.1', 0);
  cleanups.push(() => dns.close());

  cp = await ControlPlaneProcess.start();
  cleanups.push(() => cp.stop());
  await cp.admin.apply(parseDocuments(registry, 'registry.yaml'));
  const bundle = await cp.admin.trustBundle();
  writeFileSync(join(dir, 'bundle.pem'), bundle);
  writeFileSync(join(dir, 'gw.token'), await cp.admin.issueWorkloadToken('node-1', GW, 3600), { mode: 0o600 });

  // The source: web's SVID, obtained as its node proxy would (node token, CSR over the stream).
  nodeToken = await cp.admin.issueNodeToken('node-1', 3600);
  const node = new ConfigStreamClient({ address: cp.streamAddress, node: 'node-1', token: nodeToken, trustBundle: bundle, serverIdentity: controlPlaneIdentity('cluster.local'), log: silentLogger() });
  node.start();
  cleanups.push(() => node.stop());
  await node.waitForVersion(1, 10_000);
  const csr = createCsr(parseSpiffeId(WEB));
  const svid = await node.requestSvid(WEB, csr.csrPem);
  webCtx = createHboneContext({ chainPem: svid.chain, keyPem: csr.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, rootsPem: [bundle] });

  gwPort = await freePort();
  // Admin ports are fixed (15000/15020/15021): a loopback address of its own avoids other tests.
  const adminHost = `127.0.${(process.pid >> 8) % 250 + 3}.${process.pid % 250 + 3}`;
  gw = EgressGatewayProcess.spawn([
    '--node', 'node-1', '--control-plane', cp.streamAddress, '--token-file', join(dir, 'gw.token'), '--trust-bundle', join(dir, 'bundle.pem'),
    '--listen', `127.0.0.1:${gwPort}`, '--dns', `127.0.0.1:${dnsAt.port}`, '--allow-loopback-upstreams',
  ], adminHost);
  cleanups.push(() => gw.stop());
  await gw.until('readiness', async () => ((await gw.admin(15021)).status === 200 ? true : undefined));
});

after(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
});

test('ready with its own SVID: the config dump shows the SVID, the mode and the policies', async () => {
  const d = (await gw.admin(15000, '/config_dump')).body;
  assert.equal(d.identity, GW);
  const [svid] = d.svids as { identity: string; serial: string; notAfter: string; state: string }[];
  assert.equal(svid?.identity, GW);
  assert.equal(svid?.state, 'valid');
  assert.match(svid!.serial, /^[0-9a-f]+$/i);
  assert.ok(Date.parse(svid!.notAfter) > Date.now());
  assert.equal(d.outboundTrafficPolicy, 'REGISTRY_ONLY');
  assert.deepEqual(d.policies, ['ambit-system/web-egress']);
  assert.ok(cp.auditLines().some((l) => l.event === 'svid.issued' && l.identity === GW && l.node === 'node-1'));
});

test('REGISTRY_ONLY: refused before a ServiceEntry names the host, allowed after, refused again after it is deleted', async () => {
  assertRefused(await viaApi(), 'before the ServiceEntry');
  await gw.connection((l) => l.authority === `api.example.com:${P}` && l.code === 'EGRESS_NOT_REGISTERED' && l.source === WEB);

  await cp.admin.apply(parseDocuments(apiEntry(), 'api.yaml'));
  await gw.dumpWhen('the ServiceEntry', hasEntry('shop/api'));
  const allowed = await viaApi();
  assert.equal(allowed.body, 'hello api.example.com sni=api.example.com');
  assert.equal(allowed.dialled, 1, 'the gateway dialled the external server once (the count works)');
  const line = await gw.connection((l) => l.verdict === 'allowed' && l.sni === 'api.example.com');
  assert.equal(line.source, WEB, 'the verified source identity is logged');
  assert.equal(line.serviceEntry, 'shop/api');
  assert.equal(line.policy, 'ambit-system/web-egress');
  assert.equal(line.upstream, `${EXTERNAL_IP}:${P}`);

  await cp.admin.delete([{ kind: 'ServiceEntry', namespace: 'shop', name: 'api' }]);
  await gw.dumpWhen('the ServiceEntry to go', (d) => !hasEntry('shop/api')(d));
  const n = gw.lines.filter((l) => l.code === 'EGRESS_NOT_REGISTERED').length;
  assertRefused(await viaApi(), 'after the ServiceEntry went');
  const again = await gw.until('a second refusal', () => gw.lines.filter((l) => l.msg === 'egress connection' && l.code === 'EGRESS_NOT_REGISTERED' && l.source === WEB).slice(n)[0]);
  assert.equal(again.verdict, 'refused');
  assert.equal(again.level, 40, 'refusals are warnings');
});

test('a DestinationRule originates TLS to the ServiceEntry port\'s targetPort, verified by its CA bundle', async () => {
  await cp.admin.apply(parseDocuments(plainEntry() + '---' + rule('plain-tls', 'plain.example.com', pub.rootPath), 'plain.yaml'));
  const d = await gw.dumpWhen('the DestinationRule', (x) => (x.destinationRules as unknown[]).length === 1 && hasEntry('shop/plain')(x));
  assert.deepEqual(d.destinationRules, [{ name: 'shop/plain-tls', host: 'plain.example.com', caCertificates: pub.rootPath, upstreamPorts: { 80: P } }]);
  assert.equal(await viaPlain(), 'hello plain.example.com sni=plain.example.com');
  const line = await gw.connection((l) => l.mode === 'originate' && l.verdict === 'allowed');
  assert.equal(line.source, WEB);
  assert.equal(line.upstream, `${EXTERNAL_IP}:${P}`);
});

test('a DestinationRule whose CA bundle cannot be read is a NACK naming the file; the last good config keeps serving', async () => {
  const missing = join(dir, 'no-such-bundle.pem');
  await cp.admin.apply(parseDocuments(rule('broken', 'api.example.com', missing), 'broken.yaml'));
  try {
    const d = await gw.dumpWhen('the NACK', (x) => x.lastNack !== undefined);
    assert.match((d.lastNack as { error: string }).error, /EGRESS_CA_BUNDLE_UNREADABLE|cannot be read/);
    assert.ok((d.lastNack as { error: string }).error.includes(missing), 'the NACK names the file');
    assert.deepEqual((d.destinationRules as { name: string }[]).map((r) => r.name), ['shop/plain-tls'], 'still the last good version');
    const status = await cp.admin.status();
    const mine = status.proxies.find((p) => p.identity === GW);
    assert.ok(mine?.nack?.error.includes(missing), 'the control plane shows the NACK');
    assert.equal(await viaPlain(), 'hello plain.example.com sni=plain.example.com');
  } finally {
    // Fixing it (here: deleting the rule) converges again; a failed assert above must not leave every later version NACKed.
    await cp.admin.delete([{ kind: 'DestinationRule', namespace: 'shop', name: 'broken' }]);
  }
  await gw.dumpWhen('the NACK to clear', (x) => x.lastNack === undefined);
});

test('SSRF: a registered name resolving to the control plane\'s address is refused and audited, even with loopback upstreams allowed', async () => {
  await cp.admin.apply(parseDocuments(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: cp-name, namespace: shop}
spec: {hosts: [cp.example.com], ports: [{number: ${P}, name: tls, protocol: TLS}]}
`, 'cp.yaml'));
  const d = await gw.dumpWhen('the ServiceEntry', hasEntry('shop/cp-name'));
  assert.ok((d.forbiddenUpstreams as string[]).includes('127.0.0.1/32 (the control plane)'), JSON.stringify(d.forbiddenUpstreams));
  const r = await viaApi('cp.example.com');
  assertRefused(r, 'a name resolving to the control plane');
  const line = await gw.connection((l) => l.sni === 'cp.example.com');
  assert.equal(line.code, 'EGRESS_ADDRESS_FORBIDDEN');
  assert.equal(line.verdict, 'refused');
  assert.equal(line.source, WEB);
  assert.deepEqual(line.resolved, ['127.0.0.1']);
  assert.match(line.reason as string, /127\.0\.0\.1\/32 \(the control plane\)/);
  assert.equal(line.upstream, undefined);
});

test('SSRF: an operator range in MeshConfig egressForbiddenUpstreams refuses an allowed host that resolves into it; removing the range lets it through again', async () => {
  const mesh = (extra: string) => parseDocuments(`
apiVersion: ambit.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}${extra}}
`, 'mesh.yaml');
  const label = `${EXTERNAL_IP}/32 (MeshConfig egressForbiddenUpstreams: lab corp network)`;
  await cp.admin.apply(parseDocuments(apiEntry(), 'api.yaml'));
  await gw.dumpWhen('the ServiceEntry', hasEntry('shop/api'));
  assert.equal((await viaApi()).body, 'hello api.example.com sni=api.example.com', 'allowed before the range');

  const refusals = () => gw.lines.filter((l) => l.msg === 'egress connection' && l.code === 'EGRESS_ADDRESS_FORBIDDEN' && l.sni === 'api.example.com');
  try {
    await cp.admin.apply(mesh(`, egressForbiddenUpstreams: [{cidr: ${EXTERNAL_IP}/32, reason: lab corp network}]`));
    const d = await gw.dumpWhen('the operator range', (x) => (x.forbiddenUpstreams as string[]).includes(label));
    assert.equal((d.forbiddenUpstreams as string[]).at(-1), label, 'listed after the built-in and mesh ranges');
    const n = refusals().length;
    assertRefused(await viaApi(), 'in the operator range');
    const line = await gw.until('the refusal', () => refusals()[n]);
    assert.equal(line.source, WEB);
    assert.deepEqual(line.resolved, [EXTERNAL_IP]);
    assert.equal(line.reason, `Cannot dial "api.example.com" at ${EXTERNAL_IP}: it is in ${label}`);
  } finally {
    await cp.admin.apply(mesh(''));
    await gw.dumpWhen('the range to go', (x) => !(x.forbiddenUpstreams as string[]).includes(label));
  }
  assert.equal((await viaApi()).body, 'hello api.example.com sni=api.example.com', 'allowed again');
  await cp.admin.delete([{ kind: 'ServiceEntry', namespace: 'shop', name: 'api' }]);
  await gw.dumpWhen('the ServiceEntry to go', (x) => !hasEntry('shop/api')(x));
});

test('SSRF: a node\'s own address (Node spec.addresses) is never an upstream: an allowed host resolving there is refused; the Node gone, it goes through', async () => {
  const label = `${EXTERNAL_IP}/32 (node node-9's own address)`;
  await cp.admin.apply(parseDocuments(apiEntry(), 'api.yaml'));
  await gw.dumpWhen('the ServiceEntry', hasEntry('shop/api'));
  assert.equal((await viaApi()).body, 'hello api.example.com sni=api.example.com', 'allowed before the node names the address');
  const refusals = () => gw.lines.filter((l) => l.msg === 'egress connection' && l.code === 'EGRESS_ADDRESS_FORBIDDEN' && l.sni === 'api.example.com');
  try {
    await cp.admin.apply(parseDocuments(`apiVersion: v1\nkind: Node\nmetadata: {name: node-9}\nspec: {podCIDR: 10.244.9.0/24, addresses: [${EXTERNAL_IP}]}\n`, 'node.yaml'));
    await gw.dumpWhen('the node address', (x) => (x.forbiddenUpstreams as string[]).includes(label));
    const n = refusals().length;
    assertRefused(await viaApi(), 'at a node address');
    const line = await gw.until('the refusal', () => refusals()[n]);
    assert.equal(line.source, WEB);
    assert.equal(line.reason, `Cannot dial "api.example.com" at ${EXTERNAL_IP}: it is in ${label}`);
  } finally {
    await cp.admin.delete([{ kind: 'Node', name: 'node-9' }]);
    await gw.dumpWhen('the node to go', (x) => !(x.forbiddenUpstreams as string[]).includes(label));
  }
  assert.equal((await viaApi()).body, 'hello api.example.com sni=api.example.com', 'allowed again');
  await cp.admin.delete([{ kind: 'ServiceEntry', namespace: 'shop', name: 'api' }]);
  await gw.dumpWhen('the ServiceEntry to go', (x) => !hasEntry('shop/api')(x));
});

test('resolution STATIC: the gateway dials the pinned endpoint, never what DNS says', async () => {
  await cp.admin.apply(parseDocuments(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: pinned, namespace: shop}
spec: {hosts: [static.example.com], resolution: STATIC, endpoints: [{address: ${EXTERNAL_IP}}], ports: [{number: ${P}, name: tls, protocol: TLS}]}
`, 'static.yaml'));
  await gw.dumpWhen('the ServiceEntry', hasEntry('shop/pinned'));
  const r = await viaApi('static.example.com');
  assert.equal(r.body, 'hello static.example.com sni=static.example.com');
  const line = await gw.connection((l) => l.sni === 'static.example.com' && l.verdict === 'allowed');
  assert.deepEqual(line.resolved, [EXTERNAL_IP], 'DNS (127.0.0.9) was not asked');
  assert.equal(line.upstream, `${EXTERNAL_IP}:${P}`);
});

test('a source proving an SVID asked for with a revoked credential is refused and its open connection closed, even while the gateway rejects every version; audited with its identity', async () => {
  const open = await session();
  const closed = new Promise((resolve) => open.once('close', resolve));
  // The gateway rejects every version from here on (a CA bundle it cannot read): the revocation must not wait for that.
  await cp.admin.apply(parseDocuments(rule('broken', 'api.example.com', join(dir, 'no-such-bundle.pem')), 'broken.yaml'));
  const nacked = await gw.dumpWhen('the NACK', (x) => x.lastNack !== undefined);
  const jti = credentialIdOf(nodeToken);
  await cp.admin.revokeCredential('node-1', jti);
  await closed;
  const d = await gw.dumpWhen('the revocation in the dump', (x) => (x.revoked as { credentials: string[] }).credentials.includes(jti));
  assert.equal(d.version, nacked.version, 'no version was applied: the list came from a rejected one');
  assert.ok(d.lastNack !== undefined, 'still rejecting');
  const line = await gw.connection((l) => l.code === 'HBONE_REVOKED' && l.source === WEB);
  assert.match(String(line.reason), new RegExp(`issued to node "node-1" through credential ${jti}, which was revoked; open connection closed$`));
  // A new connection with the same SVID gets no tunnel: refused in its handshake, audited as such.
  const n = gw.lines.length;
  const again = await session().then(async (s) => openTunnel(s, 'plain.example.com:80').then((t) => `status ${t.status}`, (err: Error) => err.message), (err: Error) => err.message);
  assert.doesNotMatch(again, /^status /, `no tunnel (not even a refused one) for a revoked SVID: ${again}`);
  await gw.until('the handshake refusal audited', () => gw.lines.slice(n).find((l) => l.code === 'HBONE_REVOKED' && !/open connection closed/.test(String(l.reason)) && new RegExp(`credential ${jti}, which was revoked`).test(String(l.reason))), 5000);
  // Every connection web opened in the tests above is one of them.
  const said = gw.lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('revocations changed'));
  assert.ok(typeof said?.connectionsClosed === 'number' && said.connectionsClosed >= 1, `the gateway says what it closed: ${JSON.stringify(said)}`);
  assert.equal(said?.fromRejectedVersion, true, 'and that it took the list from a rejected version');
  await cp.admin.delete([{ kind: 'DestinationRule', namespace: 'shop', name: 'broken' }]);
  const fixed = await gw.dumpWhen('the NACK to clear', (x) => x.lastNack === undefined);
  assert.ok((fixed.revoked as { credentials: string[] }).credentials.includes(jti), 'the applied version carries the revocation itself');
});

test('SIGTERM drains and exits cleanly: an open HBONE connection is told to go away (GOAWAY), then the process exits 0', async () => {
  const open = await session();
  const goaway = new Promise<number>((resolve) => open.once('goaway', (code: number) => resolve(code)));
  const closed = new Promise<void>((resolve) => open.once('close', () => resolve()));
  const r = await gw.stop();
  assert.equal(await Promise.race([goaway, new Promise<string>((res) => setTimeout(() => res('no GOAWAY within 5 s'), 5000))]), 0, 'GOAWAY(NO_ERROR) on the open connection');
  await closed;
  assert.deepEqual(r, { code: 0, signal: null });
  assert.ok(gw.lines.some((l) => typeof l.msg === 'string' && l.msg.includes('shutting down')));
});
