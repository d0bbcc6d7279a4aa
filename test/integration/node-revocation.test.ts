// Revoking a node for real: `ambit node revoke` against the `ambit control-plane` process. The
// node's proxy session and a workload session on it end at once with NODE_TOKEN_REVOKED, its
// old credentials are refused from then on (also after a restart), another node is untouched,
// and a credential issued after the revocation works (the node is re-provisioned). One credential
// can be revoked alone, by its ID: only its sessions end and only it is refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ControlPlaneProcess, CLI_PATH } from '../../src/testing/control-plane-process.js';
import { ConfigStreamClient } from '../../src/stream/index.js';
import { controlPlaneIdentity } from '../../src/controlplane/control-plane.js';
import { createCsr, issuedToOf, parseSpiffeId, pemBlock } from '../../src/identity/index.js';
import { RevokedSvids } from '../../src/hbone/index.js';
import type { WireRevocations } from '../../src/stream/resources.js';
import { silentLogger } from '../../src/log.js';
import { parseDocuments } from '../../src/config/index.js';
import { ISSUED_CREDENTIALS_FILE, NODE_REVOCATIONS_FILE } from '../../src/ca/index.js';
import { SHOP_WEB } from './shop-fixture.js';
import { credentialIdOf } from '../../src/testing/tokens.js';

const run = promisify(execFile);
let cp: ControlPlaneProcess;
let bundle: string;
const clients: ConfigStreamClient[] = [];
const WEB = 'spiffe://cluster.local/ns/shop/sa/web';
const API = 'spiffe://cluster.local/ns/shop/sa/api';

before(async () => {
  cp = await ControlPlaneProcess.start();
  bundle = await cp.admin.trustBundle();
  await cp.admin.apply(parseDocuments(`${SHOP_WEB}---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop}
spec: {nodeName: node-2, serviceAccountName: api, containers: [{name: main, command: [sleep, "1"]}]}
`, 'test'));
});
after(async () => {
  for (const c of clients) c.stop();
  await cp?.stop();
});

function client(node: string, token: string): { c: ConfigStreamClient; refused: Promise<{ code: string; message: string }> } {
  const c = new ConfigStreamClient({ address: cp.streamAddress, node, token, trustBundle: bundle, serverIdentity: controlPlaneIdentity('cluster.local'), log: silentLogger(), backoff: { initialMs: 60_000, maxMs: 60_000 } });
  clients.push(c);
  const refused = new Promise<{ code: string; message: string }>((r) => c.once('refused', (e) => r(e)));
  c.start();
  return { c, refused };
}

/** An SVID over `c`'s session: the leaf's DER. */
async function svidFor(c: ConfigStreamClient, identity: string): Promise<Buffer> {
  await c.waitForVersion(1, 10_000);
  const { csrPem } = createCsr(parseSpiffeId(identity));
  const { chain } = await c.requestSvid(identity, csrPem);
  assert.ok(chain.length > 0);
  return pemBlock(chain[0]!, 'CERTIFICATE');
}

/** The revocations as `c` holds them from the stream, once `ready` says they arrived. */
async function revokedAt(c: ConfigStreamClient, ready: (r: WireRevocations) => boolean, what: string): Promise<RevokedSvids> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const r = c.state.resources.get('revocations/mesh') as WireRevocations | undefined;
    if (r !== undefined && ready(r)) return new RevokedSvids(r);
    if (Date.now() > deadline) assert.fail(`${what}: the config stream did not carry it within 5 s (has ${JSON.stringify(r)})`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([p, new Promise<never>((_r, reject) => setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms))]);


const ambit = (...args: string[]): Promise<{ stdout: string; stderr: string }> =>
  run(process.execPath, [CLI_PATH, '--admin-socket', cp.adminSocket, ...args], { timeout: 20_000 });

