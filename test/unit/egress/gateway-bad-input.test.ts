// Hostile and broken first bytes at the egress gateway: each is refused (the tunnel is reset with
// CONNECT_ERROR) and audited with its reason, while a good tunnel on the same gateway keeps
// working. Also the DNS-backed resolver against a real DNS server on loopback.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientHttp2Session } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { DnsServer, StaticZone } from '../../../src/dns/index.js';
import { dnsResolver } from '../../../src/egress/index.js';
import { nodeClientHello } from './capture.js';
import { drain, httpGet, meshSession, openTunnel, recordFor, startHarness, tlsThrough, type Harness } from './gateway-harness.js';
import { hello, serverName, supportedVersions } from './hello-builder.js';

describe('egress gateway refuses bad first bytes', () => {
  let h: Harness;
  let sa: ClientHttp2Session;
  let good: TLSSocket;
  before(async () => {
    h = await startHarness();
    sa = await meshSession(h, h.a);
    const { stream } = await openTunnel(sa, `api.example.com:${h.external.port}`);
    good = await tlsThrough(stream, 'api.example.com', h.externalRootPem);
    assert.equal(await httpGet(good, 'api.example.com', false), 'hello api.example.com sni=api.example.com at 127.0.0.1');
  });
  after(async () => {
    // end(), not destroy(): on Node 20.20 destroying a client HTTP/2 stream (here through the TLS
    // socket on top of it) at the wrong moment can spin in nghttp2 (see gateway.test.ts).
    good?.end();
    sa?.close();
    await h?.close();
  });

  test('each bad input is reset and logged with its reason while a concurrent good tunnel keeps working', async () => {
    const P = h.external.port;
    const realHello = await nodeClientHello({ servername: 'api.example.com' });
    const cases: { authority: string; send: Buffer | string; end?: boolean; code: string; reason: RegExp }[] = [
      { authority: `api.example.com:${P}`, send: realHello.subarray(0, 40), end: true, code: 'EGRESS_FIRST_BYTES_TRUNCATED',
        reason: /^Cannot route egress tunnel: the client closed after a truncated ClientHello \(40 bytes\)$/ },
      { authority: `api.example.com:${P}`, send: hello([serverName('api.example.com'), [0xffaa, Buffer.alloc(20_000)]]), code: 'TLS_CLIENT_HELLO_TOO_LARGE',
        reason: /16384/ },
      { authority: `api.example.com:${P}`, send: hello([supportedVersions(0x0304)]), code: 'EGRESS_SNI_MISSING',
        reason: /^Cannot route egress TLS: the ClientHello has no server_name \(SNI\)$/ },
      { authority: `api.example.com:${P}`, send: hello([serverName('api.exa mple.com')]), code: 'TLS_SNI_INVALID', reason: /server_name|SNI/i },
      { authority: `api.example.com:${P}`, send: Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0d, 0x0a, 0x0d, 0x0a]), code: 'HTTP_MALFORMED', reason: /^Cannot read HTTP request head/ },
      { authority: 'plain.example.com:80', send: 'GET / HTTP/1.1\r\nAccept: */*\r\n\r\n', code: 'HTTP_HOST_MISSING', reason: /Host/ },
      { authority: 'plain.example.com:80', send: 'GET / HTTP/1.1\r\nHost: plain.example.com\r\n\r\nGET /x HTTP/1.1\r\nHost: other.example.com\r\n\r\n', code: 'EGRESS_PIPELINED_HOST',
        reason: /^Cannot forward egress HTTP: request 2 names Host "other\.example\.com", but this connection is for "plain\.example\.com"$/ },
      { authority: `api.example.com:${P}`, send: '', code: 'EGRESS_FIRST_BYTES_TIMEOUT', reason: /^Cannot route egress tunnel: no ClientHello or request head within 2000 ms \(got 0 bytes\)$/ },
    ];
    const outcomes = await Promise.all(cases.map(async (c) => {
      const { status, stream } = await openTunnel(sa, c.authority);
      assert.equal(status, 200);
      const out = drain(stream);
      if (c.send.length > 0) stream.write(c.send);
      if (c.end) stream.end();
      return out;
    }));
    for (const [i, c] of cases.entries()) {
      // A client that already sent END_STREAM sees the reset as a plain close (rstCode 0).
      assert.equal(outcomes[i]!.rstCode, c.end ? 0 : 10, `${c.code}: tunnel reset with CONNECT_ERROR`);
      assert.equal(outcomes[i]!.data, '', `${c.code}: nothing came back`);
      const r = await recordFor(h, (x) => x.code === c.code);
      assert.equal(r.verdict, 'refused', c.code);
      assert.equal(r.source, h.a.spiffeId, c.code);
      assert.equal(r.authority, c.authority, c.code);
      assert.match(r.reason, c.reason, c.code);
    }
    // Nothing from the pipelined pair reached the external server, not even the allowed first request.
    assert.deepEqual(h.external.seen, ['api.example.com api.example.com']);
    // Only the good tunnel and the pipelined pair (decided on its first head) dialed out.
    assert.deepEqual(h.dials.length, 2);
    assert.equal(await httpGet(good, 'api.example.com'), 'hello api.example.com sni=api.example.com at 127.0.0.1');
    assert.deepEqual(h.external.seen, ['api.example.com api.example.com', 'api.example.com api.example.com']);
  });
});

