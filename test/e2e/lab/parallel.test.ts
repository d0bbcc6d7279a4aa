// Two labs side by side (same CIDRs, distinct prefixes), IP reuse on request, exact pod IPs,
// and the clean-up of a lab left by a crash, by `up` and by `down` without a state file.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { teardownLab, execInPod, readLabState, statePath, labStatus, isAlive } from '../../../src/lab/index.js';
import { httpFromPod, apply, cli, cliOk, deletePod, labTraces, serverPod, sleeperPod, waitPod, waitPodGone, podOf } from './helpers.js';

const A = `pa${process.pid}`;
const B = `pb${process.pid}`;

describe('two labs at once', () => {
  let dir = '';
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ambit-lab-par-'));
    writeFileSync(join(dir, 'reuse.yaml'), 'apiVersion: ambit.dev/v1alpha1\nkind: Lab\nspec:\n  nodes: 2\n  mesh: { enabled: false }\n  ipam: { reuseFreed: true }\n');
    await Promise.all([cliOk(['lab', 'up', '--name', A]), cliOk(['lab', 'up', '--name', B, '-f', join(dir, 'reuse.yaml')])]);
  });
  after(async () => {
    await Promise.all([cli(['lab', 'down', '--name', A]), cli(['lab', 'down', '--name', B])]);
    await Promise.all([teardownLab(A), teardownLab(B)]); // also when the CLI itself cannot run
    rmSync(dir, { recursive: true, force: true });
  });

  test('both labs serve the same pod IPs, each inside its own namespaces', async () => {
    await Promise.all([A, B].map((lab) => apply(lab, `${serverPod('s', 'node-2')}---\n${sleeperPod('c', 'node-1')}`)));
    for (const lab of [A, B]) {
      const s = await waitPod(lab, 's');
      await waitPod(lab, 'c');
      assert.equal(s.ip, '10.244.2.1');
      assert.match(s.netns!, new RegExp(`^ambit-${lab}-p-`));
      assert.equal(await httpFromPod(lab, 'c', 'http://10.244.2.1:8080/', 'hello from s\n'), 'hello from s\n');
    }
  });

  test('a freed IP is handed out again at once when the lab asks for reuse', async () => {
    await apply(B, sleeperPod('victim', 'node-1'));
    const victim = await waitPod(B, 'victim');
    await deletePod(B, 'victim');
    await waitPodGone(B, 'victim');
    await apply(B, sleeperPod('attacker', 'node-1'));
    assert.equal((await waitPod(B, 'attacker')).ip, victim.ip);
  });

  test('without reuse, a freed IP is not handed out again before the range wraps', async () => {
    await apply(A, sleeperPod('victim', 'node-1'));
    const victim = await waitPod(A, 'victim');
    await deletePod(A, 'victim');
    await waitPodGone(A, 'victim');
    await apply(A, sleeperPod('next', 'node-1'));
    assert.notEqual((await waitPod(A, 'next')).ip, victim.ip);
  });

  test('a pod may ask for an exact IP; a taken or foreign one fails the pod with a clear message', async () => {
    await apply(A, serverPod('fixed', 'node-1', {}, { 'ambit.dev/pod-ip': '10.244.1.77' }));
    assert.equal((await waitPod(A, 'fixed')).ip, '10.244.1.77');
    await apply(A, serverPod('clash', 'node-1', {}, { 'ambit.dev/pod-ip': '10.244.1.77' }));
    const clash = await waitPod(A, 'clash', 'Failed');
    assert.equal(clash.message, 'Cannot allocate metadata.annotations["ambit.dev/pod-ip"]: "10.244.1.77" is in use by pod default/fixed');
    await apply(A, serverPod('foreign', 'node-1', {}, { 'ambit.dev/pod-ip': '10.244.2.5' }));
    const foreign = await waitPod(A, 'foreign', 'Failed');
    assert.equal(foreign.message, 'Cannot allocate metadata.annotations["ambit.dev/pod-ip"]: "10.244.2.5" is not a usable address of the node\'s pod CIDR 10.244.1.0/24');
    const table = await cliOk(['lab', 'status', '--name', A]);
    assert.match(table, /clash\s+node-1\s+-\s+Failed\s+-\s+Cannot allocate .*in use by pod default\/fixed/);
    const pods = await cliOk(['get', 'pods', '-n', 'default', '-o', 'json', '--lab', A]);
    assert.match(pods, /"phase": ?"Failed"/, 'the phase is written back to the control plane');
    await apply(A, serverPod('nowhere', 'node-7'));
    assert.equal((await waitPod(A, 'nowhere', 'Failed')).message, 'Cannot place pod default/nowhere: spec.nodeName "node-7" is not a lab node (nodes: node-1, node-2)');
  });

  test('down of one lab leaves the other running', async () => {
    await cliOk(['lab', 'down', '--name', B]);
    assert.deepEqual(await labTraces(B), { netns: [], pids: [], etc: [], runDir: false, rootLinks: [] });
    assert.equal(labStatus(A).healthy, true);
    const r = await execInPod(A, 'default', 'c', ['curl', '-sS', '-m', '3', 'http://10.244.2.1:8080/']);
    assert.equal(r.stdout, 'hello from s\n');
  });

  test('a crashed lab is detected and cleaned by the next up', async () => {
    const state = readLabState(A)!;
    for (const c of Object.values(state.components)) process.kill(-c.pid, 'SIGKILL');
    const r = await cliOk(['lab', 'up', '--name', A]);
    assert.match(r, new RegExp(`^found a stale lab \\(left by a crash or an unfinished up\\) ${A}; cleaning\\.\\.\\. ok`, 'm'));
    assert.equal(labStatus(A).healthy, true);
    // Lab A runs the mesh, so the only pod of a fresh lab is its egress gateway.
    assert.deepEqual(labStatus(A).pods.map((p) => `${p.namespace}/${p.name}`), ['ambit-system/egress-gateway'], 'a fresh lab: old pods and their namespaces are gone');
    assert.equal((await labTraces(A)).netns.length, 5 + 1);
  });

  test('down finds everything by prefix even without a state file', async () => {
    await apply(A, sleeperPod('orphan', 'node-1'));
    const orphan = await waitPod(A, 'orphan');
    rmSync(statePath(A));
    await cliOk(['lab', 'down', '--name', A]);
    assert.deepEqual(await labTraces(A), { netns: [], pids: [], etc: [], runDir: false, rootLinks: [] });
    assert.equal(isAlive(orphan.containers[0]!.pid), false);
  });

  test('names that could collide with another lab are refused', async () => {
    const r = await cli(['lab', 'up', '--name', `${A}-x`]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `ambit: Cannot use lab name "${A}-x": name must be 1-20 characters of a-z and 0-9 (no '-', so one lab's prefix never matches another's)\n`);
  });
});
