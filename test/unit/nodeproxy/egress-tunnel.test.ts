// The node proxy's egress hop on loopback: HbonePool.open with a host-name authority (as the
// outbound path sends it) against the real egress gateway, which resolves the name with a real DNS
// server and reaches a loopback TLS server standing in for the external host. The pool must refuse
// a "gateway" that proves another identity, and host-name authorities unless asked for.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { ClientHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { pino } from 'pino';
import { parseDocuments, egressGatewayIdentity, EGRESS_GATEWAY, type AuthorizationPolicyResource, type ServiceEntryResource } from '../../../src/config/index.js';
import { DnsServer, StaticZone } from '../../../src/dns/index.js';
import { createEgressGateway, dnsResolver, type EgressRecord, forbiddenRanges } from '../../../src/egress/index.js';
import { HbonePool, type HboneServer, type OpenTunnelRequest } from '../../../src/hbone/index.js';
import { createPublicCa } from '../../../src/lab/public-ca.js';
import { silentLogger } from '../../../src/log.js';
import { compilePolicies } from '../../../src/policy/index.js';
import { MeshFixture, svidContext } from '../../../src/testing/svid-fixtures.js';
import { drain, tlsThrough } from '../egress/gateway-harness.js';

const GATEWAY_ID = egressGatewayIdentity('cluster.local');