test('ambit node revoke ends the node\'s sessions, refuses its old credentials (also after a restart), leaves other nodes alone', async () => {
  const oldToken = await cp.admin.issueNodeToken('node-1', 3600);
  const oldWorkload = await cp.admin.issueWorkloadToken('node-1', WEB, 3600);
  const proxy = client('node-1', oldToken);
  const workload = client('node-1', oldWorkload);
  const other = client('node-2', await cp.admin.issueNodeToken('node-2', 3600));
  const signedFrom = Math.floor(Date.now() / 1000);
  const proxySvid = await svidFor(proxy.c, WEB);
  const workloadSvid = await svidFor(workload.c, WEB);
  const otherSvid = await svidFor(other.c, API);
  const from = issuedToOf(proxySvid);
  assert.deepEqual({ node: from?.node, credential: from?.credential }, { node: 'node-1', credential: credentialIdOf(oldToken) }, 'the SVID names the node and the session\'s credential');
  assert.ok(from!.issuedAt >= signedFrom && from!.issuedAt <= Math.floor(Date.now() / 1000), `issuedAt ${from!.issuedAt} is the second it was signed`);
  assert.equal(issuedToOf(workloadSvid)?.credential, credentialIdOf(oldWorkload));
  assert.equal(other.c.state.resources.has('revocations/mesh'), false, 'nothing revoked yet: nothing on the wire');

  const { stdout } = await ambit('node', 'revoke', 'node-1');
  assert.match(stdout, /^node node-1: credentials issued up to \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z revoked; 2 config-stream sessions ended\n$/);

  for (const [what, s] of [['the node proxy', proxy], ['the workload', workload]] as const) {
    const e = await within(s.refused, 5000, `${what}'s session did not end`);
    assert.equal(e.code, 'NODE_TOKEN_REVOKED', `${what}: ${e.message}`);
  }
  const audit = cp.auditLines().find((l) => l.event === 'node.revoked');
  assert.equal(audit?.node, 'node-1');
  assert.equal(audit?.sessionsEnded, 2);
  await svidFor(other.c, API);

  // Every other proxy learns the cut from its stream, and with it refuses the SVIDs node-1 still holds.
  const seen = await revokedAt(other.c, (r) => r.nodes['node-1'] !== undefined, 'node-1\'s revocation');
  assert.match(seen.check(proxySvid) ?? '', /issued to node "node-1" at .* were revoked/);
  assert.match(seen.check(workloadSvid) ?? '', /issued to node "node-1"/);
  assert.equal(seen.check(otherSvid), undefined, 'node-2\'s SVID is not covered');

  // The old credential again, on a fresh connection: refused at hello, naming why.
  const again = client('node-1', oldToken);
  const e = await within(again.refused, 5000, 'a revoked credential was not refused');
  assert.equal(e.code, 'NODE_TOKEN_REVOKED');
  assert.match(e.message, /credentials of this node issued up to .* were revoked .*; issue a new one/);

  // Kept on disk, owner-only, and read back by a restarted control plane.
  const file = join(cp.dataDir, 'ca', NODE_REVOCATIONS_FILE);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(Object.keys((JSON.parse(readFileSync(file, 'utf8')) as { nodes: object }).nodes).join(), 'node-1');
  for (const c of clients) c.stop();
  await cp.restart();
  const afterRestart = client('node-1', oldToken);
  assert.equal((await within(afterRestart.refused, 5000, 'the revocation did not survive a restart')).code, 'NODE_TOKEN_REVOKED');

  // A credential issued after the revocation (a second later: the cut is by whole seconds) works.
  await new Promise((r) => setTimeout(r, 1100));
  const fresh = client('node-1', await cp.admin.issueNodeToken('node-1', 3600));
  const freshSvid = await svidFor(fresh.c, WEB);
  // The restarted control plane carries the list from its file; the re-provisioned node's new SVID passes it.
  const kept = await revokedAt(fresh.c, (r) => r.nodes['node-1'] !== undefined, 'the revocation after a restart');
  assert.ok(kept.check(proxySvid), 'still refused after the restart');
  assert.equal(kept.check(freshSvid), undefined, 'an SVID signed after the cut passes');
});

test('ambit node revoke with a name that is not a node name fails, naming it, and revokes nothing', async () => {
  const r = await ambit('node', 'revoke', 'Node_1').then(() => undefined, (err: { code: number; stderr: string }) => err);
  assert.ok(r, 'the command failed');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /Cannot revoke a node: "Node_1" is not a valid node name/);
  const file = JSON.parse(readFileSync(join(cp.dataDir, 'ca', NODE_REVOCATIONS_FILE), 'utf8')) as { nodes: object };
  assert.deepEqual(Object.keys(file.nodes), ['node-1']);
});

