import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDnsServerConfig } from '../../../src/dns/index.js';
import { AmbitError } from '../../../src/errors.js';

describe('dns server config', () => {
  test('a full config becomes records and endpoints', () => {
    const c = parseDnsServerConfig({
      records: [
        { name: 'API.example.com.', type: 'A', address: '203.0.113.10' },
        { name: '*.example.org', type: 'AAAA', address: '2001:db8::1', ttl: 5 },
        { name: 'www.example.com', type: 'CNAME', target: 'api.example.com' },
        { name: 'example.com', type: 'TXT', text: 'v=spf1 -all' },
      ],
      upstream: '[::1]:5353',
      clusterDomain: 'cluster.local',
      adminSocket: '/run/ambit/x/admin.sock',
    });
    assert.deepEqual(c.records, [
      { name: 'api.example.com', class: 1, ttl: 60, type: 'A', address: '203.0.113.10' },
      { name: '*.example.org', class: 1, ttl: 5, type: 'AAAA', address: '2001:db8::1' },
      { name: 'www.example.com', class: 1, ttl: 60, type: 'CNAME', target: 'api.example.com' },
      { name: 'example.com', class: 1, ttl: 60, type: 'TXT', texts: ['v=spf1 -all'] },
    ]);
    assert.deepEqual(c.upstream, { host: '::1', port: 5353 });
    assert.equal(c.clusterDomain, 'cluster.local');
    assert.equal(c.adminSocket, '/run/ambit/x/admin.sock');
  });

  const bad: [string, unknown, string, string][] = [
    ['an unknown top-level field', { records: [], upstreams: '203.0.113.53:53' }, 'upstreams', 'Cannot load DNS server config: unknown field upstreams'],
    ['an unknown record field', { records: [{ name: 'a.example', type: 'A', address: '10.0.0.1', weight: 3 }] }, 'records[0].weight', 'Cannot load DNS server config: unknown field records[0].weight'],
    ['a field of another type', { records: [{ name: 'a.example', type: 'A', target: 'b.example' }] }, 'records[0].target', 'Cannot load DNS server config: unknown field records[0].target'],
    ['an unsupported type', { records: [{ name: 'a.example', type: 'MX' }] }, 'records[0].type', 'Cannot load DNS server config: records[0].type "MX" is not one of A, AAAA, CNAME, TXT'],
    ['an IPv6 address in an A record', { records: [{ name: 'a.example', type: 'A', address: '::1' }] }, 'records[0].address', 'Cannot load DNS server config: records[0].address "::1" is not an IPv4 address'],
    ['a mid-name wildcard', { records: [{ name: 'a.*.example', type: 'A', address: '10.0.0.1' }] }, 'records[0].name', 'Cannot load DNS server config: records[0].name "a.*.example" has a wildcard that is not the whole first label'],
    ['a 64-byte label', { records: [{ name: `${'x'.repeat(64)}.example`, type: 'A', address: '10.0.0.1' }] }, 'records[0].name', `Cannot load DNS server config: records[0].name "${'x'.repeat(64)}.example" is not a valid DNS name (Cannot encode DNS name "${'x'.repeat(64)}.example": label "${'x'.repeat(64)}" is 64 bytes (max 63))`],
    ['a negative ttl', { records: [{ name: 'a.example', type: 'A', address: '10.0.0.1', ttl: -1 }] }, 'records[0].ttl', 'Cannot load DNS server config: records[0].ttl -1 is not a TTL in seconds'],
    ['an upstream without port', { upstream: '10.0.0.53' }, 'upstream', 'Cannot parse upstream: "10.0.0.53" is not IP:PORT (e.g. 127.0.0.1:53 or [::1]:53)'],
    ['an upstream by name', { upstream: 'dns.example:53' }, 'upstream', 'Cannot parse upstream: "dns.example:53" is not IP:PORT (e.g. 127.0.0.1:53 or [::1]:53)'],
    ['clusterDomain without adminSocket', { clusterDomain: 'cluster.local' }, 'clusterDomain', 'Cannot load DNS server config: clusterDomain "cluster.local" needs adminSocket (cluster names come from the control plane)'],
    ['a non-object', [1], '(root)', 'Cannot load DNS server config: (root) [1] is not an object'],
  ];
  for (const [name, raw, path, message] of bad) {
    test(`rejects ${name}`, () => {
      assert.throws(() => parseDnsServerConfig(raw), (err: unknown) => {
        assert.ok(err instanceof AmbitError);
        assert.equal(err.code, 'DNS_CONFIG_INVALID');
        assert.equal(err.path, path);
        assert.equal(err.message, message);
        return true;
      });
    });
  }
});
