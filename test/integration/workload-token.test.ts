// Workload credentials for real: a node token with a bound identity, issued by the admin API of
// the `ambit control-plane` process, opens a config stream whose SVIDs are limited to exactly
// that identity, and still only while a pod running as it is scheduled on the token's node.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { ControlPlaneProcess } from '../../src/testing/control-plane-process.js';
import { ConfigStreamClient } from '../../src/stream/index.js';
import { controlPlaneIdentity } from '../../src/controlplane/control-plane.js';
import { createCsr, parseSpiffeId } from '../../src/identity/index.js';
import { silentLogger } from '../../src/log.js';
import { parseDocuments } from '../../src/config/index.js';
import { egressGatewayIdentity } from '../../src/config/egress-gateway.js';
import { NodeTokenIssuer } from '../../src/ca/index.js';
import type { AmbitError } from '../../src/errors.js';
import { credentialIdOf } from '../../src/testing/tokens.js';

let cp: ControlPlaneProcess;
let bundle: string;
const clients: ConfigStreamClient[] = [];
const GW = egressGatewayIdentity('cluster.local');
const WEB = 'spiffe://cluster.local/ns/shop/sa/web';

const registry = (gatewayNode: string): string => `
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Namespace
metadata: {name: ambit-system}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {nodeName: node-1, serviceAccountName: web, containers: [{name: main, command: [ambit, app, echo]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: egress-gateway, namespace: ambit-system, labels: {app: egress-gateway}}
spec: {nodeName: ${gatewayNode}, serviceAccountName: egress-gateway, containers: [{name: main, command: [ambit, egress-gateway]}]}
`;

async function client(node: string, token: string): Promise<ConfigStreamClient> {
  const c = new ConfigStreamClient({
    address: cp.streamAddress, node, token, trustBundle: bundle,
    serverIdentity: controlPlaneIdentity('cluster.local'), log: silentLogger(), backoff: { initialMs: 50, maxMs: 300 },
  });
  clients.push(c);
  c.start();
  await c.waitForVersion(1, 10_000);
  return c;
}

async function svid(c: ConfigStreamClient, identity: string): Promise<string> {
  const { csrPem } = createCsr(parseSpiffeId(identity));
  return new X509Certificate((await c.requestSvid(identity, csrPem)).chain[0]!).subjectAltName ?? '';
}

