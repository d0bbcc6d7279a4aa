// The pure checks behind the gateway's hardening, table by table: which upstream addresses are
// forbidden (SSRF), where an allowed connection goes (STATIC endpoints, DNS endpoints, targetPort),
// the Host port on every originated request, and a ClientHello carrying ECH.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { addressProblem, checkUpstreamAddresses, forbiddenRanges, upstreamTarget, parseClientHello, RequestHostGuard } from '../../../src/egress/index.js';
import { readFirstBytesOrNeed } from '../../../src/egress/first-bytes.js';
import type { WireServiceEntry } from '../../../src/stream/resources.js';
import { alpn, hello, serverName, supportedVersions, u16, vec16 } from './hello-builder.js';

describe('forbidden upstream addresses', () => {
  const ranges = forbiddenRanges({ podCIDRs: ['10.244.1.0/24', '10.244.2.0/24'], serviceCIDR: '10.96.0.0/16', controlPlane: '10.0.0.10' });
  const cases: [ip: string, problem: string | undefined][] = [
    ['0.0.0.0', 'it is in 0.0.0.0/8 ("this network")'],
    ['0.255.255.255', 'it is in 0.0.0.0/8 ("this network")'],
    ['127.0.0.1', 'it is in 127.0.0.0/8 (loopback: the gateway\'s own ports)'],
    ['127.255.0.9', 'it is in 127.0.0.0/8 (loopback: the gateway\'s own ports)'],
    ['169.254.169.254', 'it is in 169.254.0.0/16 (link-local: metadata services)'],
    ['224.0.0.1', 'it is in 224.0.0.0/4 (multicast)'],
    ['239.255.255.255', 'it is in 224.0.0.0/4 (multicast)'],
    ['240.240.0.7', 'it is in 240.0.0.0/4 (reserved, holds the egress VIPs)'],
    ['255.255.255.255', 'it is in 240.0.0.0/4 (reserved, holds the egress VIPs)'],
    ['10.244.1.9', 'it is in 10.244.1.0/24 (the mesh\'s pod CIDR)'],
    ['10.244.2.255', 'it is in 10.244.2.0/24 (the mesh\'s pod CIDR)'],
    ['10.96.0.1', 'it is in 10.96.0.0/16 (the mesh\'s service CIDR)'],
    ['10.0.0.10', 'it is in 10.0.0.10/32 (the control plane)'],
    ['::1', 'it is not an IPv4 address (only IPv4 upstreams are checked, so only they are dialled)'],
    ['127.0.0.01', 'it is not an IPv4 address (only IPv4 upstreams are checked, so only they are dialled)'],
    // Allowed: the lab's internet (RFC 5737), private ranges outside the mesh, public addresses, neighbours.
    ['203.0.113.9', undefined],
    ['198.51.100.1', undefined],
    ['192.0.2.1', undefined],
    ['10.244.3.1', undefined],
    ['10.0.0.11', undefined],
    ['10.97.0.1', undefined],
    ['192.168.1.1', undefined],
    ['172.16.0.1', undefined],
    ['203.0.113.77', undefined],
    ['126.255.255.255', undefined],
    ['128.0.0.0', undefined],
    ['169.253.255.255', undefined],
    ['223.255.255.255', undefined],
  ];
  for (const [ip, problem] of cases) {
    test(`${ip}: ${problem ?? 'allowed'}`, () => assert.equal(addressProblem(ip, ranges), problem));
  }

  test('loopback can be let through for one-machine tests; the control plane stays forbidden', () => {
    const loop = forbiddenRanges({ allowLoopback: true, controlPlane: '127.0.0.1' });
    assert.equal(addressProblem('127.0.0.2', loop), undefined);
    assert.equal(addressProblem('127.0.0.1', loop), 'it is in 127.0.0.1/32 (the control plane)');
    assert.equal(addressProblem('169.254.169.254', loop), 'it is in 169.254.0.0/16 (link-local: metadata services)');
  });

  test('every answer counts, not only the first; the error names the host and the address', () => {
    assert.doesNotThrow(() => checkUpstreamAddresses('a.example.com', ['203.0.113.9', '203.0.113.10'], ranges));
    assert.throws(() => checkUpstreamAddresses('a.example.com', ['203.0.113.9', '127.0.0.1'], ranges), {
      code: 'EGRESS_ADDRESS_FORBIDDEN',
      message: 'Cannot dial "a.example.com" at 127.0.0.1: it is in 127.0.0.0/8 (loopback: the gateway\'s own ports)',
    });
  });

  test('a malformed mesh CIDR is an error (the version is NACKed), not a silently shorter list', () => {
    assert.throws(() => forbiddenRanges({ podCIDRs: ['10.244.1.1/24'] }), { code: 'INVALID_CIDR' });
  });
});

