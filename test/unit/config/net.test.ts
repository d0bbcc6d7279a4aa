// IPv4 and CIDR helpers: parsing, formatting, containment and address arithmetic for IPAM.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cidrAddress,
  cidrContains,
  cidrIndexOf,
  formatCIDR,
  formatIPv4,
  isIPv4,
  parseCIDR,
  parseIPv4,
} from '../../../src/config/index.js';

describe('IPv4', () => {
  test('parse and format round-trip', () => {
    for (const [text, n] of [['0.0.0.0', 0], ['10.0.0.1', 0x0a000001], ['192.168.1.255', 0xc0a801ff], ['255.255.255.255', 0xffffffff]] as const) {
      assert.equal(parseIPv4(text), n);
      assert.equal(formatIPv4(n), text);
    }
  });

  const bad: [string, string][] = [
    ['10.0.0', 'must be an IPv4 address of four decimal octets, like "10.0.0.1"'],
    ['10.0.0.1.2', 'must be an IPv4 address of four decimal octets, like "10.0.0.1"'],
    ['10.0.0.256', 'must be an IPv4 address of four decimal octets from 0 to 255 without leading zeros'],
    ['10.0.0.01', 'must be an IPv4 address of four decimal octets from 0 to 255 without leading zeros'],
    ['10.0.0.-1', 'must be an IPv4 address of four decimal octets from 0 to 255 without leading zeros'],
    [' 10.0.0.1', 'must be an IPv4 address of four decimal octets from 0 to 255 without leading zeros'],
    ['', 'must be an IPv4 address of four decimal octets, like "10.0.0.1"'],
  ];
  for (const [text, why] of bad) {
    test(`rejects ${JSON.stringify(text)}`, () => {
      assert.equal(isIPv4(text), false);
      assert.throws(() => parseIPv4(text), { code: 'INVALID_IPV4', message: `Cannot parse IPv4 address: ${why}, got ${JSON.stringify(text)}` });
    });
  }

  test('format rejects out-of-range numbers', () => {
    assert.throws(() => formatIPv4(2 ** 32), {
      code: 'INVALID_IPV4',
      message: 'Cannot format IPv4 address: must be an integer from 0 to 4294967295, got 4294967296',
    });
  });
});

describe('CIDR', () => {
  test('parse, format, contains', () => {
    const c = parseCIDR('10.244.1.0/24');
    assert.deepEqual(c, { base: 0x0af40100, prefix: 24, size: 256 });
    assert.equal(formatCIDR(c), '10.244.1.0/24');
    assert.ok(cidrContains(c, '10.244.1.0'));
    assert.ok(cidrContains(c, '10.244.1.255'));
    assert.ok(!cidrContains(c, '10.244.2.0'));
    assert.ok(!cidrContains(c, '10.244.0.255'));
    assert.deepEqual(parseCIDR('0.0.0.0/0'), { base: 0, prefix: 0, size: 2 ** 32 });
    assert.ok(cidrContains(parseCIDR('0.0.0.0/0'), '255.255.255.255'));
    assert.deepEqual(parseCIDR('10.0.0.7/32'), { base: 0x0a000007, prefix: 32, size: 1 });
  });

  test('nth address and its inverse', () => {
    const c = parseCIDR('10.96.0.0/16');
    assert.equal(cidrAddress(c, 0), '10.96.0.0');
    assert.equal(cidrAddress(c, 10), '10.96.0.10');
    assert.equal(cidrAddress(c, 65535), '10.96.255.255');
    assert.equal(cidrIndexOf(c, '10.96.1.2'), 258);
    assert.throws(() => cidrAddress(c, 65536), {
      code: 'CIDR_OUT_OF_RANGE',
      message: 'Cannot pick address 65536 of 10.96.0.0/16: must be an integer from 0 to 65535',
    });
    assert.throws(() => cidrIndexOf(c, '10.97.0.0'), {
      code: 'CIDR_OUT_OF_RANGE',
      message: 'Cannot locate "10.97.0.0" in 10.96.0.0/16: outside the block',
    });
  });

  const bad: [string, string][] = [
    ['10.0.0.0', 'must be an IPv4 CIDR like "10.96.0.0/16"'],
    ['10.0.0/8', 'must be an IPv4 CIDR like "10.96.0.0/16"'],
    ['10.0.0.0/33', 'must be an IPv4 CIDR with a prefix length from 0 to 32'],
    ['10.0.0.0/08', 'must be an IPv4 CIDR with a prefix length from 0 to 32'],
    ['10.0.0.0/', 'must be an IPv4 CIDR with a prefix length from 0 to 32'],
    ['10.0.0.1/24', 'must have no host bits set (did you mean "10.0.0.0/24"?)'],
    ['10.96.5.0/16', 'must have no host bits set (did you mean "10.96.0.0/16"?)'],
  ];
  for (const [text, why] of bad) {
    test(`rejects ${JSON.stringify(text)}`, () => {
      assert.throws(() => parseCIDR(text), { code: 'INVALID_CIDR', message: `Cannot parse CIDR: ${why}, got ${JSON.stringify(text)}` });
    });
  }
});
