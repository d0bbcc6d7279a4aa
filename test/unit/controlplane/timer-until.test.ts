// timerUntil: the config stream ends a session when its node credential expires, and credentials
// may live a year, past the longest delay a Node timer takes (2^31-1 ms, 24.8 days; a longer one
// fires at once). Mocked timers and clock (node:test's MockTimers) stand in for the weeks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { timerUntil } from '../../../src/controlplane/stream-server.js';

const DAY = 86_400_000;

test('a deadline 30 days off is due at 30 days, not at 24.8 (the timer limit) and not at once', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.parse('2026-12-01T00:00:00Z') });
  let due = 0;
  timerUntil(Date.now() + 30 * DAY, () => due++);
  t.mock.timers.tick(1);
  assert.equal(due, 0, 'not at once');
  t.mock.timers.tick(25 * DAY);
  assert.equal(due, 0, 'not when the first timer step ends');
  t.mock.timers.tick(5 * DAY - 2);
  assert.equal(due, 0, 'not a millisecond early');
  t.mock.timers.tick(1);
  assert.equal(due, 1, 'at the deadline');
  t.mock.timers.tick(60 * DAY);
  assert.equal(due, 1, 'once');
});

test('a deadline already past is due in a later turn; cancel stops a pending one', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.parse('2026-12-01T00:00:00Z') });
  let past = 0;
  timerUntil(Date.now() - 1000, () => past++);
  assert.equal(past, 0, 'not synchronously');
  t.mock.timers.tick(0);
  assert.equal(past, 1);
  let cancelled = 0;
  const c = timerUntil(Date.now() + 40 * DAY, () => cancelled++);
  t.mock.timers.tick(30 * DAY);
  c.cancel();
  t.mock.timers.tick(20 * DAY);
  assert.equal(cancelled, 0);
});
