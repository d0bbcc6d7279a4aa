// The registry of issued credentials (src/ca/credential-registry.ts): what it records and when it
// forgets, what it keeps on disk, whether it may claim to know every live credential, and a file
// that cannot be read whole refusing to load, naming why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CredentialRegistry, ISSUED_CREDENTIALS_FILE, parseIssuedCredentials } from '../../../src/ca/index.js';
import { withTempDir } from '../../../src/testing/dirs.js';

const withDir = (fn: (dir: string) => void): void => withTempDir('ambit-issued-', fn);

const at = (iso: string): Date => new Date(iso);
const YEAR = 366 * 86400;

test('a recorded credential is listed until it expires, found by ID for a week more, then dropped from the file at the next write', () => {
  withDir((dir) => {
    const r = CredentialRegistry.load(dir, { complete: true, now: at('2026-12-01T00:00:00Z') });
    const issuedAt = at('2026-12-01T00:00:00Z');
    r.record('cred-a', { node: 'node-1', issuedAt, expiresAt: at('2026-12-01T01:00:00Z') }, issuedAt);
    r.record('cred-b', { node: 'node-2', issuedAt, expiresAt: at('2026-12-02T00:00:00Z'), identity: 'spiffe://cluster.local/ns/a/sa/b' }, issuedAt);
    assert.deepEqual(r.lookup('cred-a'), { node: 'node-1', issuedAt: issuedAt.getTime() / 1000, expiresAt: Date.parse('2026-12-01T01:00:00Z') / 1000 });
    assert.deepEqual(r.list(undefined, at('2026-12-01T00:30:00Z')).map((c) => c.credential), ['cred-a', 'cred-b']);
    assert.deepEqual(r.list('node-2', at('2026-12-01T00:30:00Z')), [{ credential: 'cred-b', node: 'node-2', issuedAt: issuedAt.getTime() / 1000, expiresAt: Date.parse('2026-12-02T00:00:00Z') / 1000, identity: 'spiffe://cluster.local/ns/a/sa/b' }]);
    assert.deepEqual(r.list(undefined, at('2026-12-01T01:00:00Z')).map((c) => c.credential), ['cred-b'], 'not listed from its expiry second');
    assert.equal(r.lookup('never'), undefined);
    // A week after cred-a expired it is still kept (a clock set back could make it verify again)...
    r.record('cred-c', { node: 'node-1', issuedAt, expiresAt: at('2026-12-20T00:00:00Z') }, at('2026-12-08T00:59:59Z'));
    assert.equal(r.lookup('cred-a')?.node, 'node-1');
    // ...and a second more, it is not written again.
    r.record('cred-d', { node: 'node-1', issuedAt, expiresAt: at('2026-12-20T00:00:00Z') }, at('2026-12-08T01:00:00Z'));
    const file = JSON.parse(readFileSync(join(dir, ISSUED_CREDENTIALS_FILE), 'utf8')) as { credentials: Record<string, unknown> };
    assert.deepEqual(Object.keys(file.credentials).sort(), ['cred-b', 'cred-c', 'cred-d']);
    assert.equal(r.lookup('cred-a'), undefined);
  });
});

test('on disk (0600) from its start, and read back whole after a restart', () => {
  withDir((dir) => {
    const start = at('2026-12-01T00:00:00Z');
    CredentialRegistry.load(dir, { complete: false, now: start });
    const path = join(dir, ISSUED_CREDENTIALS_FILE);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { version: 1, since: start.getTime() / 1000, complete: false, credentials: {} });
    const r = CredentialRegistry.load(dir, { complete: true, now: at('2027-01-01T00:00:00Z') });
    assert.deepEqual(r.info(), { since: start, complete: false, credentials: 0 }, 'the file\'s own start and completeness stand');
    r.record('cred-a', { node: 'node-1', issuedAt: at('2027-01-01T00:00:00Z'), expiresAt: at('2027-02-01T00:00:00Z') }, at('2027-01-01T00:00:00Z'));
    assert.equal(CredentialRegistry.load(dir, { complete: true }).lookup('cred-a')?.node, 'node-1');
  });
});

test('it knows every live credential when started with its token key, or once a credential lifetime has passed since it started', () => {
  withDir((dir) => {
    const start = at('2026-12-01T00:00:00Z');
    const fresh = CredentialRegistry.load(dir, { complete: true, now: start });
    assert.equal(fresh.knowsAll(YEAR, start), true);
  });
  withDir((dir) => {
    const start = at('2026-12-01T00:00:00Z');
    const upgraded = CredentialRegistry.load(dir, { complete: false, now: start });
    assert.equal(upgraded.knowsAll(YEAR, start), false);
    assert.equal(upgraded.knowsAll(YEAR, new Date(start.getTime() + YEAR * 1000)), false, 'a credential issued just before it started may still live');
    assert.equal(upgraded.knowsAll(YEAR, new Date(start.getTime() + (YEAR + 1) * 1000)), true);
  });
});

