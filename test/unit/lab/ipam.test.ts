import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { PodIpam, parseCidr, parseIPv4, formatIPv4, cidrContains } from '../../../src/lab/ipam.js';
import { AmbitError } from '../../../src/errors.js';

function code(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AmbitError);
    return { code: err.code, message: err.message };
  }
  assert.fail('expected an AmbitError');
}

describe('IPv4 math', () => {
  test('parses and formats', () => {
    assert.equal(formatIPv4(parseIPv4('10.244.1.7')), '10.244.1.7');
    assert.equal(parseIPv4('255.255.255.255'), 0xffffffff);
    assert.equal(parseIPv4('0.0.0.1'), 1);
  });
  test('rejects bad addresses with the value', () => {
    for (const bad of ['10.0.0', '10.0.0.256', '010.0.0.1', 'a.b.c.d', '1.2.3.4.5']) {
      assert.deepEqual(code(() => parseIPv4(bad, 'x.address')), {
        code: 'LAB_BAD_ADDRESS',
        message: `Cannot parse x.address: "${bad}" is not a dotted IPv4 address`,
      });
    }
  });
  test('CIDRs', () => {
    const c = parseCidr('10.244.1.0/24');
    assert.equal(cidrContains(c, parseIPv4('10.244.1.255')), true);
    assert.equal(cidrContains(c, parseIPv4('10.244.2.0')), false);
    assert.deepEqual(code(() => parseCidr('10.244.1.1/24', 'podCIDR')), {
      code: 'LAB_BAD_CIDR',
      message: 'Cannot parse podCIDR: "10.244.1.1/24" has host bits set',
    });
    assert.equal(code(() => parseCidr('10.0.0.0/33')).code, 'LAB_BAD_CIDR');
  });
});

describe('PodIpam', () => {
  test('hands out addresses in order, skipping network and broadcast', () => {
    const ipam = new PodIpam('10.244.1.0/30');
    assert.equal(ipam.allocate('a'), '10.244.1.1');
    assert.equal(ipam.allocate('b'), '10.244.1.2');
    assert.deepEqual(code(() => ipam.allocate('c')), {
      code: 'LAB_IPAM_EXHAUSTED',
      message: 'Cannot allocate a pod IP for c: every address of 10.244.1.0/30 is in use',
    });
  });

  test('does not reuse a freed address until the range wraps', () => {
    const ipam = new PodIpam('10.244.1.0/29'); // hosts .1-.6
    assert.equal(ipam.allocate('a'), '10.244.1.1');
    assert.equal(ipam.allocate('b'), '10.244.1.2');
    ipam.release('10.244.1.1');
    assert.equal(ipam.allocate('c'), '10.244.1.3');
    assert.equal(ipam.allocate('d'), '10.244.1.4');
    assert.equal(ipam.allocate('e'), '10.244.1.5');
    assert.equal(ipam.allocate('f'), '10.244.1.6');
    assert.equal(ipam.allocate('g'), '10.244.1.1', 'wraps to the freed address');
  });

  test('reuseFreed hands out the most recently freed address at once', () => {
    const ipam = new PodIpam('10.244.1.0/24', true);
    ipam.allocate('a');
    ipam.allocate('b');
    ipam.allocate('c');
    ipam.release('10.244.1.1');
    ipam.release('10.244.1.2');
    assert.equal(ipam.allocate('d'), '10.244.1.2');
    assert.equal(ipam.allocate('e'), '10.244.1.1');
    assert.equal(ipam.allocate('f'), '10.244.1.4');
  });

  test('exact requests: in range, free, or a clear error', () => {
    const ipam = new PodIpam('10.244.1.0/24');
    assert.equal(ipam.allocate('a', '10.244.1.50'), '10.244.1.50');
    assert.equal(ipam.allocate('a', '10.244.1.50'), '10.244.1.50', 'same owner may ask again');
    assert.deepEqual(code(() => ipam.allocate('b', '10.244.1.50')), {
      code: 'LAB_IPAM_IN_USE',
      message: 'Cannot allocate metadata.annotations["ambit.dev/pod-ip"]: "10.244.1.50" is in use by pod a',
    });
    assert.deepEqual(code(() => ipam.allocate('b', '10.244.2.5')), {
      code: 'LAB_IPAM_OUT_OF_RANGE',
      message: 'Cannot allocate metadata.annotations["ambit.dev/pod-ip"]: "10.244.2.5" is not a usable address of the node\'s pod CIDR 10.244.1.0/24',
    });
    assert.equal(code(() => ipam.allocate('b', '10.244.1.255')).code, 'LAB_IPAM_OUT_OF_RANGE');
    assert.equal(code(() => ipam.allocate('b', '10.244.1.0')).code, 'LAB_IPAM_OUT_OF_RANGE');
    assert.equal(code(() => ipam.allocate('b', 'nope')).code, 'LAB_BAD_ADDRESS');
  });

  test('a freed exact address can be requested again by someone else', () => {
    const ipam = new PodIpam('10.244.1.0/24');
    ipam.allocate('a', '10.244.1.9');
    ipam.release('10.244.1.9');
    assert.equal(ipam.allocate('b', '10.244.1.9'), '10.244.1.9');
    assert.equal(ipam.ownerOf('10.244.1.9'), 'b');
  });

  test('snapshot and restore keep cursor, owners and the freed list', () => {
    const ipam = new PodIpam('10.244.1.0/24', true);
    ipam.allocate('a');
    ipam.allocate('b');
    ipam.release('10.244.1.1');
    const back = PodIpam.restore(JSON.parse(JSON.stringify(ipam.snapshot())));
    assert.deepEqual(back.snapshot(), ipam.snapshot());
    assert.equal(back.allocate('c'), '10.244.1.1');
    assert.equal(back.allocate('d'), '10.244.1.3');
  });

  test('rejects a CIDR too small for pods', () => {
    assert.deepEqual(code(() => new PodIpam('10.244.1.0/31')), {
      code: 'LAB_BAD_CIDR',
      message: 'Cannot use podCIDR "10.244.1.0/31": it must hold at least 2 addresses (prefix /30 or shorter)',
    });
  });
});
