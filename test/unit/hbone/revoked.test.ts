// Revoked SVIDs at both ends of a tunnel: the SVID says which node (and credential) it was issued
// to (the issued-to extension the CA writes), the config stream says what was revoked, and the
// HBONE server and client refuse such a peer at the handshake and close the connections it
// already had. Real TLS on loopback, certificates from the real CA code.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HbonePool, RevocationView, RevokedSvids } from '../../../src/hbone/index.js';
import { der, decodeIssuedTo, issuedToOf, OID, pemBlock, readCertificate } from '../../../src/identity/index.js';
import { MeshFixture, svidContext } from '../../../src/testing/svid-fixtures.js';
import { AmbitError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log.js';
import { Harness, waitFor } from './harness.js';

const certDer = (pem: string): Buffer => pemBlock(pem, 'CERTIFICATE');
const NOW = Math.floor(Date.now() / 1000);

describe('the issued-to extension', () => {
  const mesh = MeshFixture.create();
  const id = mesh.workload('shop', 'web');

  test('the CA writes node, credential and signing second into an SVID issued to a node; peers read them back', () => {
    const before = Math.floor(Date.now() / 1000);
    const svid = mesh.mint(id, { issuedTo: { node: 'node-2', credential: 'cred-A_1' } });
    const from = issuedToOf(certDer(svid.certPem));
    assert.ok(from);
    assert.equal(from.node, 'node-2');
    assert.equal(from.credential, 'cred-A_1');
    assert.ok(from.issuedAt >= before && from.issuedAt <= Math.floor(Date.now() / 1000), `issuedAt ${from.issuedAt} is the signing second`);
    // Node and OpenSSL still take the certificate: the extension is non-critical and well formed.
    const x = new X509Certificate(svid.certPem);
    assert.equal(x.subjectAltName, `URI:${id}`);
    assert.ok(x.verify(new X509Certificate(mesh.rootsPem[0]!).publicKey));
    const dir = mkdtempSync(join(tmpdir(), 'ambit-issued-to-'));
    try {
      writeFileSync(join(dir, 'leaf.pem'), svid.certPem);
      writeFileSync(join(dir, 'root.pem'), mesh.rootsPem[0]!);
      const text = execFileSync('openssl', ['x509', '-in', join(dir, 'leaf.pem'), '-noout', '-text'], { encoding: 'utf8' });
      assert.match(text, new RegExp(`${OID.ambitIssuedTo.replaceAll('.', '\\.')}:\\s*\\n`), 'openssl lists the extension by its OID, not critical (it would print ": critical")');
      assert.equal(readCertificate(certDer(svid.certPem)).extensions.get(OID.ambitIssuedTo)?.critical, false, 'not critical');
      assert.match(execFileSync('openssl', ['verify', '-CAfile', join(dir, 'root.pem'), join(dir, 'leaf.pem')], { encoding: 'utf8' }), /leaf\.pem: OK/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an SVID not issued to a node (the control plane\'s own) has none', () => {
    assert.equal(issuedToOf(certDer(mesh.mint(id).certPem)), undefined);
  });

  test('a malformed value is CERT_MALFORMED, naming what is wrong', () => {
    const cases: [Buffer, RegExp][] = [
      [der.sequence(der.utf8String('node-2'), der.utf8String('c')), /must hold 3 fields, found 2/],
      [der.sequence(der.utf8String('node-2'), der.utf8String('c'), der.utf8String('now')), /INTEGER/],
      [der.sequence(der.printableString('node-2'), der.utf8String('c'), der.integer(5)), /issued-to node has tag 0x13, expected 0x0c/],
      [Buffer.from([0x30, 0x05, 0x0c]), /runs past the end|truncated|past/],
    ];
    for (const [value, why] of cases) {
      assert.throws(() => decodeIssuedTo(value), (err: unknown) => err instanceof AmbitError && err.code === 'CERT_MALFORMED' && why.test(err.message) && err.message.includes(OID.ambitIssuedTo), `${value.toString('hex')}: ${String(why)}`);
    }
  });
});

describe('RevokedSvids: which SVIDs a revocation covers', () => {
  const mesh = MeshFixture.create();
  const svid = (node: string, credential = 'c1'): Buffer => certDer(mesh.mint(mesh.workload('shop', 'web'), { issuedTo: { node, credential } }).certPem);

  test('a node\'s SVIDs signed at or before its cut are refused; one signed a second later, and other nodes\', are not', () => {
    const cert = svid('node-2');
    const at = issuedToOf(cert)!.issuedAt;
    assert.match(new RevokedSvids({ nodes: { 'node-2': at }, credentials: [] }).check(cert) ?? '', /^the certificate was issued to node "node-2" at .*, and that node's credentials issued up to .* were revoked$/);
    assert.equal(new RevokedSvids({ nodes: { 'node-2': at - 1 }, credentials: [] }).check(cert), undefined, 're-provisioned: issued after the cut');
    assert.equal(new RevokedSvids({ nodes: { 'node-1': at + 60 }, credentials: [] }).check(cert), undefined, 'another node was revoked');
  });

  test('an SVID asked for with a revoked credential is refused, whatever its node\'s cut', () => {
    assert.equal(new RevokedSvids({ nodes: {}, credentials: ['c9'] }).check(svid('node-2', 'c9')), 'the certificate was issued to node "node-2" through credential c9, which was revoked');
    assert.equal(new RevokedSvids({ nodes: {}, credentials: ['c9'] }).check(svid('node-2', 'c1')), undefined);
  });

  test('an SVID without the extension (a CA from before it) cannot be matched and passes; nothing revoked passes everything', () => {
    assert.equal(new RevokedSvids({ nodes: { 'node-2': NOW + 60 }, credentials: ['c1'] }).check(certDer(mesh.mint(mesh.workload('shop', 'web')).certPem)), undefined);
    assert.equal(RevokedSvids.NONE.check(svid('node-2')), undefined);
  });

  test('sameAs compares the entries, not the objects', () => {
    const a = new RevokedSvids({ nodes: { n: 1 }, credentials: ['x'] });
    assert.ok(a.sameAs(new RevokedSvids({ nodes: { n: 1 }, credentials: ['x'] })));
    assert.ok(!a.sameAs(new RevokedSvids({ nodes: { n: 2 }, credentials: ['x'] })));
    assert.ok(!a.sameAs(new RevokedSvids({ nodes: { n: 1 }, credentials: ['y'] })));
    assert.ok(!a.sameAs(RevokedSvids.NONE));
  });
});

describe('RevocationView: what a proxy enforces, from applied and rejected versions', () => {
  const list = (nodes: Record<string, number>, credentials: string[] = []): RevokedSvids => new RevokedSvids({ nodes, credentials });
  test('an applied version sets it; a rejected one can only add; the next applied one replaces both', () => {
    const v = new RevocationView();
    assert.ok(v.current.empty);
    assert.equal(v.apply(RevokedSvids.NONE), false, 'nothing to nothing: no change');
    assert.equal(v.apply(list({ 'node-1': 10 })), true);
    assert.deepEqual(v.current.describe().nodes.map((n) => n.node), ['node-1']);
    assert.equal(v.reject(list({ 'node-2': 20 }, ['c9'])), true, 'a rejected version revokes node-2 too');
    assert.deepEqual(v.current.describe(), { nodes: [{ node: 'node-1', issuedUpTo: new Date(10_000).toISOString() }, { node: 'node-2', issuedUpTo: new Date(20_000).toISOString() }], credentials: ['c9'] });
    assert.equal(v.reject(list({ 'node-1': 5 })), false, 'an earlier cut from a rejected version loosens nothing');
    assert.equal(v.current.describe().nodes[0]!.issuedUpTo, new Date(10_000).toISOString());
    assert.equal(v.reject(list({ 'node-1': 15 })), true, 'a later cut tightens');
    assert.equal(v.apply(list({ 'node-1': 15, 'node-2': 20 }, ['c9'])), false, 'the applied version carrying the same list changes nothing');
    assert.equal(v.apply(list({ 'node-1': 15 })), true, 'an applied version is the control plane\'s whole word');
    assert.deepEqual(v.current.describe().credentials, []);
  });
});

describe('HBONE refuses a revoked node\'s SVIDs at both ends', () => {
  const harnesses: Harness[] = [];
  after(async () => {
    for (const h of harnesses) await h.stop();
  });

  test('server: a client proving a revoked node\'s SVID is refused (REVOKED, logged), its open connection closed, other clients unaffected', async () => {
    const h = await Harness.start();
    harnesses.push(h);
    const stolen = h.mesh.mint(h.clientId, { issuedTo: { node: 'node-2', credential: 'c2' } });
    const honest = h.mesh.mint(h.clientId, { issuedTo: { node: 'node-1', credential: 'c1' } });
    const stolenPool = new HbonePool({ logger: silentLogger(), refusePeerCertificate: () => undefined });
    const honestPool = new HbonePool({ logger: silentLogger(), refusePeerCertificate: () => undefined });
    try {
      // Before the revocation the stolen SVID works, and its tunnel stays open.
      const open = await h.openTunnel({ secureContext: svidContext(stolen) }, stolenPool);
      open.write('before');
      await once(open, 'data');
      const upTo = issuedToOf(certDer(stolen.certPem))!.issuedAt;
      h.revoked = new RevokedSvids({ nodes: { 'node-2': upTo }, credentials: [] });
      const closed = once(open, 'close');
      assert.equal(h.server.recheck(), 1, 'one open connection closed');
      await closed;
      const r = await h.refusal('REVOKED');
      assert.equal(r.context.peer, h.clientId);
      assert.match(r.detail, /issued to node "node-2" .* were revoked; open connection closed$/);
      assert.ok(h.loggedRefusal('REVOKED'), 'logged as an hbone refusal');
      // A new connection with it fails at once; nothing reached the tunnel decision.
      const tunnelsBefore = h.tunnels.length;
      await assert.rejects(h.openTunnel({ secureContext: svidContext(stolen) }, stolenPool), (err: unknown) => err instanceof AmbitError && err.code === 'HBONE_CONNECT_FAILED');
      await waitFor(() => h.refusals.filter((x) => x.code === 'REVOKED').length >= 2);
      assert.equal(h.tunnels.length, tunnelsBefore, 'no CONNECT from the revoked SVID was decided');
      // A client of another node goes on.
      const ok = await h.openTunnel({ secureContext: svidContext(honest) }, honestPool);
      ok.end('after');
      const [echoed] = (await once(ok, 'data')) as [Buffer];
      assert.equal(echoed.toString(), 'after');
    } finally {
      await stolenPool.close();
      await honestPool.close();
    }
  });

  test('client: a destination proving a revoked node\'s SVID gets nothing (HBONE_PEER_REVOKED); recheck closes pooled connections to it', async () => {
    const h = await Harness.start();
    harnesses.push(h);
    const serverSvid = h.mesh.mint(h.serverId, { issuedTo: { node: 'node-2', credential: 'c2' } });
    h.serverContext = svidContext(serverSvid);
    let revoked = RevokedSvids.NONE;
    const refuse = (d: Buffer): string | undefined => revoked.check(d);
    const pool = new HbonePool({ logger: silentLogger(), refusePeerCertificate: refuse });
    try {
      const open = await h.openTunnel({}, pool);
      open.write('x');
      await once(open, 'data');
      assert.equal(pool.recheck(), 0, 'nothing revoked yet: nothing closed');
      revoked = new RevokedSvids({ nodes: {}, credentials: ['c2'] });
      let streamError: unknown;
      open.on('error', (err) => (streamError = err));
      const closed = new Promise((resolve) => open.once('close', resolve));
      assert.equal(pool.recheck(), 1);
      await closed;
      assert.equal((streamError as AmbitError | undefined)?.code, 'HBONE_PEER_REVOKED', 'the open tunnel ends with the reason');
      assert.deepEqual(pool.stats(), { sessions: 0, streams: 0 }, 'the connection left the pool');
      const tunnelsBefore = h.tunnels.length;
      await assert.rejects(h.openTunnel({}, pool), (err: unknown) =>
        err instanceof AmbitError && err.code === 'HBONE_PEER_REVOKED' && /the destination proved "spiffe:\/\/cluster\.local\/ns\/shop\/sa\/backend", but the certificate was issued to node "node-2" through credential c2, which was revoked/.test(err.message));
      assert.equal(h.tunnels.length, tunnelsBefore, 'no CONNECT was sent');
    } finally {
      await pool.close();
    }
  });
  test('client: a pooled connection the destination sent GOAWAY on still carries its tunnels, and a revocation still closes them', async () => {
    const h = await Harness.start();
    harnesses.push(h);
    h.serverContext = svidContext(h.mesh.mint(h.serverId, { issuedTo: { node: 'node-2', credential: 'c2' } }));
    let serverSession: import('node:http2').ServerHttp2Session | undefined;
    h.server.on('session', (s) => (serverSession = s));
    let revoked = RevokedSvids.NONE;
    const pool = new HbonePool({ logger: silentLogger(), refusePeerCertificate: (d) => revoked.check(d) });
    try {
      const open = await h.openTunnel({}, pool);
      open.write('x');
      await once(open, 'data');
      // A compromised destination's one frame: GOAWAY(NO_ERROR) naming every stream as kept.
      serverSession!.goaway(0, 2 ** 31 - 1);
      await waitFor(() => (pool as unknown as { groups: Map<string, unknown> }).groups.size === 0); // the pool stopped reusing it
      open.write('y');
      assert.equal(String((await once(open, 'data'))[0]), 'y', 'the tunnel still flows after GOAWAY');
      assert.deepEqual(pool.stats(), { sessions: 1, streams: 1 }, 'a draining connection still counts');
      revoked = new RevokedSvids({ nodes: {}, credentials: ['c2'] });
      let streamError: unknown;
      open.on('error', (err) => (streamError = err));
      const closed = new Promise((resolve) => open.once('close', resolve));
      assert.equal(pool.recheck(), 1, 'the revocation reaches the connection that left its group');
      await closed;
      assert.equal((streamError as AmbitError | undefined)?.code, 'HBONE_PEER_REVOKED');
      assert.deepEqual(pool.stats(), { sessions: 0, streams: 0 });
    } finally {
      await pool.close();
    }
  });
  test('a root taken out of the bundle cuts the open connections it anchored, at both ends; a bundle that still holds it cuts nothing', async () => {
    const h = await Harness.start();
    harnesses.push(h);
    const next = MeshFixture.create().rootsPem; // the new root, after rotation
    const pool = new HbonePool({ logger: silentLogger(), refusePeerCertificate: () => undefined });
    try {
      const open = await h.openTunnel({}, pool);
      open.write('x');
      await once(open, 'data');
      const overlap = [...h.mesh.rootsPem, ...next];
      h.roots = overlap;
      assert.equal(h.server.recheck(), 0, 'server: old and new roots during the overlap');
      assert.equal(pool.recheck(overlap), 0, 'client: the same');
      let streamError: unknown;
      open.on('error', (err) => (streamError = err));
      const gone = new Promise((resolve) => open.once('close', resolve));
      assert.equal(pool.recheck(next), 1, 'client: the destination no longer chains to the bundle');
      await gone;
      assert.equal((streamError as AmbitError | undefined)?.code, 'HBONE_UNTRUSTED_PEER', 'named as untrusted, not revoked');
      const again = await h.openTunnel({}, h.pool);
      again.write('y');
      await once(again, 'data');
      h.roots = next;
      assert.equal(h.server.recheck(), 1, 'server: the client no longer chains to the bundle');
      const r = await h.refusal('TLS_FAILURE');
      assert.match(r.detail, /spiffe:\/\/cluster\.local\/ns\/shop\/sa\/frontend: its certificate no longer chains to the trusted roots; open connection closed/);
    } finally {
      await pool.close();
    }
  });
});