test('ambit node revoke --credential ends only the sessions of that one credential, refuses it (also after a restart), and the node\'s others keep working', async () => {
  const leaked = await cp.admin.issueNodeToken('node-2', 3600);
  const kept = await cp.admin.issueNodeToken('node-2', 3600);
  const workload = await cp.admin.issueWorkloadToken('node-2', API, 3600);
  const a = client('node-2', leaked);
  const leakedSvid = await svidFor(a.c, API);
  const w = client('node-2', workload);
  const workloadSvid = await svidFor(w.c, API);
  const id = credentialIdOf(leaked);
  assert.ok(cp.auditLines().some((l) => l.event === 'stream.accepted' && l.credential === id), 'the session names its credential');

  const { stdout } = await ambit('node', 'revoke', 'node-2', '--credential', id);
  assert.match(stdout, new RegExp(`^node node-2: credential ${id} revoked \\(kept until \\d{4}-.*Z\\); 1 config-stream session ended\\n$`));
  const e = await within(a.refused, 5000, 'the leaked credential\'s session did not end');
  assert.equal(e.code, 'NODE_TOKEN_REVOKED');
  assert.match(e.message, new RegExp(`its credential ${id} was revoked`));
  const audit = cp.auditLines().find((l) => l.event === 'credential.revoked');
  assert.equal(audit?.credential, id);
  assert.equal(audit?.sessionsEnded, 1);
  assert.ok(w.c.connected, 'the workload session of the same node stays');
  await svidFor(w.c, API);
  // Peers refuse the SVIDs asked for with that credential only.
  const seen = await revokedAt(w.c, (r) => r.credentials.includes(id), 'the credential\'s revocation');
  assert.equal(seen.check(leakedSvid), `the certificate was issued to node "node-2" through credential ${id}, which was revoked`);
  assert.equal(seen.check(workloadSvid), undefined, 'the node\'s other credential\'s SVID passes');

  const again = client('node-2', leaked);
  const refused = await within(again.refused, 5000, 'a revoked credential was not refused');
  assert.equal(refused.code, 'NODE_TOKEN_REVOKED');
  assert.match(refused.message, new RegExp(`this credential \\(${id}\\) was revoked; issue a new one`));
  const other = client('node-2', kept);
  await svidFor(other.c, API);

  for (const c of clients) c.stop();
  await cp.restart();
  assert.equal((await within(client('node-2', leaked).refused, 5000, 'the credential revocation did not survive a restart')).code, 'NODE_TOKEN_REVOKED');
  await svidFor(client('node-2', kept).c, API);
  const file = JSON.parse(readFileSync(join(cp.dataDir, 'ca', NODE_REVOCATIONS_FILE), 'utf8')) as { version: number; credentials: Record<string, { node: string }> };
  assert.equal(file.version, 2);
  assert.equal(file.credentials[id]?.node, 'node-2');
});

test('ambit node revoke --credential with something that is no credential ID fails, naming it, and revokes nothing', async () => {
  const before = readFileSync(join(cp.dataDir, 'ca', NODE_REVOCATIONS_FILE), 'utf8');
  const r = await ambit('node', 'revoke', 'node-2', '--credential', 'not an id!').then(() => undefined, (err: { code: number; stderr: string }) => err);
  assert.ok(r, 'the command failed');
  assert.match(r.stderr, /Cannot revoke a credential of node "node-2": "not an id!" is not a credential ID/);
  assert.equal(readFileSync(join(cp.dataDir, 'ca', NODE_REVOCATIONS_FILE), 'utf8'), before);
});

test('ambit node revoke --credential with a well-formed ID this control plane never issued fails, and revokes nothing', async () => {
  const before = readFileSync(join(cp.dataDir, 'ca', NODE_REVOCATIONS_FILE), 'utf8');
  const r = await ambit('node', 'revoke', 'node-2', '--credential', 'AAAAAAAAAAAAAAAAAAAAAA').then(() => undefined, (err: { code: number; stderr: string }) => err);
  assert.ok(r, 'the command failed');
  assert.match(r.stderr, /Cannot revoke credential AAAAAAAAAAAAAAAAAAAAAA of node "node-2": this control plane issued no credential with that ID, or it expired more than a week ago .*; nothing revoked\. .* cut off with the whole node: ambit node revoke node-2$/m);
  assert.equal(readFileSync(join(cp.dataDir, 'ca', NODE_REVOCATIONS_FILE), 'utf8'), before);
});

test('ambit node revoke --credential naming another node than the one the credential was issued to fails, also with no session open', async () => {
  const token = await cp.admin.issueNodeToken('node-1', 3600);
  const id = credentialIdOf(token);
  const registry = JSON.parse(readFileSync(join(cp.dataDir, 'ca', ISSUED_CREDENTIALS_FILE), 'utf8')) as { credentials: Record<string, { node: string; expiresAt: number }> };
  assert.equal(registry.credentials[id]?.node, 'node-1', 'recorded at issuance');
  assert.equal(statSync(join(cp.dataDir, 'ca', ISSUED_CREDENTIALS_FILE)).mode & 0o777, 0o600);
  const before = readFileSync(join(cp.dataDir, 'ca', NODE_REVOCATIONS_FILE), 'utf8');
  const r = await ambit('node', 'revoke', 'node-2', '--credential', id).then(() => undefined, (err: { code: number; stderr: string }) => err);
  assert.ok(r, 'the command failed');
  assert.match(r.stderr, new RegExp(`Cannot revoke credential ${id} of node "node-2": it was issued to node "node-1"; name that node`));
  assert.equal(readFileSync(join(cp.dataDir, 'ca', NODE_REVOCATIONS_FILE), 'utf8'), before);
});

