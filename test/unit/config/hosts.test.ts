// Host validation and matching tables: the egress allow-list rests on these answers.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AmbitError } from '../../../src/errors.js';
import { HostSet, canonicalHost, hostMatches, validateHost } from '../../../src/config/index.js';

const LABEL_RULE = (l: string) => `label "${l}" must be 1-63 characters of a-z, 0-9 and "-", starting and ending with a letter or digit`;
const WILDCARD_RULE = 'may hold "*" only as the whole first label, as in "*.example.com"';

describe('validateHost', () => {
  const cases: [string, string | null][] = [
    ['api.example.com', null],
    ['*.example.com', null],
    ['*.com', null],
    ['localhost', null],
    ['xn--bcher-kva.example', null],
    ['a-b.c0.example', null],
    [`${'a'.repeat(63)}.com`, null],
    [`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`, null], // 253
    [`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}`, 'must be at most 253 characters (has 254)'],
    ['*.*.example.com', WILDCARD_RULE],
    ['foo.*.example.com', WILDCARD_RULE],
    ['*foo.example.com', WILDCARD_RULE],
    ['example.*', WILDCARD_RULE],
    ['*', 'must not be "*" alone: that matches every host; name a domain, as in "*.example.com"'],
    ['api.example.com.', 'must not end with "." (write "api.example.com")'],
    ['API.example.com', 'host names must be lower case (write "api.example.com")'],
    ['a..b', 'must not contain empty labels (a leading ".", a trailing "." or "..")'],
    ['', 'must not be empty'],
    ['10.0.0.1', "must be a DNS name, not an IP address (put addresses in a ServiceEntry's spec.endpoints)"],
    ['-a.example.com', LABEL_RULE('-a')],
    ['a-.example.com', LABEL_RULE('a-')],
    ['a b.example.com', LABEL_RULE('a b')],
    [`${'a'.repeat(64)}.com`, LABEL_RULE('a'.repeat(64))],
  ];
  for (const [host, want] of cases) {
    test(`${JSON.stringify(host.length > 40 ? `${host.slice(0, 20)}…(${host.length})` : host)} -> ${want ?? 'valid'}`, () => {
      assert.equal(validateHost(host), want);
    });
  }
  test('concrete names only when wildcards are not allowed', () => {
    assert.equal(validateHost('*.example.com', { wildcard: false }), 'must be a DNS name, not a wildcard');
    assert.equal(validateHost('*', { wildcard: false }), 'must be a DNS name, not a wildcard');
    assert.equal(validateHost('api.example.com', { wildcard: false }), null);
  });
});

describe('hostMatches', () => {
  const cases: [string, string, boolean][] = [
    ['api.example.com', 'api.example.com', true],
    ['api.example.com', 'API.Example.com', true], // DNS is case-insensitive
    ['api.example.com', 'api.example.com.', true], // one trailing dot is the same name
    ['api.example.com', 'www.example.com', false],
    ['api.example.com', 'xapi.example.com', false],
    ['*.example.com', 'a.example.com', true],
    ['*.example.com', 'a.b.example.com', true],
    ['*.example.com', 'example.com', false], // the apex is not covered
    ['*.example.com', 'badexample.com', false],
    ['*.example.com', 'a.example.com.evil.org', false],
    ['*.example.com', '.example.com', false],
    ['*.example.com', '*.example.com', false], // a pattern is not a host
    ['*.example.com', 'a..example.com', false], // malformed hosts never match
    ['*.example.com', 'a b.example.com', false],
    ['*.com', 'example.com', true],
  ];
  for (const [pattern, host, want] of cases) {
    test(`${pattern} ${want ? 'matches' : 'does not match'} ${JSON.stringify(host)}`, () => {
      assert.equal(hostMatches(pattern, host), want);
    });
  }
});

describe('canonicalHost', () => {
  test('lower-cases, drops one trailing dot, refuses malformed names', () => {
    assert.equal(canonicalHost('API.Example.COM.'), 'api.example.com');
    assert.equal(canonicalHost('a..b'), null);
    assert.equal(canonicalHost('*.example.com'), null);
    assert.equal(canonicalHost('10.0.0.1'), null);
  });
});

describe('HostSet', () => {
  const set = new HostSet(['api.example.com', '*.example.com', '*.eu.example.com', '*.com', 'example.org']);
  const cases: [string, string | undefined][] = [
    ['api.example.com', 'api.example.com'], // exact beats every wildcard
    ['API.example.com', 'api.example.com'],
    ['www.example.com', '*.example.com'],
    ['a.eu.example.com', '*.eu.example.com'], // longer wildcard beats shorter
    ['a.b.eu.example.com', '*.eu.example.com'],
    ['eu.example.com', '*.example.com'],
    ['example.com', '*.com'],
    ['example.org', 'example.org'],
    ['www.example.org', undefined],
    ['org', undefined],
    ['a..example.com', undefined],
  ];
  for (const [host, want] of cases) {
    test(`${host} -> ${want ?? 'no match'}`, () => assert.equal(set.match(host), want));
  }

  test('size, has, iteration', () => {
    assert.equal(set.size, 5);
    assert.ok(set.has('*.com'));
    assert.ok(!set.has('x.com'));
    assert.deepEqual([...set].sort(), ['*.com', '*.eu.example.com', '*.example.com', 'api.example.com', 'example.org']);
  });

  test('an invalid pattern is refused with INVALID_HOST', () => {
    assert.throws(
      () => new HostSet(['ok.example.com', 'foo.*.example.com']),
      (err: unknown) => {
        assert.ok(err instanceof AmbitError);
        assert.equal(err.code, 'INVALID_HOST');
        assert.equal(err.message, `Cannot add host pattern: ${WILDCARD_RULE}, got "foo.*.example.com"`);
        return true;
      },
    );
  });
});
