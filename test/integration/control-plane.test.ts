// The control plane for real: the `ambit control-plane` process, and node-proxy clients built on
// the shipped stream library, over TLS on loopback. Node-scoped issuance follows a pod's move,
// clients resume after a restart without losing state, a NACKed version is never half-applied.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { ControlPlaneProcess } from '../../src/testing/control-plane-process.js';
import { ConfigStreamClient, type ConfigState } from '../../src/stream/index.js';
import { controlPlaneIdentity } from '../../src/controlplane/control-plane.js';
import { createCsr, parseSpiffeId } from '../../src/identity/index.js';
import { createLogger, silentLogger } from '../../src/log.js';
import { parseDocuments } from '../../src/config/index.js';
import { AmbitError } from '../../src/errors.js';
import { CA_FILES, CertificateAuthority, NodeTokenIssuer } from '../../src/ca/index.js';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let cp: ControlPlaneProcess;
let bundle: string;
const clients: ConfigStreamClient[] = [];
const WEB = 'spiffe://cluster.local/ns/shop/sa/web';

const base = `
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Node
metadata: {name: node-1}
spec: {podCIDR: 10.244.1.0/24}
---
apiVersion: v1
kind: Node
metadata: {name: node-2}
spec: {podCIDR: 10.244.2.0/24}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`;

function pod(node: string, name = 'web', sa = 'web'): string {
  return `
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: shop, labels: {app: web}}
spec:
  nodeName: ${node}
  serviceAccountName: ${sa}
  containers: [{name: main, command: [ambit, app, echo]}]
`;
}

async function client(node: string, opts: { validate?: (s: ConfigState) => void; token?: string } = {}): Promise<ConfigStreamClient> {
  const token = opts.token ?? (await cp.admin.issueNodeToken(node, 3600));
  const c = new ConfigStreamClient({
    address: cp.streamAddress,
    node,
    token,
    trustBundle: bundle,
    serverIdentity: controlPlaneIdentity('cluster.local'),
    log: silentLogger(),
    backoff: { initialMs: 50, maxMs: 300 },
    ...(opts.validate ? { validate: opts.validate } : {}),
  });
  clients.push(c);
  c.start();
  return c;
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function svidFor(c: ConfigStreamClient, identity = WEB): Promise<string[]> {
  const { csrPem } = createCsr(parseSpiffeId(identity));
  return (await c.requestSvid(identity, csrPem)).chain;
}

before(async () => {
  cp = await ControlPlaneProcess.start();
  bundle = await cp.admin.trustBundle();
  await cp.admin.apply(parseDocuments(base + '---' + pod('node-1'), 'test'));
});

after(async () => {
  for (const c of clients) c.stop();
  await cp?.stop();
});

test('two proxies receive the workload and service view and ACK it', async () => {
  const [n1, n2] = [await client('node-1'), await client('node-2')];
  for (const c of [n1, n2]) {
    await c.waitForVersion(1, 10_000);
    const wl = c.state.resources.get('workload/shop/web') as { identity: string; node: string };
    assert.equal(wl.identity, WEB);
    assert.equal(wl.node, 'node-1');
    const svc = c.state.resources.get('service/shop/web') as { vip: string; ports: unknown[] };
    assert.match(svc.vip, /^10\.96\./);
  }
  await until('both ACKed', async () => {
    const s = await cp.admin.status();
    return s.proxies.length === 2 && s.proxies.every((p) => p.connected && p.ackedVersion === s.configVersion);
  });
});

test('CSR authorization follows the pod when it moves between nodes', async () => {
  const [n1, n2] = clients as [ConfigStreamClient, ConfigStreamClient];
  const chain = await svidFor(n1);
  const leaf = new X509Certificate(chain[0]!);
  assert.equal(leaf.subjectAltName, `URI:${WEB}`);
  assert.ok(leaf.verify(new X509Certificate(bundle.split(/(?<=-----END CERTIFICATE-----)\n?/)[0]!).publicKey));
  await assert.rejects(svidFor(n2), (e: AmbitError) => e.code === 'ISSUANCE_NOT_ON_NODE' && /node-2/.test(e.message));

  await cp.admin.apply(parseDocuments(pod('node-2'), 'move'));
  await until('node-1 sees the move', () => (n1.state.resources.get('workload/shop/web') as { node: string }).node === 'node-2');
  await assert.rejects(svidFor(n1), (e: AmbitError) => e.code === 'ISSUANCE_NOT_ON_NODE' && /node-1/.test(e.message));
  const moved = await svidFor(n2);
  assert.equal(new X509Certificate(moved[0]!).subjectAltName, `URI:${WEB}`);

  const audit = cp.auditLines();
  assert.ok(audit.some((l) => l.event === 'svid.refused' && l.node === 'node-2' && l.identity === WEB), 'refusal is audited');
  assert.ok(audit.some((l) => l.event === 'svid.issued' && l.node === 'node-2' && l.identity === WEB), 'issuance is audited');
});

test('a node cannot get an SVID for a CSR whose SAN differs from the identity it asks for', async () => {
  const n2 = clients[1]!;
  const { csrPem } = createCsr(parseSpiffeId('spiffe://cluster.local/ns/shop/sa/admin'));
  await assert.rejects(n2.requestSvid(WEB, csrPem), (e: AmbitError) => e.code === 'CSR_SAN_MISMATCH');
});

test('a CSR whose signature does not verify is refused over the stream', async () => {
  const n2 = clients[1]!;
  const { csrDer } = createCsr(parseSpiffeId(WEB));
  const bad = Buffer.from(csrDer);
  bad[bad.length - 5] ^= 0x01;
  const pem = `-----BEGIN CERTIFICATE REQUEST-----\n${bad.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE REQUEST-----\n`;
  await assert.rejects(n2.requestSvid(WEB, pem), (e: AmbitError) => e.code === 'CSR_BAD_SIGNATURE');
});

test('forged and expired node credentials are refused at hello, with an audit line', async () => {
  const good = await cp.admin.issueNodeToken('node-1', 3600);
  const [h, p, s] = good.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
  const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'node-2' })).toString('base64url')}.${s}`;
  // An expired credential, signed with the control plane's real key (read from its data dir).
  const issuer = NodeTokenIssuer.fromPem(readFileSync(join(cp.dataDir, 'ca', 'node-token-key.pem'), 'utf8'));
  const expired = issuer.issue('node-1', 60, new Date(Date.now() - 3600_000));
  for (const [token, code] of [
    [expired, 'NODE_TOKEN_EXPIRED'],
    [forged, 'NODE_TOKEN_BAD_SIGNATURE'],
    ['not-a-token', 'NODE_TOKEN_MALFORMED'],
  ] as const) {
    const c = await client('node-2', { token });
    const err = await new Promise<AmbitError>((r) => c.once('refused', r));
    c.stop();
    assert.equal(err.code, code);
  }
  assert.ok(cp.auditLines().some((l) => l.event === 'stream.refused' && l.code === 'NODE_TOKEN_BAD_SIGNATURE'));
});

test('a NACKed version is never half-applied and shows in status', async () => {
  const picky = await client('node-3', {
    validate: (s) => {
      if (s.resources.has('authorization-policy/shop/poison')) throw new Error('cannot apply policy shop/poison');
    },
  });
  await picky.waitForVersion(1);
  const before = picky.state;
  await cp.admin.apply(
    parseDocuments(
      `${pod('node-2', 'extra', 'extra')}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: poison, namespace: shop}
