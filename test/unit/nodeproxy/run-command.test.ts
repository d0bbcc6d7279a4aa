// The node proxy's one way to run nft: a child that exits without reading its input (EPIPE on
// our end of the pipe) must be an ordinary result, not an unhandled 'error' that kills the proxy.
// A real child process (sh), no double.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCommand } from '../../../src/nodeproxy/redirect/install.js';

test('a child that exits without reading a large input resolves by its exit code (EPIPE is not fatal)', async () => {
  const input = 'x'.repeat(4 * 1024 * 1024); // far above a pipe's buffer: the write must hit EPIPE
  for (let i = 0; i < 5; i++) {
    assert.equal(await runCommand('sh', ['-c', 'echo done'], input, 'sh', 'sh'), 'done\n');
    await assert.rejects(runCommand('sh', ['-c', 'exit 3'], input, 'sh -c "exit 3"', 'sh'), /Cannot run sh -c "exit 3": exited 3/);
  }
});

test('without input the child gets no stdin at all', async () => {
  // `cat` with a closed stdin ends at once; with an open pipe nobody ends, it would wait.
  assert.equal(await runCommand('sh', ['-c', 'cat; echo end'], undefined, 'cat', 'cat'), 'end\n');
});

test('a failing command names itself and its stderr', async () => {
  await assert.rejects(runCommand('sh', ['-c', 'echo nope >&2; exit 1'], '', 'nft list in /x', '/x'), /Cannot run nft list in \/x: exited 1: nope/);
});
