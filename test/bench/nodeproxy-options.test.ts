// The node-proxy bench's settings from the environment: HAProxy's threads per process, rounds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { benchRounds, haproxyThreads } from '../../bench/nodeproxy.js';

test('AMBIT_BENCH_HAPROXY_THREADS: 1 by default, a small whole number, anything else refused by name', () => {
  assert.equal(haproxyThreads({}), 1);
  assert.equal(haproxyThreads({ AMBIT_BENCH_HAPROXY_THREADS: '' }), 1);
  assert.equal(haproxyThreads({ AMBIT_BENCH_HAPROXY_THREADS: '2' }), 2);
  for (const bad of ['0', '-1', '2.5', 'two', '100', ' 2']) {
    assert.throws(() => haproxyThreads({ AMBIT_BENCH_HAPROXY_THREADS: bad }), new RegExp(`AMBIT_BENCH_HAPROXY_THREADS must be a whole number from 1 to 99, got "${bad.replace(/[.+]/g, '\\$&')}"`));
  }
});

test('AMBIT_BENCH_ROUNDS: 3 by default, 1 to 9, anything else refused by name', () => {
  assert.equal(benchRounds({}), 3);
  assert.equal(benchRounds({ AMBIT_BENCH_ROUNDS: '' }), 3);
  assert.equal(benchRounds({ AMBIT_BENCH_ROUNDS: '1' }), 1);
  assert.equal(benchRounds({ AMBIT_BENCH_ROUNDS: '9' }), 9);
  for (const bad of ['0', '10', '-1', '2.5', 'three', ' 2']) {
    assert.throws(() => benchRounds({ AMBIT_BENCH_ROUNDS: bad }), new RegExp(`AMBIT_BENCH_ROUNDS must be a whole number from 1 to 9, got "${bad.replace(/[.+]/g, '\\$&')}"`));
  }
});
