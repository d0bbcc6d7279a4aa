// A compromised node against the real `ambit control-plane` process: hostile frames on the config
// stream, before and after a valid hello. Each ends that node's session with an error that names
// the field; the control plane keeps serving every other node (one of these frames used to kill
// it: `String()` of an object whose toString is not a function threw out of the socket handler).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { ControlPlaneProcess } from '../../src/testing/control-plane-process.js';
import { ConfigStreamClient } from '../../src/stream/index.js';
import { controlPlaneIdentity } from '../../src/controlplane/control-plane.js';
import { CLIENT_LIMITS, PROTOCOL_VERSION, readFrames, writeFrame } from '../../src/stream/protocol.js';
import { createCsr, parseSpiffeId } from '../../src/identity/index.js';
import { silentLogger } from '../../src/log.js';
import { applyShopWeb } from './shop-fixture.js';
import { parseDocuments } from '../../src/config/index.js';
import { NodeTokenIssuer } from '../../src/ca/index.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentialIdOf } from '../../src/testing/tokens.js';

let cp: ControlPlaneProcess;
let bundle: string;
const WEB = 'spiffe://cluster.local/ns/shop/sa/web';

before(async () => {
  cp = await ControlPlaneProcess.start();
  bundle = await cp.admin.trustBundle();
  await applyShopWeb(cp);
});
after(async () => { await cp?.stop(); });

/** A raw TLS connection to the stream: the frames it gets back, and when it closes. */
async function raw(): Promise<{ sock: tls.TLSSocket; frames: Record<string, unknown>[]; closed: Promise<void> }> {
  const [host, port] = [cp.streamAddress.slice(0, cp.streamAddress.lastIndexOf(':')), Number(cp.streamAddress.slice(cp.streamAddress.lastIndexOf(':') + 1))];
  const sock = tls.connect({ host, port, servername: 'control-plane.ambit', ca: bundle, checkServerIdentity: () => undefined, minVersion: 'TLSv1.3' });
  sock.on('error', () => undefined);
  await new Promise<void>((r) => sock.once('secureConnect', () => r()));
  const frames: Record<string, unknown>[] = [];
  readFrames(sock, (m) => frames.push(m), () => undefined);
  const closed = new Promise<void>((r) => sock.once('close', () => r()));
  return { sock, frames, closed };
}

