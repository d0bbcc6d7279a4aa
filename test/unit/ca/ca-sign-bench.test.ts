import { test } from 'node:test';
import assert from 'node:assert/strict';
import { benchCaSign } from '../../../bench/ca-sign.js';

// The target is >= 2,000/s on an idle core; the floor here is lower so that a busy CI box
// (tests run beside other suites) does not flake, yet far above @peculiar/x509's ~300/s.
test('the fast CA path signs well above the JS-ASN.1 baseline', async () => {
  const r = await benchCaSign({ seconds: 0.5 });
  assert.ok(r.signsPerSecond > 1000, `signsPerSecond ${r.signsPerSecond}`);
  assert.ok(r.csrsPerSecond > 1000, `csrsPerSecond ${r.csrsPerSecond}`);
});
