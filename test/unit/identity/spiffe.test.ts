import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AmbitError } from '../../../src/errors.js';
import { parseSpiffeId, toPrincipal, trustDomainId, workloadId } from '../../../src/identity/index.js';

const good: [string, { trustDomain: string; path: string; namespace?: string; serviceAccount?: string }][] = [
  ['spiffe://cluster.local/ns/default/sa/web', { trustDomain: 'cluster.local', path: '/ns/default/sa/web', namespace: 'default', serviceAccount: 'web' }],
  ['spiffe://cluster.local', { trustDomain: 'cluster.local', path: '' }],
  ['spiffe://a_b-c.9/Some.Path/x_Y-z', { trustDomain: 'a_b-c.9', path: '/Some.Path/x_Y-z' }],
  ['spiffe://td/ns/a/sa/b/extra', { trustDomain: 'td', path: '/ns/a/sa/b/extra' }],
  ['spiffe://td/ns/a/sb/b', { trustDomain: 'td', path: '/ns/a/sb/b' }],
  ['spiffe://td/...', { trustDomain: 'td', path: '/...' }],
  [`spiffe://${'a'.repeat(255)}/x`, { trustDomain: 'a'.repeat(255), path: '/x' }],
];

const bad: [string, string][] = [
  ['', 'is empty'],
  ['http://cluster.local/ns/a/sa/b', 'scheme must be "spiffe://"'],
  ['spiffe:/cluster.local', 'scheme must be "spiffe://"'],
  ['SPIFFE://cluster.local/ns/a/sa/b', 'scheme must be lower-case "spiffe://"'],
  ['Spiffe://cluster.local', 'scheme must be lower-case "spiffe://"'],
  ['spiffe://', 'trust domain is empty'],
  ['spiffe:///ns/a/sa/b', 'trust domain is empty'],
  ['spiffe://user@cluster.local/ns/a', 'user info ("@") is not allowed'],
  ['spiffe://cluster.local:8080/ns/a', 'a port is not allowed in the trust domain'],
  ['spiffe://Cluster.local/ns/a', 'trust domain must be lower-case'],
  ['spiffe://clu ster/ns/a', 'trust domain character " " is not allowed (only a-z 0-9 . - _)'],
  ['spiffe://clus+ter/ns/a', 'trust domain character "+" is not allowed (only a-z 0-9 . - _)'],
  [`spiffe://${'a'.repeat(256)}`, 'trust domain is longer than 255 characters'],
  ['spiffe://td/', 'path must not end with "/"'],
  ['spiffe://td/ns/a/', 'path must not end with "/"'],
  ['spiffe://td//ns', 'path has an empty segment ("//")'],
  ['spiffe://td/ns//a', 'path has an empty segment ("//")'],
  ['spiffe://td/./a', 'path segment "." is not allowed'],
  ['spiffe://td/a/..', 'path segment ".." is not allowed'],
  ['spiffe://td/a?b=c', 'a query ("?") is not allowed'],
  ['spiffe://td/a#frag', 'a fragment ("#") is not allowed'],
  ['spiffe://td/a%20b', 'percent-encoding ("%") is not allowed'],
  ['spiffe://td/a b', 'path character " " is not allowed (only a-z A-Z 0-9 . - _)'],
  ['spiffe://td/a:b', 'path character ":" is not allowed (only a-z A-Z 0-9 . - _)'],
  ['spiffe://td/é', 'path character "é" is not allowed (only a-z A-Z 0-9 . - _)'],
  [`spiffe://td/${'a'.repeat(2048)}`, 'is longer than 2048 bytes'],
];

describe('parseSpiffeId', () => {
  for (const [input, want] of good) {
    test(`accepts ${input.slice(0, 60)}`, () => {
      const id = parseSpiffeId(input);
      assert.equal(id.uri, input);
      assert.equal(id.trustDomain, want.trustDomain);
      assert.equal(id.path, want.path);
      assert.equal(id.namespace, want.namespace);
      assert.equal(id.serviceAccount, want.serviceAccount);
    });
  }
  for (const [input, reason] of bad) {
    test(`rejects ${JSON.stringify(input).slice(0, 50)}: ${reason}`, () => {
      assert.throws(() => parseSpiffeId(input), (err: unknown) => {
        assert.ok(err instanceof AmbitError);
        assert.equal(err.code, 'SPIFFE_ID_INVALID');
        const shown = JSON.stringify(input);
        const expected = shown.length > 120 ? `${shown.slice(0, 117)}...` : shown;
        assert.equal(err.message, `Cannot parse SPIFFE ID ${expected}: ${reason}`);
        assert.equal(err.value, input);
        return true;
      });
    });
  }
  test('a 2048-byte ID is accepted, 2049 is not', () => {
    const base = 'spiffe://td/';
    assert.equal(parseSpiffeId(base + 'a'.repeat(2048 - base.length)).uri.length, 2048);
    assert.throws(() => parseSpiffeId(base + 'a'.repeat(2049 - base.length)), { code: 'SPIFFE_ID_INVALID' });
  });
  test('rejects a non-string from untyped callers', () => {
    assert.throws(() => parseSpiffeId(42 as unknown as string), { code: 'SPIFFE_ID_INVALID', message: 'Cannot parse SPIFFE ID 42: not a string' });
  });
});

describe('workloadId / toPrincipal / trustDomainId', () => {
  test('builds a workload identity and its Istio principal', () => {
    const id = workloadId('cluster.local', 'shop', 'cart');
    assert.deepEqual(id, { trustDomain: 'cluster.local', path: '/ns/shop/sa/cart', uri: 'spiffe://cluster.local/ns/shop/sa/cart', namespace: 'shop', serviceAccount: 'cart' });
    assert.equal(toPrincipal(id), 'cluster.local/ns/shop/sa/cart');
  });
  test('validates its parts', () => {
    assert.throws(() => workloadId('cluster.local', 'a/b', 'c'), {
      code: 'SPIFFE_ID_INVALID',
      message: 'Cannot parse SPIFFE ID "spiffe://cluster.local/ns/a/b/sa/c": namespace "a/b" and service account "c" must each be a single path segment',
    });
    assert.throws(() => workloadId('cluster.local', 'ns', 'x/sa/y'), { code: 'SPIFFE_ID_INVALID' });
    assert.throws(() => workloadId('Bad', 'a', 'c'), { message: 'Cannot parse SPIFFE ID "spiffe://Bad/ns/a/sa/c": trust domain must be lower-case' });
  });
  test('trust domain ID has an empty path', () => {
    assert.deepEqual(trustDomainId('example.org'), { trustDomain: 'example.org', path: '', uri: 'spiffe://example.org' });
  });
});
