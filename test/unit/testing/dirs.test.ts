// The tests' scratch directories clean up after themselves: after an async body too, and a
// failed clean-up never hides the test's own error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { withSmallDisk, withTempDir } from '../../../src/testing/dirs.js';

test('withTempDir keeps the directory until an async body settles, then removes it', async () => {
  let seen = '';
  const p = withTempDir('ambit-dirs-test-', async (dir) => {
    seen = dir;
    await sleep(20);
    writeFileSync(join(dir, 'f'), 'x');
    assert.equal(readFileSync(join(dir, 'f'), 'utf8'), 'x');
    return 7;
  });
  assert.ok(existsSync(seen), 'still there while the body awaits');
  assert.equal(await p, 7);
  assert.equal(existsSync(seen), false);
});

test('withTempDir removes the directory when the body throws or rejects', async () => {
  let seen = '';
  assert.throws(() => withTempDir('ambit-dirs-test-', (dir) => {
    seen = dir;
    throw new Error('sync failure');
  }), /sync failure/);
  assert.equal(existsSync(seen), false);
  await assert.rejects(withTempDir('ambit-dirs-test-', async (dir) => {
    seen = dir;
    await sleep(1);
    throw new Error('async failure');
  }), /async failure/);
  assert.equal(existsSync(seen), false);
});

test("withSmallDisk: when the clean-up fails too, the test's own error is the one thrown, and nothing is left mounted", async () => {
  let seen = '';
  const err = await withSmallDisk((disk) => {
    seen = disk.dir;
    // Unmounting it here makes both of clean-up's unmounts fail.
    execFileSync('umount', [disk.dir]);
    throw new Error('the test failed');
  }).then(() => undefined, (e: unknown) => e as Error & { cleanupErrors?: unknown[] });
  assert.ok(err instanceof Error);
  assert.equal(err.message, 'the test failed');
  assert.equal(err.cleanupErrors?.length, 1, 'the failed unmount is attached to it');
  assert.equal(existsSync(seen), false);
  assert.equal(readFileSync('/proc/mounts', 'utf8').includes(seen), false);
});
