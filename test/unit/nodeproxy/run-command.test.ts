// The node proxy's one way to run nft: a child that exits without reading its input (EPIPE on
// our end of the pipe) must be an ordinary result, not an unhandled 'error' that kills the proxy.
// A real child process (sh), no double.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCommand, tunePodNetwork } from '../../../src/nodeproxy/redirect/install.js';

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

test('a failure carries the caller\'s error code (nft by default), and the pod-sysctl step has its own', async () => {
  await assert.rejects(runCommand('sh', ['-c', 'exit 1'], undefined, 'nft list', '/x'), { code: 'CAPTURE_RULES_FAILED' });
  await assert.rejects(runCommand('sh', ['-c', 'exit 1'], undefined, 'sysctl', '/x', { code: 'POD_SYSCTL_FAILED', hint: 'is procps installed?' }), { code: 'POD_SYSCTL_FAILED' });
  await assert.rejects(runCommand('/nonexistent/ambit-test-command', [], undefined, 'a missing tool', '/x', { code: 'POD_SYSCTL_FAILED', hint: 'is procps installed?' }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'POD_SYSCTL_FAILED');
    assert.match(err.message, /Cannot run a missing tool: .*\(is procps installed\?\)/);
    return true;
  });
  // A namespace that does not exist: nsenter fails, and the error says which step it was.
  await assert.rejects(tunePodNetwork('/nonexistent/ambit-test-netns'), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'POD_SYSCTL_FAILED');
    assert.match(err.message, /sysctl -w net\.ipv4\.tcp_tw_reuse=1 in \/nonexistent\/ambit-test-netns/);
    return true;
  });
});
