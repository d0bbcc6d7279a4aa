// The round-robin scheduler behind CSR signing (src/controlplane/round-robin.ts): pure, so the
// order of work is checked exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RoundRobin } from '../../../src/controlplane/round-robin.js';

const settle = async (): Promise<void> => {
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
};

test('an owner with 100 items queued first does not keep a later owner waiting more than one round', async () => {
  const done: string[] = [];
  const rr = new RoundRobin<string, number>((o, n) => done.push(`${o}${n}`));
  for (let i = 0; i < 100; i++) rr.push('a', i);
  rr.push('b', 0);
  rr.push('c', 0);
  rr.push('c', 1);
  await settle();
  assert.deepEqual(done.slice(0, 6), ['a0', 'b0', 'c0', 'a1', 'c1', 'a2']);
  assert.equal(done.length, 103);
  assert.deepEqual(done.filter((d) => d.startsWith('a')), Array.from({ length: 100 }, (_, i) => `a${i}`), 'each owner in its own order');
});

test('nothing runs in the call that queues it: the work comes in a later turn', async () => {
  const done: number[] = [];
  const rr = new RoundRobin<string, number>((_o, n) => done.push(n));
  assert.equal(rr.push('a', 1), 1);
  assert.equal(rr.push('a', 2), 2);
  assert.deepEqual(done, []);
  await settle();
  assert.deepEqual(done, [1, 2]);
  assert.equal(rr.waiting('a'), 0);
});

test('a slice yields to the event loop once its time is up, and the rest follows in later slices', async () => {
  let slices = 0;
  let last = -1;
  const rr = new RoundRobin<string, number>((_o, n) => {
    const t = performance.now();
    while (performance.now() - t < 1) { /* 1 ms of work */ }
    last = n;
  }, 3);
  for (let i = 0; i < 30; i++) rr.push('a', i);
  // Counts event-loop turns that ran while the work was going on.
  const tick = (): void => { slices++; if (last < 29) setImmediate(tick); };
  setImmediate(tick);
  while (last < 29) await new Promise((r) => setTimeout(r, 5));
  assert.ok(slices >= 5, `the event loop got turns in between (${slices})`);
});

test('a held owner is skipped until released, and a dropped one is forgotten', async () => {
  const done: string[] = [];
  const rr = new RoundRobin<string, number>((o, n) => done.push(`${o}${n}`));
  rr.hold('a');
  rr.push('a', 0);
  rr.push('b', 0);
  rr.push('c', 0);
  rr.drop('c');
  await settle();
  assert.deepEqual(done, ['b0']);
  assert.equal(rr.waiting('a'), 1);
  rr.release('a');
  await settle();
  assert.deepEqual(done, ['b0', 'a0']);
});

test('work that holds its own owner stops that owner only', async () => {
  const done: string[] = [];
  const rr = new RoundRobin<string, number>((o, n) => {
    done.push(`${o}${n}`);
    if (o === 'a') rr.hold('a');
  });
  for (let i = 0; i < 3; i++) { rr.push('a', i); rr.push('b', i); }
  await settle();
  assert.deepEqual(done, ['a0', 'b0', 'b1', 'b2']);
  rr.release('a');
  await settle();
  assert.deepEqual(done.slice(4), ['a1']);
});
