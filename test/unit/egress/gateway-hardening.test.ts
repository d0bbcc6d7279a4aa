// The gateway's hardening end to end on loopback (real HBONE, real external HTTPS servers on
// 127.0.0.1 and the decoy on 127.0.0.2): a name resolving to a forbidden address is refused and
// audited (SSRF); a STATIC ServiceEntry is dialled at its endpoint whatever DNS says; targetPort
// is where passthrough and origination go, from the entry the registry matched; ECH is refused;
// a source over its tunnel cap is refused; an idle relay is half-closed; refusals the HBONE
// server makes before a tunnel exists are audited; a later request naming another Host port is
// refused.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import { parseDocuments, type ServiceEntryResource } from '../../../src/config/index.js';
import { forbiddenRanges, type EgressRecord, type OriginationSetting } from '../../../src/egress/index.js';
import { MeshFixture, svidContext } from '../../../src/testing/svid-fixtures.js';
import { nodeClientHello } from './capture.js';
import { drain, httpGet, openTunnel, recordFor, tlsThrough, withHarness } from './gateway-harness.js';
import { hello, serverName, u16, vec16 } from './hello-builder.js';

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));


describe('egress gateway hardening: refusals with the built-in forbidden ranges', () => {
  // The real default: the harness's names all resolve to 127.0.0.1, which is loopback.
  const c = withHarness(() => ({ forbiddenUpstreams: () => forbiddenRanges(), limits: { firstBytesTimeoutMs: 2000, maxTunnelsPerSource: 2 } }));
  const P = (): number => c.h.external.port;

  test('SSRF: an allowed name whose DNS answer is 127.0.0.1 is refused before any dial, and audited', async () => {
    const dials = c.h.dials.length;
    const { status, stream } = await openTunnel(c.sa, `api.example.com:${P()}`);
    assert.equal(status, 200);
    const out = drain(stream);
    stream.write(await nodeClientHello({ servername: 'api.example.com' }));
    assert.equal((await out).rstCode, 10);
    const r = await recordFor(c.h, (x) => x.authority === `api.example.com:${P()}`);
    assert.deepEqual([r.verdict, r.code, r.source, r.sni], ['refused', 'EGRESS_ADDRESS_FORBIDDEN', c.h.a.spiffeId, 'api.example.com']);
    assert.equal(r.reason, 'Cannot dial "api.example.com" at 127.0.0.1: it is in 127.0.0.0/8 (loopback: the gateway\'s own ports)');
    assert.deepEqual(r.resolved, ['127.0.0.1']);
    assert.equal(r.upstream, undefined);
    assert.equal(c.h.dials.length, dials, 'nothing was dialled');
    assert.equal(c.h.external.seen.length, 0);
    const metrics = await c.h.metrics.getSingleMetricAsString('ambit_egress_connections_total');
    assert.match(metrics, /code="EGRESS_ADDRESS_FORBIDDEN"\} 1/);
  });

  test('ECH: a ClientHello carrying encrypted_client_hello is refused and audited', async () => {
    const { stream } = await openTunnel(c.sa, `service1.foo.example:${P()}`);
    const out = drain(stream);
    const ech: [number, Buffer] = [0xfe0d, Buffer.concat([Buffer.from([0]), u16(1), u16(1), Buffer.from([7]), vec16(Buffer.alloc(32, 1)), vec16(Buffer.alloc(64, 2))])];
    stream.write(hello([serverName('service1.foo.example'), ech]));
    assert.equal((await out).rstCode, 10);
    const r = await recordFor(c.h, (x) => x.authority === `service1.foo.example:${P()}`);
    assert.deepEqual([r.verdict, r.code, r.source], ['refused', 'TLS_ECH_REFUSED', c.h.a.spiffeId]);
    assert.match(r.reason, /hides the real server name/);
  });

  test('per-source cap: a source at its limit is refused (503, audited); other sources are not; a closed tunnel frees a slot', async () => {
    const held = [await openTunnel(c.sa, `api.example.com:${P()}`), await openTunnel(c.sa, `api.example.com:${P()}`)];
    assert.deepEqual(held.map((t) => t.status), [200, 200]);
    const over = await openTunnel(c.sa, `api.example.com:${P()}`);
    assert.equal(over.status, 503);
    const r = await recordFor(c.h, (x) => x.code === 'EGRESS_SOURCE_LIMIT');
    assert.equal(r.source, c.h.a.spiffeId);
    assert.equal(r.verdict, 'refused');
    assert.equal(r.reason, `Cannot accept egress tunnel: ${c.h.a.spiffeId} already has 2 open tunnels, limit 2 per source`);
    assert.equal(c.h.records.filter((x) => x.code === 'EGRESS_SOURCE_LIMIT' || x.code === 'HBONE_UNREACHABLE').length, 1, 'audited once, not again by the HBONE layer');
    const other = await openTunnel(c.sb, `service1.bar.example:${P()}`);
    assert.equal(other.status, 200, 'the cap is per source');
    other.stream.end();
    const closed = drain(held[0]!.stream);
    held[0]!.stream.end();
    await closed;
    await recordFor(c.h, (x) => x.code === 'EGRESS_FIRST_BYTES_TRUNCATED' && x.source === c.h.a.spiffeId);
    const again = await openTunnel(c.sa, `api.example.com:${P()}`);
    assert.equal(again.status, 200);
    for (const t of [held[1]!, again]) {
      const d = drain(t.stream);
      t.stream.end();
      await d;
    }
  });

  test('HBONE refusals before a tunnel are audited: not CONNECT, headers too large (verified source), an untrusted client certificate (no source)', async () => {
    const get = c.sa.request({ ':method': 'GET', ':path': '/' });
    get.on('error', () => undefined);
    const status = await new Promise<number>((resolve) => get.once('response', (hd) => resolve(Number(hd[':status']))));
    assert.equal(status, 400);
    const r = await recordFor(c.h, (x) => x.code === 'HBONE_BAD_REQUEST');
    assert.deepEqual([r.verdict, r.source, r.reason], ['refused', c.h.a.spiffeId, 'method "GET" is not CONNECT']);
    assert.equal(r.sourceAddress?.replace(/^::ffff:/, ''), '127.0.0.1');

    const big = c.sa.request({ ':method': 'CONNECT', ':authority': `api.example.com:${P()}`, 'x-big': 'a'.repeat(20_000) }, { endStream: false });
    big.on('error', () => undefined);
    assert.equal(await new Promise<number>((resolve) => big.once('response', (hd) => resolve(Number(hd[':status'])))), 431);
    const rb = await recordFor(c.h, (x) => x.code === 'HBONE_HEADERS_TOO_LARGE');
    assert.deepEqual([rb.source, rb.authority], [c.h.a.spiffeId, `api.example.com:${P()}`]);

    const stranger = MeshFixture.create();
    const svid = stranger.mint(stranger.workload('shop', 'app-a'));
    const sock = tlsConnect({ host: '127.0.0.1', port: c.h.gatewayPort, secureContext: svidContext(svid), ALPNProtocols: ['h2'], rejectUnauthorized: false });
    sock.on('error', () => undefined);
    await new Promise<void>((resolve) => sock.once('close', () => resolve()));
    const rt = await recordFor(c.h, (x) => x.code === 'HBONE_TLS_FAILURE');
    assert.equal(rt.source, 'unknown (no TLS handshake completed)', 'an unverified certificate names no source');
    assert.equal(rt.verdict, 'refused');
    const metrics = await c.h.metrics.getSingleMetricAsString('ambit_egress_connections_total');
    assert.match(metrics, /source="unknown \(no TLS handshake completed\)",host="-",verdict="refused",code="HBONE_TLS_FAILURE"\} 1/);
    assert.match(metrics, /code="HBONE_BAD_REQUEST"\} 1/);
  });

  test('a refusal the gateway already audited (IP authority) is not audited twice', async () => {
    const t = await openTunnel(c.sa, '10.0.0.1:443');
    assert.equal(t.status, 400);
    await recordFor(c.h, (x) => x.code === 'EGRESS_BAD_AUTHORITY');
    await wait(50);
    assert.deepEqual(c.h.records.filter((x) => x.authority === '10.0.0.1:443').map((x) => x.code), ['EGRESS_BAD_AUTHORITY']);
  });
});

