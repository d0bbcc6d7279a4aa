// `ambit delete` refuses flags it would otherwise ignore (and so delete something other than what
// was asked), naming them, before it reads any file or talks to a control plane: the real CLI
// process, pointed at an admin socket that does not exist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { CLI_PATH } from '../../../src/testing/control-plane-process.js';

const ambit = (args: string[]) => spawnSync(process.execPath, [CLI_PATH, '--admin-socket', '/nonexistent/ambit-admin.sock', ...args], { encoding: 'utf8' });

test('-n with -f, -f with a kind and name, and -n with a cluster-scoped kind are FLAG_INVALID naming the flag', () => {
  for (const [args, message] of [
    [['delete', '-f', '/nonexistent/web.yaml', '-n', 'prod'], /^ambit: Cannot delete: -n "prod" does not apply to -f \(each object in a file is deleted from its own metadata\.namespace/],
    [['delete', 'pod', 'web', '-f', '/nonexistent/web.yaml'], /^ambit: Cannot delete: give -f FILE or a kind and a name, not both \(got -f and "pod web"\)/],
    [['delete', 'node', 'node-1', '-n', 'prod'], /^ambit: Cannot delete Node "node-1": -n does not apply, Node is cluster-scoped/],
  ] as const) {
    const r = ambit([...args]);
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
  }
});

test('control: a kind and a name without -n go on to the control plane (here: unreachable, named)', () => {
  const r = ambit(['delete', 'pod', 'web']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /Cannot reach the control plane at \/nonexistent\/ambit-admin\.sock/);
});
