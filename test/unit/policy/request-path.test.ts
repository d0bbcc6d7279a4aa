// Table: how request paths are normalized before paths/notPaths see them (Istio's strictest
// normalization), and which paths are refused as unreadable (null).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeRequestPath } from '../../../src/policy/index.js';

const cases: [string, string | null][] = [
  ['/', '/'],
  ['/api/v1', '/api/v1'],
  ['/api/v1/', '/api/v1/'],
  ['/api?x=1', '/api'],
  ['/api?x=/../admin', '/api'],
  ['/api#frag', '/api'],
  ['/a/./b', '/a/b'],
  ['/a/b/../c', '/a/c'],
  ['/a/b/..', '/a/'],
  ['/a/b/.', '/a/b/'],
  ['/../../etc', '/etc'],
  ['/..', '/'],
  ['//a///b', '/a/b'],
  ['/a\\b', '/a/b'],
  ['/%61%62%63', '/abc'],
  ['/%2e%2e/admin', '/admin'],
  ['/a%2Fb', '/a/b'],
  ['/a%5cb', '/a/b'],
  ['/a%2fb/..', '/a/'],
  ['/%7e%2D%5f', '/~-_'],
  ['/a%3ab', '/a%3Ab'], // reserved characters stay encoded, in upper-case hex
  ['/a%20b', '/a%20b'],
  ['/a%252e%252e/b', '/a%252e%252e/b'], // decoded once only, never twice
  ['/caf\u00e9', '/caf\u00e9'],
  ['', null],
  ['api', null],
  ['*', null],
  ['http://h/admin', null],
  ['/a%00b', null],
  ['/a%zzb', null],
  ['/a%2', null],
  ['/a b', null],
  ['/a\tb', null],
  ['/a\u007fb', null],
];

describe('normalizeRequestPath', () => {
  for (const [raw, want] of cases) {
    test(`${JSON.stringify(raw)} -> ${want === null ? 'unreadable' : JSON.stringify(want)}`, () => {
      assert.equal(normalizeRequestPath(raw), want);
    });
  }
  test('a non-string is unreadable', () => {
    assert.equal(normalizeRequestPath(42 as never), null);
  });
});