describe('dnsResolver', () => {
  let dns: DnsServer;
  let resolve: ReturnType<typeof dnsResolver>;
  before(async () => {
    dns = new DnsServer({ zones: [new StaticZone([
      { name: 'api.example.com', type: 'A', class: 1, ttl: 60, address: '127.0.0.1' },
      { name: 'www.example.com', type: 'CNAME', class: 1, ttl: 60, target: 'api.example.com' },
    ])] });
    resolve = dnsResolver(await dns.listen('127.0.0.1', 0), { timeoutMs: 1000 });
  });
  after(() => dns?.close());

  test('returns the A records of a name, following a CNAME', async () => {
    assert.deepEqual(await resolve('api.example.com'), ['127.0.0.1']);
    assert.deepEqual(await resolve('www.example.com'), ['127.0.0.1']);
  });

  test('answers are kept for their TTL (capped), shared by concurrent lookups, and failures are not kept', async () => {
    let queries = 0;
    let ttl = 60;
    let address = '127.0.0.2';
    const counting = new DnsServer({ zones: [{ lookup: (name: string) => {
      queries++;
      if (name !== 'moving.example.com') return null;
      return { answers: [{ name, type: 'A' as const, class: 1, ttl, address }], rcode: 0 };
    } }] });
    let clock = 1_000_000;
    const r = dnsResolver(await counting.listen('127.0.0.1', 0), { timeoutMs: 1000, maxTtlSeconds: 30, now: () => clock });
    try {
      assert.deepEqual(await Promise.all([r('moving.example.com'), r('moving.example.com')]), [['127.0.0.2'], ['127.0.0.2']]);
      assert.equal(queries, 1, 'two concurrent lookups, one query');
      address = '127.0.0.3';
      clock += 29_000;
      assert.deepEqual(await r('moving.example.com'), ['127.0.0.2'], 'within the capped TTL (30 s of 60): the kept answer');
      clock += 2_000;
      assert.deepEqual(await r('moving.example.com'), ['127.0.0.3'], 'past it: asked again, and the name moved');
      assert.equal(queries, 2);
      ttl = 0;
      clock += 31_000;
      await r('moving.example.com');
      await r('moving.example.com');
      assert.equal(queries, 4, 'TTL 0 is never kept');
      await assert.rejects(r('gone.example.com'), { code: 'EGRESS_RESOLVE_FAILED' });
      await assert.rejects(r('gone.example.com'), { code: 'EGRESS_RESOLVE_FAILED' });
      assert.equal(queries, 6, 'a failure is asked again every time');
    } finally {
      await counting.close();
    }
  });

  test('the answer cache is bounded: past maxEntries the oldest name is asked again', async () => {
    let queries = 0;
    const counting = new DnsServer({ zones: [{ lookup: (name: string) => {
      queries++;
      return { answers: [{ name, type: 'A' as const, class: 1, ttl: 60, address: '127.0.0.9' }], rcode: 0 };
    } }] });
    const r = dnsResolver(await counting.listen('127.0.0.1', 0), { timeoutMs: 1000, maxEntries: 2 });
    try {
      for (const n of ['a.example.com', 'b.example.com', 'a.example.com', 'b.example.com']) await r(n);
      assert.equal(queries, 2, 'two names fit');
      await r('c.example.com');
      await r('a.example.com');
      assert.equal(queries, 4, 'a third name evicted the oldest, which is asked again');
    } finally {
      await counting.close();
    }
  });

  test('an unknown name fails with EGRESS_RESOLVE_FAILED and the rcode', async () => {
    await assert.rejects(resolve('nope.example.com'), {
      code: 'EGRESS_RESOLVE_FAILED',
      message: 'Cannot resolve "nope.example.com": the DNS server answered rcode 3',
    });
  });
});
