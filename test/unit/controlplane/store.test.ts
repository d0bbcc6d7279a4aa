import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../../../src/store/index.js';
import { parseDocuments } from '../../../src/config/index.js';
import type { Resource } from '../../../src/config/types.js';
import type { StoreEvent } from '../../../src/controlplane/admin-api.js';
import { withTempDir } from '../../../src/testing/dirs.js';

const ns = (name: string): Resource => parseDocuments(`apiVersion: v1\nkind: Namespace\nmetadata: {name: ${name}}\n`, 't')[0]!;

const withDir = (fn: (dir: string) => void): void => withTempDir('ambit-store-', fn);

test('committed transactions survive a reopen, with revisions and create revisions', () => {
  withDir((dir) => {
    const s = Store.open(dir);
    s.commit([{ type: 'put', resource: ns('a') }, { type: 'put', resource: ns('b') }]);
    s.commit([{ type: 'delete', key: 'Namespace//a' }]);
    s.commit([{ type: 'put', resource: ns('a') }]);
    const id = s.storeId;
    s.close();
    const r = Store.open(dir);
    assert.equal(r.storeId, id);
    assert.equal(r.revision, 3);
    assert.deepEqual(r.list('Namespace').map((e) => [e.resource.metadata.name, e.createRevision, e.modRevision]), [['a', 3, 3], ['b', 1, 1]]);
    r.close();
  });
});

test('a torn last log line (crash mid-write) is skipped; earlier transactions are kept', () => {
  withDir((dir) => {
    const s = Store.open(dir);
    s.commit([{ type: 'put', resource: ns('a') }]);
    s.close();
    appendFileSync(join(dir, 'wal.jsonl'), '{"rev":2,"ops":[{"p":');
    const r = Store.open(dir);
    assert.equal(r.revision, 1);
    assert.ok(r.get('Namespace//a'));
    r.close();
  });
});

test('a corrupt line in the middle of the log is an error, not silent data loss', () => {
  withDir((dir) => {
    writeFileSync(join(dir, 'wal.jsonl'), 'garbage\n{"rev":1,"ops":[]}\n{"rev":2,"ops":[]}\n');
    assert.throws(() => Store.open(dir), { code: 'STORE_CORRUPT', message: /wal\.jsonl line 1 is not valid JSON/ });
  });
});

test('watchers see whole transactions; a no-op transaction keeps the revision', () => {
  const s = Store.memory();
  const seen: StoreEvent[] = [];
  s.watch((e) => seen.push(e));
  s.commit([{ type: 'put', resource: ns('a') }, { type: 'put', resource: ns('b') }]);
  const ev = s.commit([{ type: 'delete', key: 'Namespace//zzz' }]);
  assert.equal(ev.revision, 1);
  assert.equal(seen.length, 1);
  assert.deepEqual(seen[0]!.changes.map((c) => `${c.type} ${c.key}`), ['put Namespace//a', 'put Namespace//b']);
});

test('the log is compacted into a snapshot on open', () => {
  withDir((dir) => {
    const s = Store.open(dir);
    s.commit([{ type: 'put', resource: ns('a') }]);
    s.close();
    Store.open(dir).close();
    assert.equal(readFileSync(join(dir, 'wal.jsonl'), 'utf8'), '');
    assert.equal(JSON.parse(readFileSync(join(dir, 'snapshot.json'), 'utf8')).revision, 1);
  });
});

test('the commit that crosses the compaction threshold survives a reopen (it used to be compacted away)', () => {
  withDir((dir) => {
    // Each line is ~100 bytes: the second commit passes 150 and compacts, the third does again.
    const s = Store.open(dir, { compactEveryBytes: 150 });
    s.commit([{ type: 'put', resource: ns('a') }]);
    assert.notEqual(readFileSync(join(dir, 'wal.jsonl'), 'utf8'), '', 'the first commit stays in the log');
    s.commit([{ type: 'put', resource: ns('b') }]);
    assert.equal(readFileSync(join(dir, 'wal.jsonl'), 'utf8'), '', 'the commit past the threshold compacted the log');
    assert.equal(JSON.parse(readFileSync(join(dir, 'snapshot.json'), 'utf8')).revision, 2, 'the snapshot holds the commit that triggered it');
    s.commit([{ type: 'delete', key: 'Namespace//a' }]);
    s.commit([{ type: 'put', resource: ns('c') }]);
    s.close();
    const r = Store.open(dir);
    assert.equal(r.revision, 4);
    assert.deepEqual(r.list('Namespace').map((e) => e.resource.metadata.name), ['b', 'c']);
    r.close();
  });
});

test('a compaction threshold that is not a whole number of bytes >= 1 is refused by name', () => {
  withDir((dir) => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => Store.open(dir, { compactEveryBytes: bad }), { code: 'INVALID_STORE_OPTION', message: /compactEveryBytes must be a whole number of bytes >= 1/ });
    }
  });
});
