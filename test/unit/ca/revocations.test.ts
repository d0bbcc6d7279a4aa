// Node revocations (src/ca/revocations.ts): the cut by issue time, what is kept on disk, and a
// file that cannot be read whole refusing to load (a control plane must not start and accept
// credentials it was told to refuse).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CREDENTIAL_REVOCATION_MARGIN_SECONDS, MAX_CREDENTIAL_TTL_SECONDS, NODE_REVOCATIONS_FILE, NodeRevocations, NodeTokenIssuer, parseRevocations } from '../../../src/ca/index.js';
import { withTempDir } from '../../../src/testing/dirs.js';

const withDir = (fn: (dir: string) => void): void => withTempDir('ambit-revocations-', fn);

test('credentials issued up to the revocation second are refused, later ones and other nodes are not', () => {
  withDir((dir) => {
    const r = NodeRevocations.load(dir);
    const issuer = NodeTokenIssuer.generate();
    const at = new Date('2026-12-01T10:00:00.700Z');
    const before = issuer.verify(issuer.issue('node-1', 3600, new Date('2026-12-01T09:59:00Z')), at);
    const sameSecond = issuer.verify(issuer.issue('node-1', 3600, new Date('2026-12-01T10:00:00.900Z')), at);
    const later = issuer.verify(issuer.issue('node-1', 3600, new Date('2026-12-01T10:00:01Z')), new Date('2026-12-01T10:00:02Z'));
    assert.deepEqual(r.revoke('node-1', at), { node: 'node-1', issuedUpTo: Date.parse('2026-12-01T10:00:00Z') / 1000 });
    assert.throws(() => r.check('node-1', before.iat), (e: { code?: string; message: string }) => e.code === 'NODE_TOKEN_REVOKED' && /issued up to 2026-12-01T10:00:00\.000Z were revoked \(this one was issued at 2026-12-01T09:59:00\.000Z\)/.test(e.message));
    assert.throws(() => r.check('node-1', sameSecond.iat), /NODE_TOKEN_REVOKED|were revoked/);
    r.check('node-1', later.iat);
    r.check('node-2', before.iat);
  });
});

test('one credential revoked by its ID is refused, issued before or after the node\'s own cut; the node\'s other credentials are not', () => {
  withDir((dir) => {
    const r = NodeRevocations.load(dir);
    const issuer = NodeTokenIssuer.generate();
    const at = new Date('2026-12-01T10:00:00Z');
    const leaked = issuer.verify(issuer.issue('node-1', 3600, at), at);
    const other = issuer.verify(issuer.issue('node-1', 3600, at), at);
    const r1 = r.revokeCredential('node-1', leaked.credential, at);
    assert.deepEqual(r1, { credential: leaked.credential, node: 'node-1', keepUntil: Date.parse('2026-12-01T10:00:00Z') / 1000 + MAX_CREDENTIAL_TTL_SECONDS + CREDENTIAL_REVOCATION_MARGIN_SECONDS });
    assert.throws(() => r.check('node-1', leaked.iat, leaked.credential), (e: { code?: string; message: string }) => e.code === 'NODE_TOKEN_REVOKED' && e.message.includes(`this credential (${leaked.credential}) was revoked`));
    r.check('node-1', other.iat, other.credential);
    assert.deepEqual(NodeRevocations.load(dir).credentials(), [r1], 'kept on disk');
    assert.deepEqual(NodeRevocations.load(dir).list(), [], 'the node itself is not revoked');
    assert.throws(() => r.revokeCredential('node-1', 'not an id!', at), { code: 'NODE_REVOCATION_INVALID' });
  });
});

test('a credential revocation is dropped once every credential with its ID has expired (the longest credential lifetime later)', () => {
  withDir((dir) => {
    const r = NodeRevocations.load(dir);
    const t0 = new Date('2026-01-01T00:00:00Z');
    const keep = MAX_CREDENTIAL_TTL_SECONDS + CREDENTIAL_REVOCATION_MARGIN_SECONDS;
    const at = (s: number): Date => new Date(t0.getTime() + 1000 * s);
    r.revokeCredential('node-1', 'old', t0);
    r.revokeCredential('node-1', 'recent', at(keep - 5));
    // At the last second of the lifetime and margin it is still there; a second later it is gone.
    r.revoke('node-2', at(keep - 1));
    assert.deepEqual(NodeRevocations.load(dir).credentials().map((c) => c.credential), ['old', 'recent']);
    r.revoke('node-2', at(keep + 1));
    assert.deepEqual(NodeRevocations.load(dir).credentials().map((c) => c.credential), ['recent']);
  });
});

