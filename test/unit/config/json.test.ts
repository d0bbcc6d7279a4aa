// parseStrictJson: JSON with YAML's rule on keys (a repeated key is an error naming its path).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { duplicateKeyPath, parseStrictJson } from '../../../src/config/json.js';

test('the path of the first repeated key, through objects and arrays; null when there is none', () => {
  assert.equal(duplicateKeyPath('{"a":1,"a":2}'), 'a');
  assert.equal(duplicateKeyPath('{"x":[{"b":1},{"c":{"d":1,"d":2}}]}'), 'x[1].c.d');
  assert.equal(duplicateKeyPath('[{"k":1},{"k":2}]'), null, 'the same key in two objects is fine');
  assert.equal(duplicateKeyPath('{"a":{"a":{"a":1}}}'), null, 'nested objects have keys of their own');
  assert.equal(duplicateKeyPath('{"s":"a\\",\\"s\\":1","t":["{","\\"s\\""]}'), null, 'quotes, commas and braces inside strings are text');
  assert.equal(duplicateKeyPath('{"\\u0061":1,"a":2}'), 'a', 'keys compare after escapes are decoded');
  assert.equal(duplicateKeyPath('[[1,2],{"z":[3,{"y":1,"y":1}]}]'), '[1].z[1].y');
});

test('parseStrictJson: the value, or REQUEST_INVALID naming the key or the syntax error', () => {
  assert.deepEqual(parseStrictJson('{"a":[1,{"b":null}]}', 'the request'), { a: [1, { b: null }] });
  assert.throws(() => parseStrictJson('{"spec":{"action":"DENY","action":"ALLOW"}}', 'the request'), {
    code: 'REQUEST_INVALID', path: 'spec.action', message: 'Cannot read the request: spec.action: key given more than once',
  });
  assert.throws(() => parseStrictJson('{"a":', 'the request'), { code: 'REQUEST_INVALID', message: /^Cannot read the request: the body is not JSON \(.+\)$/ });
});
