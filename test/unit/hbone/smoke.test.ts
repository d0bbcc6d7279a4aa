import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from './harness.js';
test('smoke', async () => {
  const h = await Harness.start();
  try {
    assert.equal(await h.roundTrip('hello'), 'hello');
    assert.equal(await h.roundTrip('hello2'), 'hello2');
    console.log(h.secureConnections, h.records, h.refusals);
  } finally { await h.stop(); }
});
