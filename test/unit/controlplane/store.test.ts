import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
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

test('a snapshot that is not JSON, or not a snapshot, is STORE_CORRUPT naming the file (was a bare SyntaxError or TypeError)', () => {
  for (const [text, why] of [
    ['{"storeId": "x", "revis', /snapshot\.json is not valid JSON/],
    ['[]', /snapshot\.json is not a JSON object/],
    ['{"storeId":"x","revision":-1,"entries":[]}', /snapshot\.json has revision -1, not a whole number/],
    ['{"storeId":"x","revision":1,"entries":[{"createRevision":1,"modRevision":1}]}', /snapshot\.json entries\[0\] has no resource/],
  ] as const) {
    withDir((dir) => {
      writeFileSync(join(dir, 'snapshot.json'), text);
      assert.throws(() => Store.open(dir), { code: 'STORE_CORRUPT', message: why }, text);
      assert.equal(existsSync(join(dir, 'LOCK')), false, 'a failed open leaves no lock behind');
    });
  }
});

test('a log line that is JSON but not a transaction is STORE_CORRUPT naming the line (was "line.ops is not iterable")', () => {
  for (const [line, why] of [
    ['{"rev":5}', /wal\.jsonl line 1 has no ops list/],
    ['{"rev":"5","ops":[]}', /wal\.jsonl line 1 has rev "5", not a whole number from 1/],
    ['{"rev":1,"ops":[{"x":1}]}', /wal\.jsonl line 1 ops\[0\] is neither \{p: resource\} nor \{d: key\}/],
  ] as const) {
    withDir((dir) => {
      writeFileSync(join(dir, 'wal.jsonl'), `${line}\n{"rev":9,"ops":[]}\n`);
      assert.throws(() => Store.open(dir), { code: 'STORE_CORRUPT', message: why }, line);
    });
  }
});

test('one process at a time: a store held by a live process is STORE_LOCKED; a dead holder\'s lock is taken over; close releases it', () => {
  withDir((dir) => {
    // Another live process holds it (our parent, which outlives this test).
    writeFileSync(join(dir, 'LOCK'), `${process.ppid}\n`);
    assert.throws(() => Store.open(dir), { code: 'STORE_LOCKED', message: new RegExp(`process ${process.ppid} has it open \\(another control plane on this data dir\\?\\)`) });
    // A holder that is gone (a crash): a pid no process has.
    writeFileSync(join(dir, 'LOCK'), '4194999\n');
    const s = Store.open(dir);
    assert.equal(readFileSync(join(dir, 'LOCK'), 'utf8').trim(), String(process.pid));
    s.close();
    assert.equal(existsSync(join(dir, 'LOCK')), false, 'released on close');
  });
});

test('start-up re-checks every stored object as an apply would: one this version refuses names its key and field; pods keep their status', async () => {
  const { checkStoredResources } = await import('../../../src/controlplane/control-plane.js');
  const s = Store.memory();
  const [pod] = parseDocuments('apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec: {nodeName: node-1, containers: [{name: c, command: [sleep, "1"]}]}\n', 't');
  const [policy] = parseDocuments('apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\nspec: {action: DENY}\n', 't');
  s.commit([{ type: 'put', resource: { ...pod!, status: { podIP: '10.244.1.5', phase: 'Running' } } as Resource }, { type: 'put', resource: policy! }]);
  checkStoredResources(s, '/data/store'); // what apply wrote passes, a pod's status included
  // As a newer ambit (or a hand edit) might have left it.
  s.commit([{ type: 'put', resource: { ...policy!, spec: { ...(policy as { spec: object }).spec, action: 'AUDIT' } } as unknown as Resource }]);
  assert.throws(() => checkStoredResources(s, '/data/store'), {
    code: 'STORE_RESOURCE_INVALID', path: 'spec.action',
    message: /^Cannot start the control plane: the store in \/data\/store holds AuthorizationPolicy\/default\/p, which this version refuses: .*spec\.action.*AUDIT/,
  });
});

test('start-up refuses a --trust-domain or a stored MeshConfig that is not the CA\'s trust domain, naming both (they were ignored, and every SVID refused)', async () => {
  const { checkStartTrustDomain } = await import('../../../src/controlplane/control-plane.js');
  const s = Store.memory();
  checkStartTrustDomain('cluster.local', undefined, s);
  checkStartTrustDomain('cluster.local', 'cluster.local', s);
  assert.throws(() => checkStartTrustDomain('cluster.local', 'example.org', s), {
    code: 'TRUST_DOMAIN_MISMATCH', path: '--trust-domain', message: /--trust-domain "example\.org" is not the trust domain of its CA \("cluster\.local"\)/,
  });
  s.commit([{ type: 'put', resource: parseDocuments('apiVersion: ambit.dev/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec: {trustDomain: example.org}\n', 't')[0]! }]);
  checkStartTrustDomain('example.org', undefined, s);
  assert.throws(() => checkStartTrustDomain('cluster.local', undefined, s), {
    code: 'MESH_TRUST_DOMAIN_MISMATCH', path: 'spec.trustDomain', message: /stored MeshConfig "mesh" has spec\.trustDomain "example\.org", but its CA signs "cluster\.local" only/,
  });
});

test('a lock whose holder has exited but is not reaped yet (a zombie, as a restart sees it) is taken over', async () => {
  // A real zombie: python forks a child that exits at once and never waits for it.
  const { spawn } = await import('node:child_process');
  const parent = spawn('python3', ['-c', 'import os,sys,time\npid=os.fork()\nif pid==0: os._exit(0)\nprint(pid, flush=True)\ntime.sleep(30)'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const zombie = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()))));
    for (let i = 0; i < 100 && !/\) Z /.test(readFileSync(`/proc/${zombie}/stat`, 'utf8')); i++) await new Promise((r) => setTimeout(r, 10));
    assert.match(readFileSync(`/proc/${zombie}/stat`, 'utf8'), /\) Z /, 'the holder is a zombie');
    withDir((dir) => {
      writeFileSync(join(dir, 'LOCK'), `${zombie}\n`);
      const s = Store.open(dir); // refused with STORE_LOCKED before: kill(0) answers for zombies
      s.close();
    });
  } finally {
    parent.kill('SIGKILL');
  }
});
