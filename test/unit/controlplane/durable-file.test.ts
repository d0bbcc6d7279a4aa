// replaceFileDurably (src/store/durable-file.ts): the one way the store's snapshot and the CA's
// node revocations replace a file. Real files in a temp directory.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { replaceFileDurably } from '../../../src/store/index.js';

const dir = mkdtempSync(join(tmpdir(), 'ambit-durable-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('replaces the content whole, 0600, and leaves no temporary file', () => {
  const path = join(dir, 'state.json');
  writeFileSync(path, 'old', { mode: 0o644 });
  replaceFileDurably(path, 'new content\n');
  assert.equal(readFileSync(path, 'utf8'), 'new content\n');
  assert.equal(statSync(path).mode & 0o777, 0o600, 'the new file is created 0600, whatever the old one was');
  assert.deepEqual(readdirSync(dir), ['state.json']);
});

test('a directory that does not exist is an error naming the path, and nothing is written', () => {
  const path = join(dir, 'missing', 'state.json');
  assert.throws(() => replaceFileDurably(path, 'x'), (e: NodeJS.ErrnoException) => e.code === 'ENOENT' && String(e.message).includes(join(dir, 'missing')));
  assert.deepEqual(readdirSync(dir).sort(), ['state.json']);
});