describe('HbonePool -> egress gateway -> external host, on loopback', () => {
  const closers: (() => Promise<unknown> | void)[] = [];
  const records: EgressRecord[] = [];
  const mesh = MeshFixture.create();
  const source = mesh.mint(mesh.workload('default', 'a'));
  const sourceContext = svidContext(source);
  const pool = new HbonePool({ refusePeerCertificate: () => undefined, logger: silentLogger() });
  let externalRoot = '';
  let externalPort = 0;
  let gatewayPort = 0;
  let impostorPort = 0;

  const request = (authority: string, extra: Partial<OpenTunnelRequest> = {}): OpenTunnelRequest => ({
    sourceIdentity: source.spiffeId,
    secureContext: sourceContext,
    trustedRoots: mesh.rootsPem,
    expectedIdentity: GATEWAY_ID,
    address: { host: '127.0.0.1', port: gatewayPort },
    authority,
    hostAuthority: true,
    ...extra,
  });

  async function startGateway(svidId: string): Promise<HboneServer> {
    const entries = parseDocuments(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: api, namespace: ambit-system }
spec:
  hosts: [api.example.com]
  ports: [{ number: ${externalPort}, name: tls, protocol: TLS }]
`, 'entries.yaml') as ServiceEntryResource[];
    const policies = (parseDocuments(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: a-to-api, namespace: ambit-system }
spec:
  selector: { matchLabels: { app: egress-gateway } }
  action: ALLOW
  rules:
  - from: [{ source: { principals: [cluster.local/ns/default/sa/a] } }]
    to: [{ operation: { hosts: [api.example.com] } }]
`, 'policies.yaml') as AuthorizationPolicyResource[]).map((p) => ({ name: p.metadata.name, namespace: p.metadata.namespace!, spec: p.spec }));
    const evaluator = compilePolicies(policies, { rootNamespace: 'ambit-system' });
    const ctx = svidContext(mesh.mint(svidId));
    // pino accepts any { write(line) }: keep the audit lines.
    const sink = { write: (line: string): void => void ((o: EgressRecord & { msg: string }) => o.msg === 'egress connection' && records.push(o))(JSON.parse(line)) };
    const gateway = createEgressGateway({
      refusePeerCertificate: () => undefined, // nothing revoked in these tests
      secureContext: () => ctx,
      trustedRoots: () => mesh.rootsPem,
      serviceEntries: () => entries,
      outboundTrafficPolicy: () => 'REGISTRY_ONLY',
      policy: () => evaluator,
      gatewayTarget: { namespace: EGRESS_GATEWAY.namespace, labels: EGRESS_GATEWAY.labels },
      resolve: dnsResolver(dnsAt!, { timeoutMs: 1000 }),
      // This test's internet is loopback, which the gateway refuses by default (SSRF).
      forbiddenUpstreams: () => forbiddenRanges({ allowLoopback: true }),
      limits: { firstBytesTimeoutMs: 2000 },
      logger: pino({ level: 'info' }, sink),
    });
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', () => resolve()));
    closers.push(() => gateway.drain(500));
    return gateway;
  }

  let dnsAt: { host: string; port: number } | undefined;

  before(async () => {
    try {
      const dir = await mkdtemp(join(tmpdir(), `ambit-np-egress-${process.pid}-`));
      closers.push(() => rm(dir, { recursive: true, force: true }));
      const pub = await createPublicCa(join(dir, 'pub'), [{ names: ['api.example.com'] }]);
      externalRoot = pub.rootPem;
      const external: TlsServer = createTlsServer({ cert: await readFile(pub.hosts[0]!.certPath, 'utf8'), key: await readFile(pub.hosts[0]!.keyPath, 'utf8') }, (s) => {
        s.on('error', () => undefined);
        s.on('data', (d: Buffer) => s.write(`external got ${d.toString()} via sni=${s.servername}`));
        s.on('end', () => s.end());
      });
      await new Promise<void>((resolve, reject) => external.once('error', reject).listen(0, '127.0.0.1', () => resolve()));
      closers.push(() => new Promise((r) => external.close(() => r(undefined))));
      externalPort = (external.address() as AddressInfo).port;
      // The "internet" DNS server naming the external host (the gateway resolves names itself).
      const dns = new DnsServer({ zones: [new StaticZone([{ name: 'api.example.com', type: 'A', class: 1, ttl: 60, address: '127.0.0.1' }])] });
      dnsAt = await dns.listen('127.0.0.1', 0);
      closers.push(() => dns.close());
      gatewayPort = ((await startGateway(GATEWAY_ID)).address() as AddressInfo).port;
      // Same CA, same code, but another service account: what a mis-selected pod would prove.
      impostorPort = ((await startGateway(mesh.workload('ambit-system', 'default'))).address() as AddressInfo).port;
      closers.push(() => pool.close());
    } catch (err) {
      for (const c of closers.reverse()) await c();
      throw err;
    }
  });
  after(async () => {
    for (const c of closers.reverse()) await c();
  });

  test('a host-name tunnel through the gateway reaches the external host, with the source identity audited', async () => {
    const stream = await pool.open(request(`api.example.com:${externalPort}`));
    const tls = await tlsThrough(stream, 'api.example.com', externalRoot);
    const done = drain(tls);
    tls.end('hello');
    const got = await done;
    assert.equal(got.data, 'external got hello via sni=api.example.com');
    const deadline = Date.now() + 3000;
    while (!records.some((r) => r.verdict === 'allowed') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const rec = records.find((r) => r.verdict === 'allowed');
    assert.ok(rec, `an allowed audit line; have ${JSON.stringify(records.map((r) => r.code))}`);
    assert.equal(rec.source, source.spiffeId);
    assert.equal(rec.authority, `api.example.com:${externalPort}`);
    assert.deepEqual(rec.resolved, ['127.0.0.1']);
  });

  test('the pool refuses a gateway that proves another identity, before any tunnel', async () => {
    const before = records.length;
    await assert.rejects(pool.open(request(`api.example.com:${externalPort}`, { address: { host: '127.0.0.1', port: impostorPort } })), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'HBONE_IDENTITY_MISMATCH');
      assert.match(err.message, /spiffe:\/\/cluster\.local\/ns\/ambit-system\/sa\/default/);
      return true;
    });
    await new Promise((r) => setTimeout(r, 50));
    // The aborted handshake is audited (HBONE_*), but no tunnel was ever opened.
    assert.deepEqual(records.slice(before).filter((r) => !r.code.startsWith('HBONE_')), [], 'the impostor saw no tunnel');
  });

  test('host-name authorities only when asked for; never an IP literal or a wildcard in egress mode', async () => {
    const refused = async (req: OpenTunnelRequest, why: RegExp): Promise<void> => {
      await assert.rejects(pool.open(req), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'HBONE_BAD_REQUEST');
        assert.match(err.message, why);
        return true;
      }, req.authority);
    };
    await refused(request(`api.example.com:${externalPort}`, { hostAuthority: false }), /is not an IPv4 address \(host names are not allowed\)/);
    await refused(request(`127.0.0.1:${externalPort}`), /"127\.0\.0\.1" is an IP address; an egress tunnel must name a host/);
    await refused(request(`[::1]:${externalPort}`), /is an IP address/);
    await refused(request(`*.example.com:${externalPort}`), /is a wildcard/);
    await refused(request(`API.example.com:${externalPort}`), /not in canonical form \(write "api\.example\.com"\)/);
    await refused(request('api.example.com'), /the port is missing/);
    await refused(request('api.example.com:0'), /port "0" must be a number from 1 to 65535/);
    await refused(request('bad_name.example.com:443'), /is not a valid DNS host name/);
  });

  test('a gateway refusal after the tunnel opened reaches the client as a closed stream', async () => {
    // The gateway answers 200 at once, then refuses SNI other.example.com on a tunnel for api.example.com.
    const stream: ClientHttp2Stream = await pool.open(request(`api.example.com:${externalPort}`));
    const result = drain(stream);
    const tls = await tlsThrough(stream, 'other.example.com', externalRoot).catch((e: Error) => e);
    assert.ok(tls instanceof Error, 'no TLS session with the external host');
    await result;
    const deadline = Date.now() + 3000;
    while (!records.some((r) => r.code === 'EGRESS_HOST_MISMATCH') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(records.some((r) => r.code === 'EGRESS_HOST_MISMATCH' && r.source === source.spiffeId));
  });
});