test('ambit node credentials lists the unexpired credentials with their state; -o json gives the same', async () => {
  const mine = await cp.admin.issueWorkloadToken('node-2', API, 3600);
  const id = credentialIdOf(mine);
  const { stdout } = await ambit('node', 'credentials', 'node-2');
  const lines = stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^CREDENTIAL\s+NODE\s+KIND\s+IDENTITY\s+ISSUED\s+EXPIRES\s+STATE$/);
  const row = lines.find((l) => l.startsWith(id));
  assert.ok(row, `listed; got ${stdout}`);
  assert.match(row, new RegExp(`^${id}\\s+node-2\\s+workload\\s+${API.replace(/[/.]/g, '\\$&')}\\s+\\d{4}-\\S+Z\\s+\\d{4}-\\S+Z\\s+active$`));
  assert.ok(lines.slice(1).every((l) => /\snode-2\s/.test(l)), 'only node-2\'s');
  // The credential revoked alone in an earlier test, and node-1's cut-off ones, say so.
  const json = JSON.parse((await ambit('node', 'credentials', '-o', 'json')).stdout) as { registry: { complete: boolean }; credentials: Array<{ credential: string; node: string; revoked: string | false }> };
  assert.equal(json.registry.complete, true);
  assert.equal(json.credentials.find((c) => c.credential === id)?.revoked, false);
  assert.ok(json.credentials.some((c) => c.node === 'node-2' && c.revoked === 'credential'), 'the credential revoked alone');
  assert.ok(json.credentials.some((c) => c.node === 'node-1' && c.revoked === 'node'), 'node-1\'s credentials from before its revocation');
  assert.ok(json.credentials.some((c) => c.node === 'node-1' && c.revoked === false), 'node-1\'s credential issued after it');
  const bad = await ambit('node', 'credentials', 'Not A Node').then(() => undefined, (err: { stderr: string }) => err);
  assert.match(bad?.stderr ?? '', /Cannot list credentials/);
});

// Last: it restarts the control plane as one upgraded from before the registry.
test('a control plane upgraded from before the registry still revokes a credential it issued then (known: false in the audit)', async () => {
  const old = await cp.admin.issueNodeToken('node-2', 3600);
  const id = credentialIdOf(old);
  for (const c of clients) c.stop();
  // What an older control plane left: a token key, and no registry. (Moved while the process
  // runs: it reads the file only at start.)
  renameSync(join(cp.dataDir, 'ca', ISSUED_CREDENTIALS_FILE), join(cp.dataDir, 'ca', `${ISSUED_CREDENTIALS_FILE}.old`));
  await cp.restart();
  const registry = JSON.parse(readFileSync(join(cp.dataDir, 'ca', ISSUED_CREDENTIALS_FILE), 'utf8')) as { complete: boolean; credentials: object };
  assert.equal(registry.complete, false, 'a registry started beside an existing token key does not claim to know every credential');
  assert.deepEqual(registry.credentials, {});
  // Unknown to the registry, so only its live session can tell a wrong node name.
  const live = client('node-2', old);
  await live.c.waitForVersion(1, 10_000);
  const wrong = await ambit('node', 'revoke', 'node-1', '--credential', id).then(() => undefined, (err: { stderr: string }) => err);
  assert.match(wrong?.stderr ?? '', new RegExp(`Cannot revoke credential ${id} of node "node-1": it is in use by node "node-2"; name that node`));
  const { stdout } = await ambit('node', 'revoke', 'node-2', '--credential', id);
  assert.match(stdout, new RegExp(`^node node-2: credential ${id} revoked .*; 1 config-stream session ended`));
  const audit = cp.auditLines().find((l) => l.event === 'credential.revoked' && l.credential === id);
  assert.equal(audit?.known, false);
  assert.match((await ambit('node', 'credentials')).stdout, /^note: the registry started at \d{4}-\S+Z, after this control plane's first credentials; older ones are not listed$/m);
  assert.equal((await within(client('node-2', old).refused, 5000, 'the revoked credential was not refused')).code, 'NODE_TOKEN_REVOKED');
});