/** The control plane's log arrives through a pipe: wait for the line rather than read at once. */
async function auditLine(match: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  const end = Date.now() + 5_000;
  for (;;) {
    const line = cp.auditLines().find(match);
    if (line) return line;
    if (Date.now() > end) throw new Error(`no such audit line in: ${JSON.stringify(cp.auditLines().slice(-5))}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

before(async () => {
  cp = await ControlPlaneProcess.start();
  bundle = await cp.admin.trustBundle();
  await cp.admin.apply(parseDocuments(registry('node-1'), 'registry.yaml'));
});

after(async () => {
  for (const c of clients) c.stop();
  await cp?.stop();
});

test('a workload token gets an SVID for its bound identity and is refused any other, with an audit line', async () => {
  const gw = await client('node-1', await cp.admin.issueWorkloadToken('node-1', GW, 3600));
  assert.equal(await svid(gw, GW), `URI:${GW}`);
  // web runs on node-1 too, so a node token could have it: the binding is what refuses it.
  await assert.rejects(svid(gw, WEB), (e: AmbitError) => e.code === 'ISSUANCE_NOT_BOUND' && e.message.includes(GW) && e.message.includes(WEB));
  const line = await auditLine((l) => l.event === 'svid.refused' && l.code === 'ISSUANCE_NOT_BOUND');
  assert.equal(line.node, 'node-1');
  assert.equal(line.identity, WEB);
  assert.equal(line.boundIdentity, GW);
  await auditLine((l) => l.event === 'workload_token.issued' && l.identity === GW && l.node === 'node-1');
});

test('every credential is audited with its own ID at issuance, and every session names the credential it opened with', async () => {
  const token = await cp.admin.issueNodeToken('node-1', 600);
  const jti = credentialIdOf(token);
  const issued = await auditLine((l) => l.event === 'node_token.issued' && l.credential === jti);
  assert.equal(issued.node, 'node-1');
  assert.equal(issued.ttlSeconds, 600);
  assert.ok(Math.abs(Date.parse(issued.expiresAt as string) - (Date.now() + 600_000)) < 60_000, `expiresAt ${String(issued.expiresAt)}`);
  await client('node-1', token);
  const accepted = await auditLine((l) => l.event === 'stream.accepted' && l.credential === jti);
  assert.equal(accepted.node, 'node-1');
  assert.equal(accepted.identity, undefined, 'a node credential, not a workload one');
  const wtoken = await cp.admin.issueWorkloadToken('node-1', GW, 600);
  const wjti = credentialIdOf(wtoken);
  assert.notEqual(wjti, jti);
  assert.equal((await auditLine((l) => l.event === 'workload_token.issued' && l.credential === wjti)).identity, GW);
});

test('a node proxy and a workload on the same node hold separate streams', async () => {
  const node = await client('node-1', await cp.admin.issueNodeToken('node-1', 3600));
  // Node tokens are unchanged for workloads scheduled on the node, but the gateway's identity is
  // reserved for its own bound credential, even on its node.
  assert.equal(await svid(node, WEB), `URI:${WEB}`);
  await assert.rejects(svid(node, GW), (e: AmbitError) => e.code === 'ISSUANCE_RESERVED' && e.message.includes('never to a node proxy'));
  await auditLine((l) => l.event === 'svid.refused' && l.code === 'ISSUANCE_RESERVED' && l.identity === GW && l.node === 'node-1');
  const gw = clients[0]!;
  assert.ok(gw.connected && node.connected, 'neither replaced the other');
  const proxies = (await cp.admin.status()).proxies.filter((p) => p.node === 'node-1' && p.connected);
  assert.deepEqual(proxies.map((p) => p.identity ?? null).sort(), [null, GW].sort());
});

test('a workload token bound to node-1 gets nothing while the gateway pod is scheduled on node-2', async () => {
  await cp.admin.apply(parseDocuments(registry('node-2'), 'moved.yaml'));
  const gw = clients[0]!;
  await assert.rejects(svid(gw, GW), (e: AmbitError) => e.code === 'ISSUANCE_NOT_ON_NODE' && e.message.includes('node-1'));
  await auditLine((l) => l.event === 'svid.refused' && l.code === 'ISSUANCE_NOT_ON_NODE' && l.identity === GW && l.node === 'node-1');
  const onNode2 = await client('node-2', await cp.admin.issueWorkloadToken('node-2', GW, 3600));
  assert.equal(await svid(onNode2, GW), `URI:${GW}`);
});

test('issueWorkloadToken refuses identities that are not workloads of this mesh', async () => {
  const cases: [string, string, string, RegExp][] = [
    ['not a SPIFFE ID', 'node-1', 'ns/ambit-system/sa/egress-gateway', /WORKLOAD_IDENTITY_INVALID/],
    ['another trust domain', 'node-1', 'spiffe://evil.example/ns/ambit-system/sa/egress-gateway', /WORKLOAD_IDENTITY_INVALID/],
    ['the control plane', 'node-1', controlPlaneIdentity('cluster.local'), /WORKLOAD_IDENTITY_INVALID/],
    ['no service account path', 'node-1', 'spiffe://cluster.local/ns/ambit-system', /WORKLOAD_IDENTITY_INVALID/],
    ['bad node name', 'Node_1', GW, /NODE_NAME_INVALID/],
  ];
  for (const [what, node, identity, code] of cases) {
    await assert.rejects(cp.admin.issueWorkloadToken(node, identity, 3600), (e: AmbitError) => {
      assert.match(e.code, code, what);
      assert.match(e.message, /^Cannot issue a workload credential: /, what);
      if (e.code === 'WORKLOAD_IDENTITY_INVALID') assert.ok(e.message.includes(JSON.stringify(identity)), `${what}: names the value`);
      return true;
    });
  }
  await assert.rejects(cp.admin.issueWorkloadToken('node-1', GW, 10), (e: AmbitError) => e.code === 'TTL_INVALID');
});

test('NodeTokenIssuer: the bound identity is signed, and node tokens carry none', () => {
  const issuer = NodeTokenIssuer.generate();
  const now = new Date('2030-01-01T00:00:00Z');
  const { credential: _w, ...workload } = issuer.verify(issuer.issueWorkload('node-1', GW, 600, now), now);
  assert.deepEqual(workload, { node: 'node-1', exp: new Date('2030-01-01T00:10:00Z'), iat: Date.parse('2030-01-01T00:00:00Z') / 1000, identity: GW });
  const { credential: _n, ...node } = issuer.verify(issuer.issue('node-1', 600, now), now);
  assert.deepEqual(node, { node: 'node-1', exp: new Date('2030-01-01T00:10:00Z'), iat: Date.parse('2030-01-01T00:00:00Z') / 1000 });
  // Swapping the identity claim breaks the signature.
  const [h, p, s] = issuer.issueWorkload('node-1', GW, 600, now).split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
  const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, identity: WEB })).toString('base64url')}.${s}`;
  assert.throws(() => issuer.verify(forged, now), { code: 'NODE_TOKEN_BAD_SIGNATURE' });
  assert.throws(() => issuer.issueWorkload('node-1', 'web', 600, now), { code: 'NODE_TOKEN_INVALID_REQUEST', message: 'Cannot issue workload token: identity must be a spiffe:// URI, got "web"' });
});