describe('egress gateway hardening: where allowed connections go', () => {
  let entries: ServiceEntryResource[] = [];
  let root = '';
  const c = withHarness(() => ({
    serviceEntries: () => entries,
    // DNS says the decoy (127.0.0.2, same port) for every name.
    resolve: async () => ['127.0.0.2'],
    originate: (host: string): OriginationSetting | undefined => (host === 'plain.example.com' ? { caBundlePem: root } : undefined),
    limits: { firstBytesTimeoutMs: 2000, idleTimeoutMs: 400 },
  }), (h) => {
    root = h.externalRootPem;
    const P = h.external.port;
    // The wildcard comes first and names another targetPort: the exact entry the registry matches wins.
    entries = parseDocuments(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: a-wild, namespace: egress }
spec: { hosts: ["*.example.com"], ports: [{ number: 80, name: http, protocol: HTTP, targetPort: 9 }] }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: plain, namespace: egress }
spec: { hosts: [plain.example.com], ports: [{ number: 80, name: http, protocol: HTTP, targetPort: ${P} }] }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: target-tls, namespace: egress }
spec: { hosts: [api.example.com], ports: [{ number: 443, name: tls, protocol: TLS, targetPort: ${P} }] }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: pinned, namespace: egress }
spec: { hosts: [service1.foo.example], resolution: STATIC, endpoints: [{ address: 127.0.0.1 }], ports: [{ number: ${P}, name: tls, protocol: TLS }] }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: metadata-service, namespace: egress }
spec: { hosts: [service1.bar.example], resolution: STATIC, endpoints: [{ address: 169.254.169.254 }], ports: [{ number: ${P}, name: tls, protocol: TLS }] }
`, 'entries.yaml') as ServiceEntryResource[];
  });
  const P = (): number => c.h.external.port;

  test('STATIC: DNS says 127.0.0.2, the entry pins 127.0.0.1: the pinned one is dialled', async () => {
    const { stream } = await openTunnel(c.sa, `service1.foo.example:${P()}`);
    const tls = await tlsThrough(stream, 'service1.foo.example', c.h.externalRootPem);
    assert.equal(await httpGet(tls, 'service1.foo.example'), 'hello service1.foo.example sni=service1.foo.example at 127.0.0.1');
    tls.end();
    const r = await recordFor(c.h, (x) => x.sni === 'service1.foo.example' && x.verdict === 'allowed');
    assert.deepEqual(r.resolved, ['127.0.0.1']);
    assert.equal(r.upstream, `127.0.0.1:${P()}`);
    assert.equal(r.serviceEntry, 'egress/pinned');
    assert.equal(c.h.decoy.seen.length, 0, 'the address DNS named was not used');
  });

  test('STATIC endpoints are held to the forbidden ranges too', async () => {
    const dials = c.h.dials.length;
    const { stream } = await openTunnel(c.sb, `service1.bar.example:${P()}`);
    const out = drain(stream);
    stream.write(await nodeClientHello({ servername: 'service1.bar.example' }));
    assert.equal((await out).rstCode, 10);
    const r = await recordFor(c.h, (x) => x.sni === 'service1.bar.example');
    assert.deepEqual([r.code, r.source], ['EGRESS_ADDRESS_FORBIDDEN', c.h.b.spiffeId]);
    assert.match(r.reason, /at 169\.254\.169\.254: it is in 169\.254\.0\.0\/16/);
    assert.equal(c.h.dials.length, dials);
  });

  test('passthrough targetPort: a tunnel to :443 is dialled at the entry port\'s targetPort', async () => {
    const { status, stream } = await openTunnel(c.sa, 'api.example.com:443');
    assert.equal(status, 200);
    const tls = await tlsThrough(stream, 'api.example.com', c.h.externalRootPem);
    assert.equal(await httpGet(tls, 'api.example.com'), 'hello api.example.com sni=api.example.com at 127.0.0.2');
    tls.end();
    const r = await recordFor(c.h, (x) => x.authority === 'api.example.com:443' && x.verdict === 'allowed');
    assert.equal(r.upstream, `127.0.0.2:${P()}`);
  });

  test('origination targetPort comes from the entry the registry matched for the tunnel port (exact beats a wildcard listed first)', async () => {
    const { stream } = await openTunnel(c.sa, 'plain.example.com:80');
    assert.equal(await httpGet(stream, 'plain.example.com'), 'hello plain.example.com sni=plain.example.com at 127.0.0.2');
    stream.end();
    const r = await recordFor(c.h, (x) => x.host === 'plain.example.com' && x.verdict === 'allowed');
    assert.equal(r.upstream, `127.0.0.2:${P()}`);
    assert.equal(r.serviceEntry, 'egress/plain');
  });

  test('origination: a second request naming another Host port is refused before it leaves', async () => {
    const seen = c.h.decoy.seen.length;
    const { stream } = await openTunnel(c.sa, 'plain.example.com:80');
    assert.equal(await httpGet(stream, 'plain.example.com:80', false), 'hello plain.example.com:80 sni=plain.example.com at 127.0.0.2');
    const out = drain(stream);
    stream.write('GET /admin HTTP/1.1\r\nHost: plain.example.com:8080\r\n\r\n');
    assert.equal((await out).rstCode, 10);
    const r = await recordFor(c.h, (x) => x.code === 'EGRESS_PIPELINED_HOST');
    assert.equal(r.verdict, 'refused');
    assert.equal(r.reason, 'Cannot forward egress HTTP: request 2 names Host port 8080, but this connection is for port 80');
    assert.equal(c.h.decoy.seen.length, seen + 1, 'only the first request reached the server');
  });

  test('idle timeout: a quiet relay is ended with a half-close both ways (no reset) and audited', async () => {
    const { stream } = await openTunnel(c.sa, 'api.example.com:443');
    const tls = await tlsThrough(stream, 'api.example.com', c.h.externalRootPem);
    // As an application does (and the node proxy passes on): close after the peer's end.
    tls.once('end', () => tls.end());
    const out = drain(stream);
    assert.equal(await httpGet(tls, 'api.example.com', false), 'hello api.example.com sni=api.example.com at 127.0.0.2');
    const started = Date.now();
    const res = await out;
    const quiet = Date.now() - started;
    assert.ok(quiet >= 300 && quiet < 3000, `closed after ${quiet} ms`);
    assert.equal(res.rstCode, 0, 'END_STREAM, not RST_STREAM');
    assert.equal(res.error, undefined);
    const r: EgressRecord = await recordFor(c.h, (x) => x.authority === 'api.example.com:443' && x.error !== undefined);
    assert.equal(r.verdict, 'allowed');
    assert.equal(r.error, 'idle for 400 ms (no byte either way): closed with a half-close both ways');
    tls.destroy();
  });

  test('idle timeout: a client that does not close after the half-close is reset after a grace period', async () => {
    const { stream } = await openTunnel(c.sa, 'api.example.com:443');
    const tls = await tlsThrough(stream, 'api.example.com', c.h.externalRootPem);
    tls.on('error', () => undefined);
    const out = drain(stream);
    assert.equal(await httpGet(tls, 'api.example.com', false), 'hello api.example.com sni=api.example.com at 127.0.0.2');
    const res = await out;
    assert.equal(res.rstCode, 10, 'CONNECT_ERROR once the grace is over');
    const r = await recordFor(c.h, (x) => x.authority === 'api.example.com:443' && (x.error ?? '').includes('reset after'));
    assert.equal(r.verdict, 'allowed');
    assert.equal(r.error, 'idle for 400 ms (no byte either way): closed with a half-close both ways; reset after 400 ms more without a close');
    tls.destroy();
  });
});

describe('egress gateway hardening: a failure inside the tunnel decision', () => {
  // A sourcePod lookup that throws stands in for any unexpected bug in the gateway's decision.
  const c = withHarness(() => ({ sourcePod: () => { throw new Error('registry lookup blew up'); } }));

  test('is a 503, audited once as EGRESS_INTERNAL with the verified source and the name as sent; the gateway keeps serving', async () => {
    const { status, stream } = await openTunnel(c.sa, 'api.example.com:443');
    assert.equal(status, 503);
    stream.destroy();
    const r = await recordFor(c.h, (x) => x.code === 'EGRESS_INTERNAL');
    assert.equal(r.source, c.h.a.spiffeId);
    assert.equal(r.authority, 'api.example.com:443');
    assert.equal(r.verdict, 'refused');
    assert.equal(r.reason, 'Cannot accept egress tunnel: registry lookup blew up');
    await wait(50);
    assert.equal(c.h.records.filter((x) => x.code === 'EGRESS_INTERNAL' || x.code === 'HBONE_UNREACHABLE').length, 1, 'not audited again by the HBONE layer');
    const again = await openTunnel(c.sb, 'service1.bar.example:443');
    assert.equal(again.status, 503, 'every tunnel meets the same failure, and each is answered');
    again.stream.destroy();
  });
});
