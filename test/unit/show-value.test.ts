// showValue (src/errors.ts) quotes the offending value in every error message and log line: a
// value must not be able to reorder or hide the text around it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { showValue } from '../../src/errors.js';

test('bidi overrides, line separators, zero-width and C1 characters are shown escaped', () => {
  assert.equal(showValue('corp\u202enet'), '"corp\\u202enet"');
  assert.equal(showValue('a\u2028b\u2029c'), '"a\\u2028b\\u2029c"');
  assert.equal(showValue('x\u200by\u0085z\u007f'), '"x\\u200by\\u0085z\\u007f"');
  assert.equal(showValue('tag\u{E0001}'), '"tag\\u{e0001}"');
  assert.equal(showValue({ reason: 'a\u202eb' }), '{"reason":"a\\u202eb"}');
});

test('ordinary text, accents and other scripts are shown as they are; long values are cut', () => {
  assert.equal(showValue('plain é ü 日本'), '"plain é ü 日本"');
  assert.equal(showValue('line\nbreak'), '"line\\nbreak"');
  assert.equal(showValue(70000), '70000');
  assert.equal(showValue('a'.repeat(200)).length, 120);
});
