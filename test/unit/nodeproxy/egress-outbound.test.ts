// The outbound path for external traffic, for real: an app in a network namespace connects to an
// egress VIP; nftables redirects it to the node proxy's capture listener (15001); handleOutbound
// reads SO_ORIGINAL_DST, maps the VIP back to its name and opens an HBONE tunnel with the pod's
// SVID to the egress gateway (listening in the namespace on the gateway pod's IP:15008), which
// resolves the name with a loopback DNS server and reaches a loopback TLS server. A raw external
// IP and an unknown VIP are refused, and the access log says so.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import { pino } from 'pino';
import { EGRESS_GATEWAY, parseDocuments, type AuthorizationPolicyResource, type ServiceEntryResource } from '../../../src/config/index.js';
import { DnsServer, StaticZone } from '../../../src/dns/index.js';
import { createEgressGateway, dnsResolver, forbiddenRanges } from '../../../src/egress/index.js';
import { HbonePool } from '../../../src/hbone/index.js';
import { createPublicCa } from '../../../src/lab/public-ca.js';
import { silentLogger } from '../../../src/log.js';
import { compilePolicies } from '../../../src/policy/index.js';
import { connectFromNetns, listenInNetns, netnsPath } from '../../../src/sys/index.js';
import { MeshFixture, svidContext } from '../../../src/testing/svid-fixtures.js';
import { handleOutbound, type OutboundContext } from '../../../src/nodeproxy/outbound.js';
import { EgressVips } from '../../../src/nodeproxy/egress-vips.js';
import { Telemetry, type ConnectionRecord } from '../../../src/nodeproxy/telemetry.js';
import type { Credential } from '../../../src/nodeproxy/identity.js';
import { addNetns, deleteNetns, ip, nftInNetns, uniqueNetnsName } from '../sys/netns-fixture.js';
import { egressState, GATEWAY_IDENTITY, GATEWAY_IP } from './egress-state.js';

const NS = uniqueNetnsName('egress');
const nsPath = netnsPath(NS);
const POD_IP = '10.244.1.5';
const RAW_EXTERNAL = '198.51.100.7';

// Only what this test dials is captured; the proxy's own (marked) sockets pass.
const RULES = `
table ip ambit_egress_test {
  chain output {
    type nat hook output priority -100; policy accept;
    meta mark & 0xfff == 0x539 return
    ip daddr { 240.240.0.0/16, ${RAW_EXTERNAL} } tcp dport != 15001 redirect to :15001
  }
}
`;

