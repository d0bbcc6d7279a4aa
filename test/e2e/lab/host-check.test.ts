// Not root: the real CLI says what is needed in one line and exits 1 without touching anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { MAIN } from './helpers.js';
import { labRunDir } from '../../../src/paths.js';

test('lab up as an unprivileged user: one line, exit 1, nothing created', () => {
  const lab = `nr${process.pid}`;
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', process.execPath, MAIN, 'lab', 'up', '--name', lab], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.equal(r.stderr, 'ambit lab: needs root (CAP_NET_ADMIN) to create network namespaces; run with sudo\n');
  assert.equal(r.stdout, '');
  assert.equal(existsSync(labRunDir(lab)), false);
});
