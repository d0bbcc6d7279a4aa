// Pod users: every pod its own uid from its lab's block (stable, never handed out twice while the
// agent keeps `next`), its own 0700 HOME and TMPDIR, and a sweep of what pod users left in the
// shared scratch directories. The files part needs root (chown), as the lab itself does.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  POD_UID_BASE, POD_UID_BLOCK_SIZE, PodUidAllocator, createPodHome, labUidBase, labUidRange, podHome, podHomesDir, podTmpDir, podUser, removePodHome, sweepPodFiles,
} from '../../../src/lab/pod-users.js';
import { podEnv } from '../../../src/lab/processes.js';

describe('pod uids', () => {
  test("a lab's block is derived from its name alone, above every system user and below 2^31", () => {
    for (const lab of ['default', 'e123', 'x', 'z'.repeat(20)]) {
      const { first, last } = labUidRange(lab);
      assert.equal(first, labUidBase(lab));
      assert.equal(last - first + 1, POD_UID_BLOCK_SIZE);
      assert.ok(first >= POD_UID_BASE && first >= 200_000);
      assert.ok(last < 2 ** 31);
      assert.equal((first - POD_UID_BASE) % POD_UID_BLOCK_SIZE, 0);
    }
    assert.notEqual(labUidBase('labone'), labUidBase('labtwo'));
  });

  test('uids are handed out in order and never twice, even after the pod holding one is gone', () => {
    const held = new Set<number>();
    const a = new PodUidAllocator('t1', undefined, () => held);
    const base = labUidBase('t1');
    const first = a.allocate();
    held.add(first);
    const second = a.allocate();
    assert.ok(first >= base && second > first);
    held.delete(first); // the pod went away: its uid is still not reused
    held.add(second);
    const third = a.allocate();
    assert.ok(third > second);
  });

  test('a restarted agent carries on from the saved next uid, or past the highest uid a pod holds', () => {
    const base = labUidBase('t2');
    const a = new PodUidAllocator('t2', undefined, () => []);
    a.allocate();
    a.allocate();
    const saved = a.snapshot();
    assert.ok(saved > base);
    const next = PodUidAllocator.restore('t2', saved, () => []).allocate();
    assert.ok(next >= saved);
    const fromRecords = PodUidAllocator.restore('t2', undefined, () => [base + 40, base + 7]).allocate();
    assert.ok(fromRecords > base + 40);
    // A saved value outside the block (another lab's state, a corrupt file) is not trusted.
    assert.ok(PodUidAllocator.restore('t2', 5, () => []).allocate() >= base);
  });

  test('at the end of the block it wraps and skips every uid a pod still holds', () => {
    const { first, last } = labUidRange('t3');
    const a = new PodUidAllocator('t3', last, () => [first, first + 1]);
    assert.equal(a.allocate(), last);
    assert.ok(a.allocate() >= first + 2);
  });

  test('a block whose every uid is held is LAB_UIDS_EXHAUSTED, naming the lab and the range', () => {
    const { first, last } = labUidRange('t4');
    const all = Array.from({ length: POD_UID_BLOCK_SIZE }, (_, i) => first + i);
    assert.throws(() => new PodUidAllocator('t4', undefined, () => all).allocate(), {
      code: 'LAB_UIDS_EXHAUSTED',
      message: `Cannot allocate a pod uid in lab t4: every uid of ${first}-${last} is in use`,
    });
  });

  test("a pod's environment has its own HOME and TMPDIR, nothing of the caller's", () => {
    const user = podUser('t5', 200_001);
    const env = podEnv(user, { POD_NAME: 'a' });
    assert.equal(env.HOME, podHome('t5', 200_001));
    assert.equal(env.TMPDIR, join(podHome('t5', 200_001), 'tmp'));
    assert.notEqual(env.HOME, '/tmp');
    assert.equal(env.POD_NAME, 'a');
    assert.equal(env.USER, undefined);
  });
});

describe('pod homes and the sweep (as root)', () => {
  const run = mkdtempSync(join(tmpdir(), 'ambit-pod-users-'));
  const saved = process.env.AMBIT_RUN_DIR;
  process.env.AMBIT_RUN_DIR = run;
  after(() => {
    if (saved === undefined) delete process.env.AMBIT_RUN_DIR;
    else process.env.AMBIT_RUN_DIR = saved;
    rmSync(run, { recursive: true, force: true });
  });

  test('HOME and TMPDIR are 0700 and owned by the pod uid; the homes dir is root 0711; removal takes them', () => {
    const user = podUser('t6', labUidBase('t6') + 3);
    mkdirSync(user.home, { recursive: true });
    writeFileSync(join(user.home, 'left-by-a-former-holder'), 'x');
    createPodHome('t6', user);
    assert.ok(!existsSync(join(user.home, 'left-by-a-former-holder')), 'made afresh');
    for (const dir of [user.home, podTmpDir(user)]) {
      const st = statSync(dir);
      assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [user.uid, user.gid, 0o700], dir);
    }
    const parent = statSync(podHomesDir('t6'));
    assert.deepEqual([parent.uid, parent.mode & 0o777], [0, 0o711]);
    removePodHome('t6', user.uid);
    assert.ok(!existsSync(user.home));
  });

  test("the sweep removes only what the lab's pod users own", () => {
    const scratch = join(run, 'scratch');
    mkdirSync(scratch);
    const { first } = labUidRange('t7');
    const mine = join(scratch, '.curlrc');
    const mineDir = join(scratch, 'pod-dir');
    const others = join(scratch, 'someone-else');
    const roots = join(scratch, 'root-file');
    writeFileSync(mine, 'x');
    chownSync(mine, first + 1, first + 1);
    mkdirSync(mineDir);
    writeFileSync(join(mineDir, 'f'), 'y');
    chownSync(mineDir, first + 2, first + 2);
    writeFileSync(others, 'z');
    chownSync(others, labUidBase('t8') + 1, labUidBase('t8') + 1);
    writeFileSync(roots, 'r');
    assert.deepEqual(sweepPodFiles('t7', [scratch, join(run, 'missing')]).sort(), [mine, mineDir].sort());
    assert.ok(existsSync(others) && existsSync(roots));
  });
});