spec: {action: DENY, rules: [{from: [{source: {principals: [cluster.local/ns/x/sa/y]}}]}]}
`,
      'poison',
    ),
  );
  const nack = await cp.admin.status().then(async () => {
    await until('NACK in status', async () => (await cp.admin.status()).proxies.some((p) => p.node === 'node-3' && p.nack));
    return (await cp.admin.status()).proxies.find((p) => p.node === 'node-3')!.nack!;
  });
  assert.match(nack.error, /cannot apply policy shop\/poison/);
  // Neither half of that transaction was applied: not the policy, not the new pod.
  assert.equal(picky.state, before);
  assert.equal(picky.state.resources.has('workload/shop/extra'), false);
  // The other proxies took it.
  await until('node-1 has the extra pod', () => clients[0]!.state.resources.has('workload/shop/extra'));

  await cp.admin.delete([{ kind: 'AuthorizationPolicy', namespace: 'shop', name: 'poison' }]);
  await until('node-3 catches up', () => picky.state.resources.has('workload/shop/extra'));
  await until('the NACK clears once a later version is ACKed', async () => {
    const s = await cp.admin.status();
    const st = s.proxies.find((p) => p.node === 'node-3')!;
    return st.nack === undefined && st.ackedVersion === s.configVersion;
  });
  picky.stop();
});

test('after a control-plane restart, clients get one full reset of the same state, then deltas again', async () => {
  const [n1, n2] = clients as [ConfigStreamClient, ConfigStreamClient];
  const held = new Map(n1.state.resources);
  const updates: { reset: boolean }[] = [];
  n1.on('update', (_s, changed) => updates.push(changed));
  await cp.restart();
  // While down and after, the clients kept serving their last configuration.
  assert.ok(n1.state.resources.has('workload/shop/web'));
  await until('both reconnected', async () => (await cp.admin.status()).proxies.filter((p) => p.connected).length >= 2);
  await until('both on the new run\'s version', async () => {
    const s = await cp.admin.status();
    return n1.state.version === s.configVersion && n2.state.version === s.configVersion && updates.length === 1;
  });
  assert.deepEqual([...n1.state.resources.keys()].sort(), [...held.keys()].sort(), 'the reset carries what the proxy held');
  await cp.admin.apply(parseDocuments(pod('node-1', 'after', 'after'), 'after'));
  await until('both get the new pod', () => n1.state.resources.has('workload/shop/after') && n2.state.resources.has('workload/shop/after'));
  assert.ok(n1.state.resources.has('workload/shop/web'), 'earlier state kept');
  assert.deepEqual(updates.map((u) => u.reset), [true, false], 'one reset for the new run, then a delta');
  // And issuance still follows placement after the restart (the store is durable).
  await assert.rejects(svidFor(n1), (e: AmbitError) => e.code === 'ISSUANCE_NOT_ON_NODE');
  assert.ok((await svidFor(n2)).length >= 1);
});

test('a version number from before a restart names other content after it: a proxy that held it is reset, not told it is in sync', async () => {
  // The view's versions go past the store's revision in memory (here: a revocation). A proxy that
  // held such a version, reconnecting after a restart to a view that reached the same number
  // through other changes, used to be sent nothing: it kept missing what the new run applied.
  const c1 = await client('node-1');
  await until('c1 in sync', async () => c1.state.version === (await cp.admin.status()).configVersion);
  await cp.admin.revokeNode('node-9');
  await until('c1 holds the revocation bump', async () => c1.state.version === (await cp.admin.status()).configVersion && c1.state.resources.has('revocations/mesh'));
  const held = c1.state;
  c1.stop();
  await cp.restart();
  const before = (await cp.admin.status()).configVersion;
  assert.ok(before < held.version, `the restarted view starts at the store's revision (${before}), below the version the proxy holds (${held.version})`);
  await cp.admin.apply(parseDocuments(pod('node-1', 'collide', 'collide'), 'collide'));
  // Apply until the new run reaches the number the proxy holds, with other content.
  for (let i = 0; (await cp.admin.status()).configVersion < held.version; i++) {
    await cp.admin.apply(parseDocuments(pod('node-1', `collide-${i}`, 'collide'), 'collide'));
  }
  assert.equal((await cp.admin.status()).configVersion, held.version, 'the same number, other content');
  const token = await cp.admin.issueNodeToken('node-1', 3600);
  const back = new ConfigStreamClient({
    address: cp.streamAddress, node: 'node-1', token, trustBundle: bundle, serverIdentity: controlPlaneIdentity('cluster.local'),
    log: silentLogger(), backoff: { initialMs: 50, maxMs: 300 }, initialState: held,
  });
  clients.push(back);
  const resets: boolean[] = [];
  back.on('update', (_s, changed) => resets.push(changed.reset));
  back.start();
  await until('the proxy gets what the new run applied', () => back.state.resources.has('workload/shop/collide'));
  assert.deepEqual(resets, [true], 'one full reset');
  assert.ok(back.state.resources.has('revocations/mesh'), 'and keeps the revocation the restarted view carries from its file');
  back.stop();
});