describe('upstream target', () => {
  const entry = (spec: Partial<WireServiceEntry['spec']>): WireServiceEntry => ({
    name: 'e', namespace: 'shop',
    spec: { hosts: ['api.example.com'], ports: [{ number: 443, name: 'tls', protocol: 'TLS' }], resolution: 'DNS', location: 'MESH_EXTERNAL', endpoints: [], ...spec },
  });
  const cases: [name: string, req: Parameters<typeof upstreamTarget>[0], want: ReturnType<typeof upstreamTarget>][] = [
    ['ALLOW_ANY without an entry: the host, the tunnel port', { host: 'x.example.org', port: 8443, entry: undefined }, { names: ['x.example.org'], port: 8443 }],
    ['DNS: the host, the tunnel port', { host: 'api.example.com', port: 443, entry: entry({}) }, { names: ['api.example.com'], port: 443 }],
    ['DNS with endpoints: their names, not the host', { host: 'api.example.com', port: 443, entry: entry({ endpoints: [{ address: 'a.backend.example' }, { address: '203.0.113.7' }] }) }, { names: ['a.backend.example', '203.0.113.7'], port: 443 }],
    ['STATIC: the endpoints only', { host: 'api.example.com', port: 443, entry: entry({ resolution: 'STATIC', endpoints: [{ address: '203.0.113.9' }, { address: '203.0.113.10' }] }) }, { addresses: ['203.0.113.9', '203.0.113.10'], port: 443 }],
    ['TLS targetPort', { host: 'api.example.com', port: 443, entry: entry({ ports: [{ number: 443, name: 'tls', protocol: 'TLS', targetPort: 8443 }] }) }, { names: ['api.example.com'], port: 8443 }],
    ['TCP targetPort', { host: 'api.example.com', port: 5432, entry: entry({ ports: [{ number: 5432, name: 'pg', protocol: 'TCP', targetPort: 15432 }] }) }, { names: ['api.example.com'], port: 15432 }],
    ['HTTPS targetPort with STATIC', { host: 'api.example.com', port: 443, entry: entry({ resolution: 'STATIC', endpoints: [{ address: '203.0.113.9' }], ports: [{ number: 443, name: 'https', protocol: 'HTTPS', targetPort: 9443 }] }) }, { addresses: ['203.0.113.9'], port: 9443 }],
    ['targetPort of the tunnel\'s port, not another port of the entry', { host: 'api.example.com', port: 443, entry: entry({ ports: [{ number: 8443, name: 'alt', protocol: 'TLS', targetPort: 1 }, { number: 443, name: 'tls', protocol: 'TLS' }] }) }, { names: ['api.example.com'], port: 443 }],
    ['origination: the HTTP port\'s targetPort beats the configured port', { host: 'api.example.com', port: 80, originationPort: 443, entry: entry({ ports: [{ number: 80, name: 'http', protocol: 'HTTP', targetPort: 8443 }] }) }, { names: ['api.example.com'], port: 8443 }],
    ['origination without targetPort: the configured port', { host: 'api.example.com', port: 80, originationPort: 443, entry: entry({ ports: [{ number: 80, name: 'http', protocol: 'HTTP' }] }) }, { names: ['api.example.com'], port: 443 }],
  ];
  for (const [name, req, want] of cases) test(name, () => assert.deepEqual(upstreamTarget(req), want));

  test('a stored entry that cannot be honoured (from before apply refused it) is refused, never guessed', () => {
    const none = entry({}) as unknown as { spec: Record<string, unknown> };
    none.spec.resolution = 'NONE';
    assert.throws(() => upstreamTarget({ host: 'api.example.com', port: 443, entry: none as unknown as WireServiceEntry }), {
      code: 'EGRESS_SERVICE_ENTRY_UNSUPPORTED',
      message: 'Cannot reach ServiceEntry shop/e: spec.resolution "NONE" cannot be honoured (apply it again to see why)',
    });
    const internal = entry({}) as unknown as { spec: Record<string, unknown> };
    internal.spec.location = 'MESH_INTERNAL';
    assert.throws(() => upstreamTarget({ host: 'api.example.com', port: 443, entry: internal as unknown as WireServiceEntry }), { code: 'EGRESS_SERVICE_ENTRY_UNSUPPORTED' });
  });
});