async function hello(node = 'node-1', token?: string): Promise<Awaited<ReturnType<typeof raw>>> {
  const c = await raw();
  writeFrame(c.sock, { type: 'hello', protocol: PROTOCOL_VERSION, node, token: token ?? await cp.admin.issueNodeToken(node, 3600), version: 0, storeId: null });
  const end = Date.now() + 5000;
  while (!c.frames.some((f) => f.type === 'welcome')) {
    if (Date.now() > end) throw new Error(`no welcome: ${JSON.stringify(c.frames)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return c;
}

async function stillServing(): Promise<void> {
  const c = new ConfigStreamClient({ address: cp.streamAddress, node: 'node-1', token: await cp.admin.issueNodeToken('node-1', 3600), trustBundle: bundle, serverIdentity: controlPlaneIdentity('cluster.local'), log: silentLogger() });
  c.start();
  try {
    await c.waitForVersion(1, 10_000);
    const { csrPem } = createCsr(parseSpiffeId(WEB));
    assert.ok((await c.requestSvid(WEB, csrPem)).chain.length > 0, 'another node still gets SVIDs');
  } finally {
    c.stop();
  }
}

const evil = { toString: 1 };
for (const [what, frame, message] of [
  ['a CSR whose identity is an object with a non-function toString', { type: 'csr', id: 1, identity: evil, csr: 'x' }, /csr\.identity must be a string of at most 2048 characters, got \{"toString":1\}/],
  ['a NACK whose error is such an object', { type: 'nack', version: 1, error: evil }, /nack\.error must be a string/],
  ['a CSR larger than the limit', { type: 'csr', id: 2, identity: WEB, csr: 'x'.repeat(CLIENT_LIMITS.csrBytes + 1) }, /csr\.csr must be a PEM string of at most 16384 characters/],
  ['a CSR with an id that is not a whole number', { type: 'csr', id: 'x', identity: WEB, csr: 'x' }, /csr\.id must be a whole number, got "x"/],
  ['an unknown message type', { type: 'subscribe', all: true }, /unknown message type "subscribe"/],
  ['an ack with a field too many', { type: 'ack', version: 1, force: true }, /ack\.force is not a known field/],
] as const) {
  test(`after hello, ${what} ends that session with STREAM_MESSAGE_INVALID; the control plane keeps serving`, async () => {
    const c = await hello();
    writeFrame(c.sock, frame);
    await c.closed;
    const err = c.frames.find((f) => f.type === 'error');
    assert.equal(err?.code, 'STREAM_MESSAGE_INVALID', JSON.stringify(c.frames));
    assert.match(String(err?.message), message);
    await stillServing();
  });
}

for (const [what, frame, message] of [
  ['a version that is not a number', { version: 'abc' }, /hello\.version must be a whole number, got "abc"/],
  ['a storeId that is an object', { storeId: { a: 1 } }, /hello\.storeId must be null or a string/],
  ['a field too many', { debug: true }, /hello\.debug is not a known field/],
] as const) {
  test(`a hello with ${what} is refused, naming the field`, async () => {
    const c = await raw();
    const good: Record<string, unknown> = { type: 'hello', protocol: PROTOCOL_VERSION, node: 'node-1', token: await cp.admin.issueNodeToken('node-1', 3600), version: 0, storeId: null };
    writeFrame(c.sock, { ...good, ...frame });
    await c.closed;
    const err = c.frames.find((f) => f.type === 'error');
    assert.equal(err?.code, 'STREAM_MESSAGE_INVALID', JSON.stringify(c.frames));
    assert.match(String(err?.message), message);
  });
}

test('before hello a frame may be 16 KB at most: a larger one closes the connection unread', async () => {
  const c = await raw();
  const len = Buffer.alloc(4);
  len.writeUInt32BE(1024 * 1024);
  c.sock.write(len);
  c.sock.write(Buffer.alloc(64 * 1024, 0x20));
  await c.closed;
  assert.equal(c.frames.length, 0);
  await stillServing();
});

test('a session ends when its node credential expires (audited); the node gets no more configuration on it', async () => {
  // A 60 s credential issued 58 s ago, signed with the control plane's own key (its data dir).
  const issuer = NodeTokenIssuer.fromPem(readFileSync(join(cp.dataDir, 'ca', 'node-token-key.pem'), 'utf8'));
  const c = new ConfigStreamClient({ address: cp.streamAddress, node: 'node-1', token: issuer.issue('node-1', 60, new Date(Date.now() - 58_000)), trustBundle: bundle, serverIdentity: controlPlaneIdentity('cluster.local'), log: silentLogger(), backoff: { initialMs: 5000, maxMs: 5000 } });
  const refused = new Promise<{ code: string; message: string }>((r) => c.once('refused', (e) => r(e)));
  c.start();
  try {
    await c.waitForVersion(1, 10_000);
    const err = await Promise.race([refused, new Promise<never>((_r, reject) => setTimeout(() => reject(new Error('the session outlived its credential by 10 s')), 12_000))]);
    assert.equal(err.code, 'NODE_TOKEN_EXPIRED');
    assert.match(err.message, /^Cannot keep the config stream of node "node-1": its node credential expired at /);
    assert.ok(cp.auditLines().some((l) => l.event === 'stream.refused' && l.code === 'NODE_TOKEN_EXPIRED'));
  } finally {
    c.stop();
  }
});

test('a node flooding CSRs does not hold up another node\'s: CSRs are signed in turns, and every one of the flood is answered', async () => {
  await cp.admin.apply(parseDocuments(`apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop}
spec: {nodeName: node-2, serviceAccountName: api, containers: [{name: main, command: [sleep, "1"]}]}
`, 'test'));
  const API = 'spiffe://cluster.local/ns/shop/sa/api';
  const flood = 3000;
  const a = await hello('node-1');
  const b = await hello('node-2');
  const webCsr = createCsr(parseSpiffeId(WEB)).csrPem;
  const apiCsr = createCsr(parseSpiffeId(API)).csrPem;
  const answers = (c: typeof a): number => c.frames.filter((f) => f.type === 'svid' || f.type === 'svid-error').length;
  const waitFor = async (what: string, pred: () => boolean, ms = 30_000): Promise<void> => {
    const end = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  };
  try {
    const auditBefore = cp.auditLines().length;
    for (let i = 0; i < flood; i++) writeFrame(a.sock, { type: 'csr', id: 10_000 + i, identity: WEB, csr: webCsr });
    await waitFor('the flood to be under way', () => answers(a) >= 20);
    const aAtSend = answers(a);
    writeFrame(b.sock, { type: 'csr', id: 1, identity: API, csr: apiCsr });
    await waitFor('node-2\'s answer', () => answers(b) >= 1);
    assert.equal(b.frames.find((f) => f.type === 'svid' || f.type === 'svid-error')?.type, 'svid');
    // The server's own order of signing (its audit lines): how many of node-1's flood it signed
    // after node-2's CSR was sent and before node-2's. Without turns it signed what it had read of
    // the flood first (thousands); with them, what one node may have queued plus one slice.
    const issued = cp.auditLines().slice(auditBefore).filter((l) => l.event === 'svid.issued');
    const bAt = issued.findIndex((l) => l.node === 'node-2');
    assert.ok(bAt >= 0, 'node-2\'s SVID is in the audit log');
    const aheadOfB = bAt - aAtSend;
    assert.ok(aheadOfB < 150, `node-1's CSRs signed between node-2's CSR and its answer: ${aheadOfB} (of ${flood})`);
    await waitFor('every CSR of the flood to be answered', () => answers(a) === flood);
    assert.ok(a.frames.filter((f) => f.type === 'svid').length === flood, 'the flood was signed, not refused');
  } finally {
    a.sock.destroy();
    b.sock.destroy();
  }
});

// A guard more than a reproduction: here the client answers the error frame's FIN at once and the
// session's close drops its queue, so the run passed even with the drop at revocation removed; the
// drop covers a client that keeps its side open.
test('a revoked credential gets nothing more signed, not even the CSRs it had queued', async () => {
  const token = await cp.admin.issueNodeToken('node-1', 3600);
  const credential = credentialIdOf(token);
  const c = await hello('node-1', token);
  const csr = createCsr(parseSpiffeId(WEB)).csrPem;
  const answers = (): number => c.frames.filter((f) => f.type === 'svid').length;
  try {
    for (let i = 0; i < 2000; i++) writeFrame(c.sock, { type: 'csr', id: 20_000 + i, identity: WEB, csr });
    const end = Date.now() + 20_000;
    while (answers() < 10) {
      if (Date.now() > end) throw new Error('the CSRs were not being signed');
      await new Promise((r) => setTimeout(r, 2));
    }
    const result = await cp.admin.revokeCredential('node-1', credential);
    assert.equal(result.sessionsEnded, 1);
    await c.closed;
    const lines = cp.auditLines();
    const at = lines.findIndex((l) => l.event === 'credential.revoked' && l.credential === credential);
    assert.ok(at >= 0, 'audited');
    const after = lines.slice(at).filter((l) => l.event === 'svid.issued' && l.node === 'node-1').length;
    assert.equal(after, 0, `SVIDs signed for the revoked credential after its revocation (${answers()} answered before)`);
    assert.ok(answers() < 2000, 'the revocation came while CSRs were still queued');
    // Naming another node than the one the credential was issued to is refused, and revokes nothing.
    const t2 = await cp.admin.issueNodeToken('node-1', 3600);
    const c2 = await hello('node-1', t2);
    const id2 = credentialIdOf(t2);
    await assert.rejects(cp.admin.revokeCredential('node-2', id2), (e: Error & { code?: string }) => e.code === 'NODE_REVOCATION_INVALID' && e.message.includes('it was issued to node "node-1"; name that node'));
    assert.equal(c2.sock.destroyed, false, 'its session stays');
    c2.sock.destroy();
  } finally {
    c.sock.destroy();
  }
  await stillServing();
});
