// pidsByUidRange finds a lab pod user's processes wherever they are (teardown stops them even
// when they left their pod's namespace): a real process started as such a uid with setpriv.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { pidsByUidRange } from '../../../src/lab/processes.js';
import { labUidRange } from '../../../src/lab/pod-users.js';

test('a process running as a uid of the lab\'s block is found; one outside it is not', async () => {
  const { first, last } = labUidRange(`uidpids${process.pid}`);
  const uid = first + 17;
  const child = spawn('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--', 'sleep', '30'], { stdio: 'ignore' });
  try {
    let found: number[] = [];
    for (let i = 0; i < 100 && !found.includes(child.pid!); i++) {
      found = pidsByUidRange(first, last);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(found.includes(child.pid!), `pid ${child.pid} (uid ${uid}) among ${found.join(', ')}`);
    assert.ok(!pidsByUidRange(first, last).includes(process.pid), 'root is not in the block');
    assert.ok(!pidsByUidRange(uid + 1, last).includes(child.pid!), 'the range bounds hold');
  } finally {
    child.kill('SIGKILL');
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  }
});