test('ambit control-plane --admin-socket PATH serves the admin API there, not in the data dir (the program\'s own --admin-socket used to take the flag)', async () => {
  const sockDir = mkdtempSync(join(tmpdir(), 'ambit-sock-'));
  const path = join(sockDir, 'elsewhere.sock');
  const other = await ControlPlaneProcess.start({ adminSocket: path });
  try {
    assert.equal(typeof (await other.admin.status()).configVersion, 'number', 'the admin API answers on the given path');
    assert.equal(existsSync(join(other.dataDir, 'admin.sock')), false, 'nothing listens on the default path');
  } finally {
    await other.stop();
    rmSync(sockDir, { recursive: true, force: true });
  }
});

test('a CA made with --trust-domain example.org: with no MeshConfig, workloads are in example.org and get SVIDs; a MeshConfig naming another trust domain is refused', async () => {
  const other = await ControlPlaneProcess.start({ args: ['--trust-domain', 'example.org'] });
  let c: ConfigStreamClient | undefined;
  try {
    await other.admin.apply(parseDocuments(base + '---' + pod('node-1'), 'test'));
    const token = await other.admin.issueNodeToken('node-1', 3600);
    c = new ConfigStreamClient({
      address: other.streamAddress, node: 'node-1', token, trustBundle: await other.admin.trustBundle(),
      serverIdentity: controlPlaneIdentity('example.org'), log: silentLogger(), backoff: { initialMs: 50, maxMs: 300 },
    });
    c.start();
    await c.waitForVersion(1, 10_000);
    const id = 'spiffe://example.org/ns/shop/sa/web';
    assert.equal((c.state.resources.get('workload/shop/web') as { identity: string }).identity, id, 'the CA\'s trust domain, not cluster.local');
    const { csrPem } = createCsr(parseSpiffeId(id));
    assert.equal(new X509Certificate((await c.requestSvid(id, csrPem)).chain[0]!).subjectAltName, `URI:${id}`);
    await assert.rejects(other.admin.apply(parseDocuments('apiVersion: ambit.dev/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec: {trustDomain: cluster.local}\n', 'mesh.yaml')), (e: AmbitError) =>
      e.code === 'MESH_TRUST_DOMAIN_MISMATCH' && e.message.includes('spec.trustDomain "cluster.local" is not the mesh CA\'s trust domain "example.org"'));
    const same = await other.admin.apply(parseDocuments('apiVersion: ambit.dev/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec: {trustDomain: example.org}\n', 'mesh.yaml'));
    assert.equal(same.length, 1, 'the CA\'s own trust domain is accepted');
  } finally {
    c?.stop();
    await other.stop();
  }
});

