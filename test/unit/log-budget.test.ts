// LogBudget: lines a remote party can cause at will are written at most N a second per key, and
// the next line written says how many were held back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogBudget } from '../../src/log.js';

test('at most perSecond lines per key a second; the next window reports what was held back', () => {
  let t = 10_000;
  const b = new LogBudget(3, () => t);
  const said = Array.from({ length: 10 }, () => b.take('a'));
  assert.deepEqual(said.map((s) => s?.suppressed ?? null), [0, 0, 0, null, null, null, null, null, null, null]);
  assert.deepEqual(b.take('b'), { suppressed: 0 }, 'another key has its own budget');
  t += 999;
  assert.equal(b.take('a'), null, 'still the same second');
  t += 1;
  assert.deepEqual(b.take('a'), { suppressed: 8 }, 'the first line of the next second counts the 8 held back');
  assert.deepEqual(b.take('a'), { suppressed: 0 }, 'counted once');
  t += 5_000;
  assert.deepEqual(b.take('a'), { suppressed: 0 }, 'nothing held back after a quiet stretch');
});

test('a budget that is not a positive integer is refused, naming the value', () => {
  for (const bad of [0, -1, 1.5, Number.NaN]) assert.throws(() => new LogBudget(bad), new RegExp(`perSecond must be a positive integer, got ${bad}`));
});