describe('Host port on every originated request', () => {
  const req = (host: string): Buffer => Buffer.from(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  const cases: [name: string, heads: string[], code: string | undefined][] = [
    ['no port, twice', ['plain.example.com', 'plain.example.com'], undefined],
    ['the tunnel port, then none', ['plain.example.com:80', 'plain.example.com'], undefined],
    ['first request, another port', ['plain.example.com:8080'], 'EGRESS_HOST_MISMATCH'],
    ['second request, another port', ['plain.example.com', 'plain.example.com:8080'], 'EGRESS_PIPELINED_HOST'],
    ['third request, another port', ['plain.example.com', 'plain.example.com:80', 'plain.example.com:81'], 'EGRESS_PIPELINED_HOST'],
  ];
  for (const [name, hosts, code] of cases) {
    test(name, () => {
      const guard = new RequestHostGuard('plain.example.com', 80);
      const run = (): void => {
        for (const h of hosts) guard.feed(req(h));
      };
      if (code === undefined) assert.doesNotThrow(run);
      else assert.throws(run, { code });
    });
  }

  test('the message names both ports', () => {
    const guard = new RequestHostGuard('plain.example.com', 80);
    guard.feed(req('plain.example.com'));
    assert.throws(() => guard.feed(req('plain.example.com:8080')), {
      message: 'Cannot forward egress HTTP: request 2 names Host port 8080, but this connection is for port 80',
    });
  });
});

describe('ECH', () => {
  const ech = (): [number, Buffer] => [0xfe0d, Buffer.concat([Buffer.from([0]), u16(1), u16(1), Buffer.from([7]), vec16(Buffer.alloc(32, 1)), vec16(Buffer.alloc(64, 2))])];
  test('a ClientHello with encrypted_client_hello is refused, wherever the extension is', () => {
    for (const exts of [[serverName('api.example.com'), ech()], [ech(), serverName('api.example.com'), alpn('h2')], [supportedVersions(0x0304), ech()]]) {
      assert.throws(() => parseClientHello(hello(exts)), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'TLS_ECH_REFUSED');
        assert.match(err.message, /^Cannot read ClientHello: extension 65037 \(encrypted_client_hello\) at offset \d+ hides the real server name/);
        return true;
      });
    }
  });
  test('without it the same hello parses (the check is on the extension, not on the rest)', () => {
    const r = parseClientHello(hello([serverName('api.example.com'), alpn('h2')]));
    assert.equal(r.kind === 'complete' && r.sni, 'api.example.com');
  });
});