test('root rotation: a proxy that learned the new root from the stream reconnects to a control plane signing under it, though its bootstrap file has only the old root', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-rotation-'));
  const made: ConfigStreamClient[] = [];
  let cpA: ControlPlaneProcess | undefined;
  let cpB: ControlPlaneProcess | undefined;
  try {
    const [x, y] = [CertificateAuthority.generate({ trustDomain: 'cluster.local' }), CertificateAuthority.generate({ trustDomain: 'cluster.local' })];
    await x.save(join(dir, 'x'));
    await y.save(join(dir, 'y'));
    const rootOf = (d: string): string => readFileSync(join(dir, d, CA_FILES.root), 'utf8');
    writeFileSync(join(dir, 'roots.pem'), rootOf('x') + rootOf('y'));
    const caArgs = (d: string): string[] => ['--ca-cert-chain', join(dir, d, CA_FILES.cert), '--ca-key', join(dir, d, CA_FILES.key), '--ca-roots', join(dir, 'roots.pem')];
    const data = join(dir, 'data');
    cpA = await ControlPlaneProcess.start({ dataDir: data, args: caArgs('x') });
    await cpA.admin.apply(parseDocuments(base + '---' + pod('node-1'), 'test'));
    const token = await cpA.admin.issueNodeToken('node-1', 3600);
    const dial = (): ConfigStreamClient => {
      const c = new ConfigStreamClient({
        address: cpA!.streamAddress, node: 'node-1', token, trustBundle: rootOf('x'), // the bootstrap file: the old root only
        serverIdentity: controlPlaneIdentity('cluster.local'), log: process.env.DEBUG_ROT ? createLogger('rot') : silentLogger(), backoff: { initialMs: 50, maxMs: 300 },
      });
      made.push(c);
      c.start();
      return c;
    };
    const proxy = dial();
    await proxy.waitForVersion(1, 10_000);
    assert.equal((proxy.state.resources.get('trust-bundle/mesh') as { roots: string[] }).roots.length, 2, 'the mesh delivered both roots');
    // The control plane comes back signing under the new root (same data, same address).
    await cpA.stop();
    let connects = 0;
    proxy.on('connected', () => connects++);
    cpB = await ControlPlaneProcess.start({ dataDir: data, port: cpA.port, args: caArgs('y') });
    await until('the proxy reconnects to the control plane under the new root', () => connects > 0, 15_000);
    const { csrPem } = createCsr(parseSpiffeId(WEB));
    const leaf = new X509Certificate((await proxy.requestSvid(WEB, csrPem)).chain[0]!);
    assert.ok(leaf.verify(new X509Certificate(rootOf('y')).publicKey), 'its new SVID is signed under the new root');
    // The control: a proxy that only ever had the bootstrap file cannot trust it.
    const stale = dial();
    let staleConnects = 0;
    stale.on('connected', () => staleConnects++);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(staleConnects, 0, 'the old root alone does not verify the new control plane');
  } finally {
    for (const c of made) c.stop();
    await cpB?.stop();
    await cpA?.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
});