test('a file that cannot be read whole refuses to load, naming the field', () => {
  const good = { version: 1, since: 1, complete: true, credentials: { 'cred-a': { node: 'node-1', issuedAt: 1, expiresAt: 2, identity: 'spiffe://cluster.local/ns/a/sa/b' } } };
  const cases: Array<[string, unknown, RegExp]> = [
    ['not JSON', '{', /not JSON/],
    ['another version', { ...good, version: 2 }, /version must be 1, got 2/],
    ['an unknown field', { ...good, extra: 1 }, /unknown field "extra"/],
    ['since not whole seconds', { ...good, since: 1.5 }, /since must be a whole number of seconds, got 1\.5/],
    ['complete not a boolean', { ...good, complete: 'yes' }, /complete must be true or false, got "yes"/],
    ['a bad credential ID', { ...good, credentials: { 'not an id': { node: 'n', issuedAt: 1, expiresAt: 1 } } }, /credentials\["not an id"\]: not a credential ID/],
    ['an entry with an extra key', { ...good, credentials: { a: { node: 'n', issuedAt: 1, expiresAt: 1, x: 1 } } }, /credentials\["a"\] must be exactly \{node, issuedAt, expiresAt\}, and optionally identity/],
    ['an empty node', { ...good, credentials: { a: { node: '', issuedAt: 1, expiresAt: 1 } } }, /credentials\["a"\]\.node must be a node name/],
    ['a negative expiry', { ...good, credentials: { a: { node: 'n', issuedAt: 1, expiresAt: -1 } } }, /credentials\["a"\]\.expiresAt must be a whole number of seconds, got -1/],
    ['no issue time', { ...good, credentials: { a: { node: 'n', expiresAt: 1 } } }, /credentials\["a"\]\.issuedAt must be a whole number of seconds, got undefined/],
    ['an empty identity', { ...good, credentials: { a: { node: 'n', issuedAt: 1, expiresAt: 1, identity: '' } } }, /credentials\["a"\]\.identity must be a non-empty string/],
  ];
  assert.deepEqual(parseIssuedCredentials(JSON.stringify(good), 'f').credentials.get('cred-a'), { node: 'node-1', issuedAt: 1, expiresAt: 2, identity: 'spiffe://cluster.local/ns/a/sa/b' });
  for (const [what, content, message] of cases) {
    assert.throws(() => parseIssuedCredentials(typeof content === 'string' ? content : JSON.stringify(content), '/x/issued-credentials.json'), (e: { code?: string; message: string }) => {
      assert.equal(e.code, 'ISSUED_CREDENTIALS_INVALID', what);
      assert.match(e.message, message, what);
      assert.match(e.message, /^Cannot load the issued-credential registry from \/x\/issued-credentials\.json: .*; move the file aside/, what);
      return true;
    }, what);
  }
  withDir((dir) => {
    writeFileSync(join(dir, ISSUED_CREDENTIALS_FILE), '[]');
    assert.throws(() => CredentialRegistry.load(dir, { complete: true }), /not a JSON object/);
  });
});

test('newestIssuedAt: the latest issuedAt of the node\'s credentials, expired ones it still keeps included', () => {
  withDir((dir) => {
    const r = CredentialRegistry.load(dir, { complete: true, now: at('2026-12-01T00:00:00Z') });
    assert.equal(r.newestIssuedAt('node-1'), undefined);
    r.record('a', { node: 'node-1', issuedAt: at('2026-12-01T05:00:00Z'), expiresAt: at('2026-12-01T06:00:00Z') }, at('2026-12-01T05:00:00Z'));
    r.record('b', { node: 'node-1', issuedAt: at('2026-12-01T03:00:00Z'), expiresAt: at('2026-12-03T00:00:00Z') }, at('2026-12-01T03:00:00Z'));
    r.record('c', { node: 'node-2', issuedAt: at('2026-12-01T09:00:00Z'), expiresAt: at('2026-12-03T00:00:00Z') }, at('2026-12-01T09:00:00Z'));
    assert.equal(r.newestIssuedAt('node-1'), Date.parse('2026-12-01T05:00:00Z') / 1000, 'a, though expired');
    assert.equal(r.newestIssuedAt('node-2'), Date.parse('2026-12-01T09:00:00Z') / 1000);
  });
});
