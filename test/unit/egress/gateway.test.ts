// The egress gateway end to end on loopback: real HBONE (mTLS + HTTP/2 CONNECT) from mesh
// sources, a real external HTTPS server with its own CA, and the gateway's audit lines.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeClientHello } from './capture.js';
import { drain, httpGet, openTunnel, recordFor, tlsThrough, withHarness } from './gateway-harness.js';

describe('egress gateway', () => {
  const c = withHarness(() => ({}));
  const P = (): number => c.h.external.port;

  test('allowed passthrough: the client verifies the external certificate end to end, and it is audited', async () => {
    const { status, stream } = await openTunnel(c.sa, `api.example.com:${P()}`);
    assert.equal(status, 200);
    const tls = await tlsThrough(stream, 'api.example.com', c.h.externalRootPem);
    assert.equal(tls.authorized, true);
    assert.equal(tls.getPeerCertificate().subjectaltname?.includes('DNS:api.example.com'), true);
    const body = await httpGet(tls, 'api.example.com');
    assert.equal(body, 'hello api.example.com sni=api.example.com at 127.0.0.1');
    tls.end();
    const r = await recordFor(c.h, (x) => x.authority === `api.example.com:${P()}` && x.verdict === 'allowed');
    assert.equal(r.source, c.h.a.spiffeId);
    assert.equal(r.sni, 'api.example.com');
    assert.equal(r.mode, 'passthrough');
    assert.deepEqual(r.resolved, ['127.0.0.1']);
    assert.equal(r.upstream, `127.0.0.1:${P()}`);
    assert.equal(r.code, 'ALLOWED');
    assert.equal(r.serviceEntry, 'egress/external-tls');
    assert.equal(r.policy, 'egress/app-a');
    assert.match(r.reason, /^allowed: ServiceEntry egress\/external-tls names api\.example\.com on port \d+; allowed by ALLOW policy egress\/app-a$/);
    assert.ok(r.bytesIn > 300 && r.bytesOut > 300, `bytes ${r.bytesIn}/${r.bytesOut}`);
    assert.equal(typeof r.durationMs, 'number');
    const metrics = await c.h.metrics.getSingleMetricAsString('ambit_egress_connections_total');
    assert.match(metrics, new RegExp(`ambit_egress_connections_total\\{source="${c.h.a.spiffeId}",host="api.example.com",verdict="allowed",code="ALLOWED"\\} 1`));
  });

  test('REGISTRY_ONLY refuses a host no ServiceEntry names, before dialing anything', async () => {
    const dials = c.h.dials.length;
    const { status, stream } = await openTunnel(c.sa, `unknown.example.org:${P()}`);
    assert.equal(status, 200);
    const out = drain(stream);
    stream.write(await nodeClientHello({ servername: 'unknown.example.org' }));
    const res = await out;
    assert.equal(res.rstCode, 10); // CONNECT_ERROR
    const r = await recordFor(c.h, (x) => x.authority === `unknown.example.org:${P()}`);
    assert.deepEqual([r.verdict, r.code, r.sni, r.source], ['refused', 'EGRESS_NOT_REGISTERED', 'unknown.example.org', c.h.a.spiffeId]);
    assert.equal(r.reason, 'Cannot allow egress: refused by REGISTRY_ONLY: no ServiceEntry names unknown.example.org');
    assert.equal(r.upstream, undefined);
    assert.equal(c.h.dials.length, dials);
  });

  test('per-source policy: A reaches *.foo.example, B *.bar.example, A -> service1.bar.example is refused', async () => {
    for (const [session, name] of [[c.sa, 'service1.foo.example'], [c.sb, 'service1.bar.example']] as const) {
      const { stream } = await openTunnel(session, `${name}:${P()}`);
      const tls = await tlsThrough(stream, name, c.h.externalRootPem);
      assert.equal(await httpGet(tls, name), `hello ${name} sni=${name} at 127.0.0.1`);
      tls.end();
    }
    const { stream } = await openTunnel(c.sa, `service1.bar.example:${P()}`);
    const out = drain(stream);
    stream.write(await nodeClientHello({ servername: 'service1.bar.example' }));
    assert.deepEqual(await out, { data: '', rstCode: 10, error: 'ERR_HTTP2_STREAM_ERROR' });
    const r = await recordFor(c.h, (x) => x.authority === `service1.bar.example:${P()}` && x.source === c.h.a.spiffeId);
    assert.deepEqual([r.verdict, r.code], ['refused', 'EGRESS_POLICY_DENIED']);
    assert.equal(r.reason, `Cannot allow egress: ${c.h.a.spiffeId} may not reach service1.bar.example:${P()}: no ALLOW policy matched (policies: egress/app-a, egress/app-b)`);
    const b = await recordFor(c.h, (x) => x.authority === `service1.bar.example:${P()}` && x.source === c.h.b.spiffeId);
    assert.equal(b.verdict, 'allowed');
  });

  test('the gateway dials only the address it resolved, never one the client chose', async () => {
    const before = c.h.dials.length;
    // The client would rather reach 127.0.0.2 (the decoy) with an allowed SNI: an IP authority is refused.
    const ip = await openTunnel(c.sa, `127.0.0.2:${P()}`);
    assert.equal(ip.status, 400);
    const rIp = await recordFor(c.h, (x) => x.authority === `127.0.0.2:${P()}`);
    assert.deepEqual([rIp.verdict, rIp.code], ['refused', 'EGRESS_BAD_AUTHORITY']);
    assert.equal(rIp.reason, `Cannot accept egress tunnel: :authority "127.0.0.2:${P()}" names an IP address; egress tunnels must name a host`);
    // With the name, the gateway resolves it itself (test double: 127.0.0.1) and dials that.
    const { stream } = await openTunnel(c.sa, `api.example.com:${P()}`);
    const tls = await tlsThrough(stream, 'api.example.com', c.h.externalRootPem);
    assert.equal(await httpGet(tls, 'api.example.com'), 'hello api.example.com sni=api.example.com at 127.0.0.1');
    tls.end();
    assert.deepEqual(c.h.dials.slice(before), [`127.0.0.1:${P()}`]);
    assert.deepEqual(c.h.decoy.seen, []);
  });

  test('SNI that differs from the tunnel authority is refused', async () => {
    const { stream } = await openTunnel(c.sa, `service1.foo.example:${P()}`);
    const out = drain(stream);
    stream.write(await nodeClientHello({ servername: 'api.example.com' }));
    assert.deepEqual(await out, { data: '', rstCode: 10, error: 'ERR_HTTP2_STREAM_ERROR' });
    const r = await recordFor(c.h, (x) => x.authority === `service1.foo.example:${P()}` && x.verdict === 'refused');
    assert.deepEqual([r.code, r.sni], ['EGRESS_HOST_MISMATCH', 'api.example.com']);
    assert.equal(r.reason, 'Cannot allow egress: SNI "api.example.com" is not the tunnel\'s host "service1.foo.example"');
  });

  describe('TLS origination', () => {
    test('plain HTTP in, TLS out, verified against the CA bundle and the host name', async () => {
      const { status, stream } = await openTunnel(c.sa, 'plain.example.com:80');
      assert.equal(status, 200);
      const body = await httpGet(stream, 'plain.example.com');
      assert.equal(body, 'hello plain.example.com sni=plain.example.com at 127.0.0.1');
      stream.end();
      const r = await recordFor(c.h, (x) => x.authority === 'plain.example.com:80');
      assert.deepEqual([r.verdict, r.code, r.mode, r.host, r.upstream], ['allowed', 'ALLOWED', 'originate', 'plain.example.com', `127.0.0.1:${P()}`]);
      assert.equal(r.serviceEntry, 'egress/external-http');
    });

    test('an upstream certificate from another CA is refused', async () => {
      const { stream } = await openTunnel(c.sa, 'wrongca.example.com:80');
      const out = drain(stream);
      stream.write('GET / HTTP/1.1\r\nHost: wrongca.example.com\r\n\r\n');
      const res = await out;
      assert.deepEqual([res.rstCode, res.data], [10, '']);
      const r = await recordFor(c.h, (x) => x.authority === 'wrongca.example.com:80');
      assert.deepEqual([r.verdict, r.code], ['refused', 'EGRESS_UPSTREAM_UNTRUSTED']);
      assert.match(r.reason, /^Cannot originate TLS to "wrongca\.example\.com": UNABLE_TO_VERIFY_LEAF_SIGNATURE /);
      assert.equal(c.h.external.seen.some((s) => s.startsWith('wrongca')), false);
    });

    test('Host that differs from the tunnel authority (domain fronting) is refused', async () => {
      const { stream } = await openTunnel(c.sa, 'plain.example.com:80');
      const out = drain(stream);
      stream.write('GET / HTTP/1.1\r\nHost: other.example.com\r\n\r\n');
      assert.equal((await out).rstCode, 10);
      const r = await recordFor(c.h, (x) => x.authority === 'plain.example.com:80' && x.verdict === 'refused');
      assert.deepEqual([r.code, r.host], ['EGRESS_HOST_MISMATCH', 'other.example.com']);
      assert.equal(r.reason, 'Cannot allow egress: Host "other.example.com" is not the tunnel\'s host "plain.example.com"');
      assert.equal(c.h.external.seen.some((s) => s.startsWith('other')), false);
    });

    test('a later request on a kept-alive connection that names another host is refused', async () => {
      const { stream } = await openTunnel(c.sa, 'plain.example.com:80');
      const out = drain(stream);
      assert.equal(await httpGet(stream, 'plain.example.com', false), 'hello plain.example.com sni=plain.example.com at 127.0.0.1');
      stream.write('GET / HTTP/1.1\r\nHost: other.example.com\r\n\r\n');
      assert.equal((await out).rstCode, 10);
      const r = await recordFor(c.h, (x) => x.code === 'EGRESS_PIPELINED_HOST' && x.bytesOut > 0);
      assert.equal(r.reason, 'Cannot forward egress HTTP: request 2 names Host "other.example.com", but this connection is for "plain.example.com"');
      assert.equal(c.h.external.seen.some((s) => s.startsWith('other')), false);
    });
  });
});