describe('RequestHostGuard: bodies pass as they come, whatever the write sizes', () => {
  const host = 'plain.example.com';
  const body = ['5\r\nhello\r\n', '1a;ext=1\r\n', 'x'.repeat(26), '\r\n', '0\r\n', 'Trailer: t\r\n', '\r\n'].join('');
  const first = `POST /up HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n${body}`;
  const second = `GET /next HTTP/1.1\r\nHost: ${host}\r\n\r\n`;

  for (const size of [1, 2, 3, 7, 64, 4096]) {
    test(`two requests, chunked then plain, written ${size} byte(s) at a time, pass whole and in order`, () => {
      const guard = new RequestHostGuard(host, 80);
      const all = Buffer.from(first + second);
      const out: Buffer[] = [];
      for (let i = 0; i < all.length; i += size) out.push(...guard.feed(all.subarray(i, i + size)));
      assert.equal(Buffer.concat(out).toString(), first + second);
      assert.equal(guard.holding, false);
    });
  }

  test('chunk data passes before its chunk ends: only a chunk line not yet whole is held', () => {
    const guard = new RequestHostGuard(host, 80);
    const out = guard.feed(Buffer.from(`POST / HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel`));
    assert.match(Buffer.concat(out).toString(), /\r\n5\r\nhel$/);
    assert.equal(guard.holding, false);
    assert.equal(Buffer.concat(guard.feed(Buffer.from('lo\r\n1'))).toString(), 'lo\r\n', 'the "1" of the next size line is held');
    assert.equal(guard.holding, true);
  });

  test('a chunked body of 3 MB, more than the old 1 MiB hold, goes through; a pipelined request to another host after it is still refused', () => {
    const guard = new RequestHostGuard(host, 80);
    const chunk = `100000\r\n${'y'.repeat(0x100000)}\r\n`;
    let passed = 0;
    for (const b of guard.feed(Buffer.from(`POST / HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n`))) passed += b.length;
    for (let i = 0; i < 3; i++) for (const b of guard.feed(Buffer.from(chunk))) passed += b.length;
    for (const b of guard.feed(Buffer.from('0\r\n\r\n'))) passed += b.length;
    assert.ok(passed > 3 * 0x100000);
    assert.throws(() => guard.feed(Buffer.from('GET / HTTP/1.1\r\nHost: evil.example.com\r\n\r\n')), { code: 'EGRESS_PIPELINED_HOST' });
  });

  test('bad chunk framing and a bare LF in a head split over writes are still refused', () => {
    const g1 = new RequestHostGuard(host, 80);
    g1.feed(Buffer.from(`POST / HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab`));
    assert.throws(() => g1.feed(Buffer.from('X\r\n')), { code: 'HTTP_MALFORMED', message: /chunk data at byte 5 of the body is not followed by CRLF/ });
    const g2 = new RequestHostGuard(host, 80);
    g2.feed(Buffer.from('GET / HTTP/1.1\r\nHo'));
    assert.throws(() => g2.feed(Buffer.from(`st: ${host}\n\r\n`)), { code: 'HTTP_MALFORMED' });
  });
});

describe('first bytes held across many writes are parsed only when they can be whole', () => {
  // A caller loop like EgressConnection's: parse again only once `need` more bytes are held.
  const feedByteWise = (all: Buffer, step: number): { parses: number; sni?: string } => {
    let held = 0;
    let parseAt = 0;
    let parses = 0;
    for (let end = step; ; end += step) {
      held = Math.min(end, all.length);
      if (held >= parseAt) {
        parses++;
        const r = readFirstBytesOrNeed(all.subarray(0, held));
        if (!('need' in r)) return { parses, sni: r.kind === 'tls' ? r.sni : undefined };
        parseAt = held + r.need;
      }
      if (held === all.length) return { parses };
    }
  };

  test('a ClientHello cut into 1-byte records, written a record at a time: routed, in a few dozen parses, not one per record', () => {
    const all = hello([serverName('api.example.com'), alpn('h2')], 1);
    const records = all.length / 6;
    const r = feedByteWise(all, 6);
    assert.equal(r.sni, 'api.example.com');
    assert.ok(r.parses < records / 4, `${r.parses} parses for ${records} records`);
  });

  test('need never overshoots: the same ClientHello in one record, written a byte at a time, is routed the moment its last byte is held', () => {
    const all = hello([serverName('api.example.com')]);
    let parseAt = 0;
    for (let n = 1; n <= all.length; n++) {
      if (n < parseAt) continue;
      const r = readFirstBytesOrNeed(all.subarray(0, n));
      if ('need' in r) {
        assert.ok(n + r.need <= all.length, `at ${n} held, need ${r.need} would pass the end (${all.length})`);
        parseAt = n + r.need;
      } else {
        assert.equal(n, all.length);
        return;
      }
    }
    assert.fail('never routed');
  });
});
