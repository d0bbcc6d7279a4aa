// A full disk, for real: a 256 KiB tmpfs filled up (src/testing/dirs.ts), since root ignores file
// modes. Every durable write of the control plane fails cleanly there: the error names ENOSPC,
// nothing changes in memory, the file on disk is what it was (no torn line, no stray sibling),
// and once space is back the next write works and a reopen reads everything that was committed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Store, replaceFileDurably } from '../../../src/store/index.js';
import { CredentialRegistry, ISSUED_CREDENTIALS_FILE, NODE_REVOCATIONS_FILE, NodeRevocations } from '../../../src/ca/index.js';
import { parseDocuments } from '../../../src/config/index.js';
import type { Resource } from '../../../src/config/types.js';
import { withSmallDisk } from '../../../src/testing/dirs.js';

const ns = (name: string): Resource => parseDocuments(`apiVersion: v1\nkind: Namespace\nmetadata: {name: ${name}}\n`, 't')[0]!;
const noSiblings = (dir: string): void => assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no half-written sibling left');

test('replaceFileDurably on a full disk: ENOSPC, the old file intact, no sibling left; works again once there is space', async () => {
  await withSmallDisk((disk) => {
    const file = join(disk.dir, 'state.json');
    replaceFileDurably(file, 'old\n');
    disk.fill();
    assert.throws(() => replaceFileDurably(file, 'x'.repeat(64 * 1024)), { code: 'ENOSPC' });
    assert.equal(readFileSync(file, 'utf8'), 'old\n');
    noSiblings(disk.dir);
    disk.free();
    replaceFileDurably(file, 'new\n');
    assert.equal(readFileSync(file, 'utf8'), 'new\n');
  });
});

test('the store on a full disk: a commit whose log line only partly fits is refused and taken back; the log stays readable', async () => {
  await withSmallDisk((disk) => {
    const dir = join(disk.dir, 'store');
    const s = Store.open(dir);
    s.commit([{ type: 'put', resource: ns('a') }]);
    const wal = join(dir, 'wal.jsonl');
    const sizeBefore = statSync(wal).size;
    const seen: number[] = [];
    s.watch((e) => seen.push(e.revision));
    disk.fill();
    // ~8 KB in one line: the first part fits in the log's last page, the rest hits ENOSPC.
    const many = Array.from({ length: 100 }, (_, i) => ({ type: 'put' as const, resource: ns(`bulk-${String(i).padStart(3, '0')}-${'n'.repeat(40)}`) }));
    assert.throws(() => s.commit(many), { code: 'STORE_WRITE_FAILED', message: /wal\.jsonl failed \(ENOSPC\); nothing was changed/ });
    assert.equal(statSync(wal).size, sizeBefore, 'the bytes that went in were taken back');
    assert.equal(s.revision, 1);
    assert.equal(s.count('Namespace'), 1);
    assert.deepEqual(seen, [], 'watchers heard of no transaction');
    disk.free();
    s.commit([{ type: 'put', resource: ns('c') }]);
    assert.equal(s.revision, 2);
    s.close();
    const r = Store.open(dir);
    assert.equal(r.revision, 2);
    assert.deepEqual(r.list('Namespace').map((e) => e.resource.metadata.name), ['a', 'c']);
    r.close();
  });
});

test('the credential registry on a full disk: recording fails, the credential stays unknown, the file is unchanged', async () => {
  await withSmallDisk((disk) => {
    const r = CredentialRegistry.load(disk.dir, { complete: true });
    const now = new Date();
    const later = new Date(now.getTime() + 3600_000);
    r.record('cred-a', { node: 'node-1', issuedAt: now, expiresAt: later });
    const file = join(disk.dir, ISSUED_CREDENTIALS_FILE);
    const before = readFileSync(file, 'utf8');
    disk.fill();
    // Enough entries that the rewrite needs more than the file's one page.
    for (let i = 0; i < 3; i++) {
      assert.throws(() => r.record(`cred-${i}-${'x'.repeat(60)}`, { node: `node-${'y'.repeat(200)}`, issuedAt: now, expiresAt: later }), { code: 'ENOSPC' });
    }
    assert.equal(r.lookup('cred-0-' + 'x'.repeat(60)), undefined);
    assert.equal(readFileSync(file, 'utf8'), before);
    noSiblings(disk.dir);
    disk.free();
    r.record('cred-b', { node: 'node-1', issuedAt: now, expiresAt: later });
    assert.deepEqual(CredentialRegistry.load(disk.dir, { complete: true }).list().map((c) => c.credential).sort(), ['cred-a', 'cred-b']);
  });
});

test('node revocations on a full disk: revoking fails loudly and revokes nothing; the file is unchanged', async () => {
  await withSmallDisk((disk) => {
    const r = NodeRevocations.load(disk.dir);
    r.revoke('node-1');
    const file = join(disk.dir, NODE_REVOCATIONS_FILE);
    const before = readFileSync(file, 'utf8');
    disk.fill();
    assert.throws(() => r.revoke('node-2'), { code: 'ENOSPC' });
    assert.equal(r.revokedBy('node-2', 0, 'c1'), undefined);
    assert.equal(readFileSync(file, 'utf8'), before);
    noSiblings(disk.dir);
    disk.free();
    r.revoke('node-2');
    assert.equal(NodeRevocations.load(disk.dir).revokedBy('node-2', 0, 'c1'), 'node');
  });
});

test('the small disk is gone after the test, also when the test throws', async () => {
  let dir = '';
  await assert.rejects(withSmallDisk((disk) => {
    dir = disk.dir;
    throw new Error('boom');
  }), /boom/);
  assert.equal(existsSync(dir), false);
  assert.ok(!readFileSync('/proc/self/mounts', 'utf8').includes(dir), 'unmounted');
});
