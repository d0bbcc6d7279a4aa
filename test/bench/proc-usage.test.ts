// The machine's busy CPU time from /proc/stat: idle and iowait left out, every other column summed
// over all cores, in seconds; a file without a usable cpu line is refused with what it held.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { machineBusySeconds } from '../../bench/proc-usage.js';

test('busy time sums user, nice, system, irq, softirq and steal, and leaves out idle and iowait', () => {
  const stat = 'cpu  1000 20 300 90000 500 7 40 3 0 0\ncpu0 500 10 150 45000 250 3 20 1 0 0\nintr 1 2 3\n';
  // (1000 + 20 + 300 + 7 + 40 + 3) ticks at 100 per second.
  assert.equal(machineBusySeconds(stat), 13.7);
});

test('a /proc/stat without a cpu line of numbers is refused, naming what it had', () => {
  assert.throws(() => machineBusySeconds('intr 1 2 3\n'), /no cpu line of 8 numbers, got null/);
  assert.throws(() => machineBusySeconds('cpu  1 2 x 4 5 6 7 8\n'), /got "cpu  1 2 x 4 5 6 7 8"/);
  assert.throws(() => machineBusySeconds('cpu  1 2 3\n'), /no cpu line of 8 numbers/);
});

test('the machine\'s own /proc/stat reads, and its busy time does not go back', () => {
  const a = machineBusySeconds();
  let x = 0;
  for (let i = 0; i < 2e6; i++) x += i % 7;
  assert.ok(x > 0);
  assert.ok(machineBusySeconds() >= a);
});