describe('outbound to an egress VIP, through a real capture in a network namespace', () => {
  const closers: (() => Promise<unknown> | void)[] = [];
  const access: ConnectionRecord[] = [];
  const audit: { source: string; authority: string; verdict: string }[] = [];
  const vips = new EgressVips();
  let externalPort = 0;
  let externalRoot = '';

  before(async () => {
    try {
      deleteNetns(NS);
      addNetns(NS);
      closers.push(() => deleteNetns(NS));
      for (const a of [`${POD_IP}/32`, `${GATEWAY_IP}/32`]) ip('-n', NS, 'addr', 'add', a, 'dev', 'lo');
      // Routes only so that the SYN reaches the nat hook; nothing answers there but the proxy.
      ip('-n', NS, 'route', 'add', '240.240.0.0/16', 'dev', 'lo');
      ip('-n', NS, 'route', 'add', `${RAW_EXTERNAL}/32`, 'dev', 'lo');
      nftInNetns(NS, RULES);

      const dir = await mkdtemp(join(tmpdir(), `ambit-np-egress-out-${process.pid}-`));
      closers.push(() => rm(dir, { recursive: true, force: true }));
      const pub = await createPublicCa(join(dir, 'pub'), [{ names: ['api.example.com'] }]);
      externalRoot = pub.rootPem;
      const external = createTlsServer({ cert: await readFile(pub.hosts[0]!.certPath, 'utf8'), key: await readFile(pub.hosts[0]!.keyPath, 'utf8') }, (s) => {
        s.on('error', () => undefined);
        s.once('data', (d: Buffer) => s.end(`external got ${d.toString()}`));
      });
      await new Promise<void>((resolve, reject) => external.once('error', reject).listen(0, '127.0.0.1', () => resolve()));
      closers.push(() => new Promise((r) => external.close(() => r(undefined))));
      externalPort = (external.address() as AddressInfo).port;
      const dns = new DnsServer({ zones: [new StaticZone([{ name: 'api.example.com', type: 'A', class: 1, ttl: 60, address: '127.0.0.1' }])] });
      const dnsAt = await dns.listen('127.0.0.1', 0);
      closers.push(() => dns.close());

      const mesh = MeshFixture.create();
      const entries = parseDocuments(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: api, namespace: ambit-system }
spec: { hosts: [api.example.com], ports: [{ number: ${externalPort}, name: tls, protocol: TLS }] }
`, 'se.yaml') as ServiceEntryResource[];
      const policies = (parseDocuments(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: a, namespace: ambit-system }
spec:
  selector: { matchLabels: { app: egress-gateway } }
  action: ALLOW
  rules: [{ from: [{ source: { principals: [cluster.local/ns/default/sa/a] } }], to: [{ operation: { hosts: [api.example.com] } }] }]
`, 'ap.yaml') as AuthorizationPolicyResource[]).map((p) => ({ name: p.metadata.name, namespace: p.metadata.namespace!, spec: p.spec }));
      const gatewayContext = svidContext(mesh.mint(GATEWAY_IDENTITY));
      const gateway = createEgressGateway({
        refusePeerCertificate: () => undefined, // nothing revoked in these tests
        secureContext: () => gatewayContext,
        trustedRoots: () => mesh.rootsPem,
        serviceEntries: () => entries,
        outboundTrafficPolicy: () => 'REGISTRY_ONLY',
        policy: () => compilePolicies(policies, { rootNamespace: 'ambit-system' }),
        gatewayTarget: { namespace: EGRESS_GATEWAY.namespace, labels: EGRESS_GATEWAY.labels },
        resolve: dnsResolver(dnsAt, { timeoutMs: 1000 }),
        // This test's internet is loopback, which the gateway refuses by default (SSRF).
        forbiddenUpstreams: () => forbiddenRanges({ allowLoopback: true }),
        logger: pino({ level: 'info' }, { write: (l: string) => void audit.push(JSON.parse(l) as (typeof audit)[number]) }),
      });
      await listenInNetns(nsPath, { host: GATEWAY_IP, port: EGRESS_GATEWAY.hbonePort }, gateway);
      closers.push(() => gateway.drain(500));

      const state = egressState({ mode: 'REGISTRY_ONLY', hosts: ['api.example.com'] });
      const source = state.workloadByIp(POD_IP)!;
      const cred = { identity: source.identity, secureContext: svidContext(mesh.mint(source.identity)) } as Credential;
      const pool = new HbonePool({ refusePeerCertificate: () => undefined, logger: silentLogger() });
      closers.push(() => pool.close());
      const ctx: OutboundContext = {
        state: () => state,
        workloadOf: async () => source,
        certs: { current: () => cred, waitFor: async () => cred, trustedRoots: () => mesh.rootsPem },
        pool,
        egressNames: vips,
        telemetry: new Telemetry(pino({ level: 'info' }, { write: (l: string) => void access.push(JSON.parse(l) as ConnectionRecord) })),
        log: silentLogger(),
      };
      const pod = { namespace: 'default', name: 'a', ip: POD_IP, netns: nsPath };
      const capture: Server = createServer({ allowHalfOpen: true }, (s: Socket) => void handleOutbound(ctx, pod, s));
      await listenInNetns(nsPath, { host: '127.0.0.1', port: 15001 }, capture);
      closers.push(() => new Promise((r) => capture.close(() => r(undefined))));
    } catch (err) {
      for (const c of closers.reverse()) await c();
      throw err;
    }
  });
  after(async () => {
    for (const c of closers.reverse()) await c();
  });

  const waitFor = async <T>(list: T[], pred: (x: T) => boolean, what: string): Promise<T> => {
    for (let i = 0; i < 150; i++) {
      const hit = list.find(pred);
      if (hit) return hit;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no ${what}; have ${JSON.stringify(list)}`);
  };

  /** Connects from the pod's namespace as an app would (no mark: captured). */
  const dial = (host: string, port: number, allowHalfOpen = true): Socket => connectFromNetns(nsPath, { host, port, allowHalfOpen });

  test('a VIP handed out for api.example.com reaches it through the gateway, logged by name with the gateway as destination', async () => {
    const vip = vips.allocate('api.example.com');
    const raw = dial(vip, externalPort);
    const tls = tlsConnect({ socket: raw, servername: 'api.example.com', ca: externalRoot });
    await once(tls, 'secureConnect');
    tls.write('ping');
    let got = '';
    tls.on('data', (d: Buffer) => (got += d.toString()));
    await once(tls, 'end');
    tls.end();
    assert.equal(got, 'external got ping');
    const line = await waitFor(access, (r) => r.flag === '-' && r.destinationAddress === `api.example.com:${externalPort}`, 'access-log line for the egress connection');
    assert.equal(line.destinationWorkload, 'egress-gateway-0');
    assert.equal(line.destinationNamespace, EGRESS_GATEWAY.namespace);
    assert.equal(line.destinationPrincipal, 'cluster.local/ns/ambit-system/sa/egress-gateway');
    assert.equal(line.sourcePrincipal, 'cluster.local/ns/default/sa/a');
    const rec = await waitFor(audit, (r) => r.verdict === 'allowed', 'allowed audit line at the gateway');
    assert.equal(rec.source, 'spiffe://cluster.local/ns/default/sa/a', 'the gateway saw the pod\'s own SVID');
    assert.equal(rec.authority, `api.example.com:${externalPort}`);
  });

  for (const [what, host, reason] of [
    ['a raw external IP', RAW_EXTERNAL, /is outside the mesh .* dial external hosts by name/],
    ['a VIP this proxy never handed out', '240.240.200.1', /did not hand out .* resolve the host name again/],
  ] as const) {
    test(`${what} is refused (NO_ROUTE) and logged`, async () => {
      const s = dial(host, 443, false); // the proxy's FIN then closes it
      s.on('error', () => undefined);
      s.resume();
      await once(s, 'close');
      const line = await waitFor(access, (r) => r.destinationAddress === `${host}:443`, `access-log line for ${host}`);
      assert.equal(line.flag, 'NO_ROUTE');
      assert.match(line.reason ?? '', reason);
    });
  }
});