test('a version 1 file (nodes only, before credential revocations) still loads', () => {
  withDir((dir) => {
    writeFileSync(join(dir, NODE_REVOCATIONS_FILE), '{"version": 1, "nodes": {"node-1": 100}}');
    const r = NodeRevocations.load(dir);
    assert.deepEqual(r.list(), [{ node: 'node-1', issuedUpTo: 100 }]);
    assert.deepEqual(r.credentials(), []);
  });
});

test('a revocation is on disk (0600) before revoke() returns and is read back; a second one never moves the cut back', () => {
  withDir((dir) => {
    NodeRevocations.load(dir).revoke('node-1', new Date('2026-12-01T10:00:00Z'));
    assert.equal(statSync(join(dir, NODE_REVOCATIONS_FILE)).mode & 0o777, 0o600);
    const back = NodeRevocations.load(dir);
    assert.deepEqual(back.list(), [{ node: 'node-1', issuedUpTo: Date.parse('2026-12-01T10:00:00Z') / 1000 }]);
    back.revoke('node-1', new Date('2026-11-01T00:00:00Z'));
    assert.equal(NodeRevocations.load(dir).list()[0]!.issuedUpTo, Date.parse('2026-12-01T10:00:00Z') / 1000);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, NODE_REVOCATIONS_FILE), 'utf8')), { version: 1, nodes: { 'node-1': Date.parse('2026-12-01T10:00:00Z') / 1000 } }, 'version 1 while no credential is revoked (older control planes read it)');
  });
});

for (const [what, text, message] of [
  ['not JSON', '{"version": 1, "nodes": {', /not JSON/],
  ['a list', '[]', /not a JSON object/],
  ['another version', '{"version": 3, "nodes": {}}', /version must be 1 or 2, got 3/],
  ['version 1 with credentials', '{"version": 1, "nodes": {}, "credentials": {}}', /unknown field "credentials"/],
  ['version 2 without credentials', '{"version": 2, "nodes": {}}', /credentials must be an object of credential ID to \{node, keepUntil\}/],
  ['a credential ID that no credential has', '{"version": 2, "nodes": {}, "credentials": {"a b": {"node": "n", "keepUntil": 1}}}', /credentials\["a b"\]: not a credential ID/],
  ['a credential entry with another field', '{"version": 2, "nodes": {}, "credentials": {"abc": {"node": "n", "keepUntil": 1, "allow": true}}}', /credentials\["abc"\] must be exactly \{node, keepUntil\}/],
  ['a credential entry without a node', '{"version": 2, "nodes": {}, "credentials": {"abc": {"node": "", "keepUntil": 1}}}', /credentials\["abc"\]\.node must be a node name, got ""/],
  ['a credential kept until a string', '{"version": 2, "nodes": {}, "credentials": {"abc": {"node": "n", "keepUntil": "later"}}}', /credentials\["abc"\]\.keepUntil must be a whole number of seconds, got "later"/],
  ['an unknown field', '{"version": 1, "nodes": {}, "allow": ["node-1"]}', /unknown field "allow"/],
  ['a time that is a string', '{"version": 1, "nodes": {"node-1": "yesterday"}}', /nodes\["node-1"\] must be a whole number of seconds, got "yesterday"/],
] as const) {
  test(`a revocations file that is ${what} is refused, naming why`, () => {
    assert.throws(() => parseRevocations(text, 'x.json'), (e: { code?: string; message: string }) => e.code === 'NODE_REVOCATIONS_INVALID' && message.test(e.message) && /refusing to start/.test(e.message));
    withDir((dir) => {
      writeFileSync(join(dir, NODE_REVOCATIONS_FILE), text);
      assert.throws(() => NodeRevocations.load(dir), /NODE_REVOCATIONS_INVALID|refusing to start/);
    });
  });
}

test('a clock set back after it ran ahead: the cut goes up to the newest stamp known for the node (atLeast), not back to now', () => {
  withDir((dir) => {
    const r = NodeRevocations.load(dir);
    const issuer = NodeTokenIssuer.generate();
    // Issued while the clock ran 10 minutes fast; revoked after it was stepped back.
    const fast = new Date('2026-12-01T10:10:00Z');
    const now = new Date('2026-12-01T10:01:00Z');
    const stolen = issuer.verify(issuer.issue('node-2', 3600, fast), fast);
    assert.deepEqual(r.revoke('node-2', now, fast.getTime() / 1000), { node: 'node-2', issuedUpTo: fast.getTime() / 1000 });
    assert.throws(() => r.check('node-2', stolen.iat), /were revoked/, 'the token stamped in the future is refused');
    // Without atLeast (the behaviour before) the same token passed: the cut was `now`.
    r.revoke('node-3', now);
    r.check('node-3', issuer.verify(issuer.issue('node-3', 3600, fast), fast).iat);
    // And atLeast never moves a cut back.
    assert.equal(r.revoke('node-2', now, 0).issuedUpTo, fast.getTime() / 1000);
  });
});
