// A daemon's unhandled error ends it with one fatal JSON line (what, kind, stack) and exit 1, for
// its supervisor to restart: run in a real child process that throws, as the node proxy did on
// an EPIPE.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SHUTDOWN = fileURLToPath(new URL('../../../src/cli/shutdown.js', import.meta.url));
const LOG = fileURLToPath(new URL('../../../src/log.js', import.meta.url));

function runDaemon(body: string): { status: number | null; lines: Record<string, unknown>[] } {
  const script = `
    const { stopOnSignals } = await import(${JSON.stringify(SHUTDOWN)});
    const { createLogger } = await import(${JSON.stringify(LOG)});
    stopOnSignals(createLogger('test-daemon'), 'test daemon', async () => {});
    setInterval(() => {}, 1000);
    ${body}`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { status: r.status, lines };
}

test('an uncaught exception is logged as one fatal line with its stack, then exit 1', () => {
  const r = runDaemon(`setTimeout(() => { const e = new Error('write EPIPE'); e.code = 'EPIPE'; throw e; }, 10);`);
  assert.equal(r.status, 1);
  const fatal = r.lines.find((l) => l.level === 60);
  assert.ok(fatal, 'a fatal line');
  assert.equal(fatal.msg, 'test daemon crashed: uncaught exception');
  assert.equal(fatal.err, 'write EPIPE');
  assert.equal(fatal.code, 'EPIPE');
  assert.match(String(fatal.stack), /Error: write EPIPE/);
});

test('an unhandled rejection ends the daemon the same way', () => {
  const r = runDaemon(`setTimeout(() => Promise.reject(new Error('lost promise')), 10);`);
  assert.equal(r.status, 1);
  const fatal = r.lines.find((l) => l.level === 60);
  assert.equal(fatal?.msg, 'test daemon crashed: unhandled rejection');
  assert.equal(fatal?.err, 'lost promise');
});

test('SIGTERM still stops it cleanly (exit 0, no fatal line)', () => {
  const r = runDaemon(`setTimeout(() => process.kill(process.pid, 'SIGTERM'), 10);`);
  assert.equal(r.status, 0);
  assert.equal(r.lines.filter((l) => l.level === 60).length, 0);
});
