import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatAuthority, parseAuthority } from '../../../src/hbone/index.js';
import { AmbitError } from '../../../src/errors.js';

describe('parseAuthority', () => {
  const good: [string, string, number][] = [
    ['10.44.0.7:8080', '10.44.0.7', 8080],
    ['127.0.0.1:1', '127.0.0.1', 1],
    ['0.0.0.0:65535', '0.0.0.0', 65535],
    ['[::1]:80', '::1', 80],
    ['[fd00:10:44::7]:15008', 'fd00:10:44::7', 15008],
  ];
  for (const [input, host, port] of good) {
    test(`accepts ${input}`, () => {
      assert.deepEqual(parseAuthority(input), { host, port });
      assert.equal(formatAuthority({ host, port }), input);
    });
  }

  const bad: [unknown, string][] = [
    ['backend.shop.svc:8080', 'Cannot parse :authority "backend.shop.svc:8080": "backend.shop.svc" is not an IPv4 address (host names are not allowed)'],
    ['10.44.0.7', 'Cannot parse :authority "10.44.0.7": the port is missing'],
    ['10.44.0.7:0', 'Cannot parse :authority "10.44.0.7:0": port "0" must be a number from 1 to 65535'],
    ['10.44.0.7:65536', 'Cannot parse :authority "10.44.0.7:65536": port "65536" must be a number from 1 to 65535'],
    ['10.44.0.7:080', 'Cannot parse :authority "10.44.0.7:080": port "080" must be a number from 1 to 65535'],
    ['10.44.0.7:+80', 'Cannot parse :authority "10.44.0.7:+80": port "+80" must be a number from 1 to 65535'],
    ['10.44.0.7:', 'Cannot parse :authority "10.44.0.7:": port "" must be a number from 1 to 65535'],
    ['010.44.0.7:80', 'Cannot parse :authority "010.44.0.7:80": "010.44.0.7" is not an IPv4 address (host names are not allowed)'],
    ['::1:80', 'Cannot parse :authority "::1:80": "::1" is not an IPv4 address (host names are not allowed)'],
    ['[::1]', 'Cannot parse :authority "[::1]": an IPv6 address must be written "[address]:port"'],
    ['[::1]80', 'Cannot parse :authority "[::1]80": an IPv6 address must be written "[address]:port"'],
    ['[10.0.0.1]:80', 'Cannot parse :authority "[10.0.0.1]:80": "10.0.0.1" is not an IPv6 address'],
    ['[fe80::1%eth0]:80', 'Cannot parse :authority "[fe80::1%eth0]:80": "fe80::1%eth0" is not an IPv6 address'],
    ['user@10.0.0.1:80', 'Cannot parse :authority "user@10.0.0.1:80": "user@10.0.0.1" is not an IPv4 address (host names are not allowed)'],
    ['', 'Cannot parse :authority "": must be "IPv4:port" or "[IPv6]:port"'],
    [undefined, 'Cannot parse :authority undefined: must be "IPv4:port" or "[IPv6]:port"'],
  ];
  for (const [input, message] of bad) {
    test(`rejects ${JSON.stringify(input)}`, () => {
      assert.throws(() => parseAuthority(input), (err: unknown) => {
        assert.ok(err instanceof AmbitError);
        assert.equal(err.code, 'HBONE_BAD_AUTHORITY');
        assert.equal(err.message, message);
        assert.equal(err.path, ':authority');
        assert.equal(err.value, input);
        return true;
      });
    });
  }
});
