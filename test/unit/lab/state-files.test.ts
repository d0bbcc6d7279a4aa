// The lab's state files are root-only: the agent's holds every pod's spec, container env included
// (pods run as uids of their own and must not read each other's env).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAgentState, writeAgentState } from '../../../src/lab/state.js';

test('the agent state is written 0600 and read back', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-state-'));
  const prev = process.env.AMBIT_RUN_DIR;
  process.env.AMBIT_RUN_DIR = dir;
  try {
    const lab = 'statefiles';
    mkdirSync(join(dir, lab));
    const state = { version: 1, pods: { 'default/a': { fingerprint: JSON.stringify({ containers: [{ env: [{ name: 'API_KEY', value: 's3cret' }] }] }) } } };
    writeAgentState(lab, state as unknown as Parameters<typeof writeAgentState>[1]);
    const file = join(dir, lab, 'agent-state.json');
    assert.equal(statSync(file).mode & 0o777, 0o600, 'root only');
    assert.deepEqual(readAgentState(lab), state);
  } finally {
    if (prev === undefined) delete process.env.AMBIT_RUN_DIR;
    else process.env.AMBIT_RUN_DIR = prev;
    rmSync(dir, { recursive: true, force: true });
  }
});
