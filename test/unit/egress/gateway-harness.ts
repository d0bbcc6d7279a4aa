// Test harness for the egress gateway on loopback: a mesh CA with SVIDs for the gateway and two
// sources, an "external" HTTPS server with a certificate from a separate (public-style) CA, the
// gateway itself, and a minimal HBONE client that sends a host-name `:authority` (HbonePool only
// accepts IP:port authorities, so this test client speaks the same wire format by hand).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect as h2connect, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable, type Duplex } from 'node:stream';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { after, before } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { parseDocuments, type AuthorizationPolicyResource, type ServiceEntryResource } from '../../../src/config/index.js';
import { createEgressGateway, type EgressGatewayOptions, type EgressRecord } from '../../../src/egress/index.js';
import { forbiddenRanges } from '../../../src/egress/address-policy.js';
import { verifyServerIdentity, type HboneServer } from '../../../src/hbone/index.js';
import { createPublicCa } from '../../../src/lab/public-ca.js';
import { compilePolicies } from '../../../src/policy/index.js';
import { MeshFixture, svidContext, type FixtureSvid } from '../../../src/testing/svid-fixtures.js';

export const EXTERNAL_NAMES = ['api.example.com', 'service1.foo.example', 'service1.bar.example', 'plain.example.com', 'other.example.com', 'wrongca.example.com'];

export interface ExternalServer {
  server: HttpsServer;
  port: number;
  /** `host sni` of every request served. */
  seen: string[];
}

async function startExternal(certPem: string, keyPem: string, host: string, port = 0): Promise<ExternalServer> {
  const seen: string[] = [];
  const server = createHttpsServer({ cert: certPem, key: keyPem }, (req, res) => {
    const sni = (req.socket as TLSSocket).servername;
    seen.push(`${req.headers.host} ${sni}`);
    req.resume();
    req.on('end', () => res.end(`hello ${req.headers.host} sni=${sni} at ${host}`));
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, () => resolve()));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

export interface Harness {
  mesh: MeshFixture;
  a: FixtureSvid;
  b: FixtureSvid;
  gatewaySvid: FixtureSvid;
  externalRootPem: string;
  otherRootPem: string;
  external: ExternalServer;
  /** An HTTPS server on 127.0.0.2 with the same port: where a client would rather have gone. */
  decoy: ExternalServer;
  gateway: HboneServer;
  gatewayPort: number;
  /** Every (ip, port) the gateway dialed through its connect hook. */
  dials: string[];
  records: EgressRecord[];
  metrics: Registry;
  close(): Promise<void>;
}

export async function startHarness(extra: Partial<EgressGatewayOptions> = {}): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), `ambit-egress-gw-${process.pid}-`));
  const closers: (() => Promise<void> | void)[] = [() => rm(dir, { recursive: true, force: true })];
  try {
    const pub = await createPublicCa(join(dir, 'pub'), [{ names: EXTERNAL_NAMES }]);
    const other = await createPublicCa(join(dir, 'other'), [{ names: ['unused.example.com'] }]);
    const certPem = await readFile(pub.hosts[0]!.certPath, 'utf8');
    const keyPem = await readFile(pub.hosts[0]!.keyPath, 'utf8');
    const external = await startExternal(certPem, keyPem, '127.0.0.1');
    closers.push(() => new Promise((r) => { external.server.closeAllConnections(); external.server.close(() => r()); }));
    const decoy = await startExternal(certPem, keyPem, '127.0.0.2', external.port);
    closers.push(() => new Promise((r) => { decoy.server.closeAllConnections(); decoy.server.close(() => r()); }));
    const P = external.port;

    const mesh = MeshFixture.create();
    const a = mesh.mint(mesh.workload('shop', 'app-a'));
    const b = mesh.mint(mesh.workload('billing', 'app-b'));
    const gatewaySvid = mesh.mint(mesh.workload('egress', 'egress-gateway'));
    const entries = parseDocuments(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: external-tls, namespace: egress }
spec:
  hosts: [api.example.com, "*.foo.example", "*.bar.example"]
  ports: [{ number: ${P}, name: tls, protocol: TLS }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: external-http, namespace: egress }
spec:
  hosts: [plain.example.com, wrongca.example.com, other.example.com]
  ports: [{ number: 80, name: http, protocol: HTTP }]
`, 'entries.yaml') as ServiceEntryResource[];
    const policies = (parseDocuments(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: app-a, namespace: egress }
spec:
  selector: { matchLabels: { app: egress-gateway } }
  action: ALLOW
  rules:
  - from: [{ source: { principals: [cluster.local/ns/shop/sa/app-a] } }]
    to: [{ operation: { hosts: [api.example.com, "*.foo.example", plain.example.com, wrongca.example.com, other.example.com] } }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: app-b, namespace: egress }
spec:
  selector: { matchLabels: { app: egress-gateway } }
  action: ALLOW
  rules:
  - from: [{ source: { principals: [cluster.local/ns/billing/sa/app-b] } }]
    to: [{ operation: { hosts: ["*.bar.example"] } }]
`, 'policies.yaml') as AuthorizationPolicyResource[]).map((p) => ({ name: p.metadata.name, namespace: p.metadata.namespace!, spec: p.spec }));
    const evaluator = compilePolicies(policies, { rootNamespace: 'ambit-system' });

    const records: EgressRecord[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const line of chunk.toString().split('\n')) {
          if (!line) continue;
          const o = JSON.parse(line) as EgressRecord & { msg: string };
          if (o.msg === 'egress connection') records.push(o);
        }
        cb();
      },
    });
    const dials: string[] = [];
    const loopbackInternet = forbiddenRanges({ allowLoopback: true });
    const metrics = new Registry();
    const ctx = svidContext(gatewaySvid);
    const gateway = createEgressGateway({
      refusePeerCertificate: () => undefined, // nothing revoked in these tests
      secureContext: () => ctx,
      trustedRoots: () => mesh.rootsPem,
      serviceEntries: () => entries,
      outboundTrafficPolicy: () => 'REGISTRY_ONLY',
      policy: () => evaluator,
      gatewayTarget: { namespace: 'egress', labels: { app: 'egress-gateway' } },
      // Test double: resolution is injected; every external name lives on 127.0.0.1.
      resolve: async (host) => (EXTERNAL_NAMES.includes(host) || host === 'unknown.example.org' ? ['127.0.0.1'] : []),
      // The harness's "internet" is loopback; the SSRF tests pass the real default back in.
      forbiddenUpstreams: () => loopbackInternet,
      connect: (ip, port): Socket => {
        dials.push(`${ip}:${port}`);
        return netConnect({ host: ip, port, allowHalfOpen: true });
      },
      originate: {
        'plain.example.com': { caBundlePem: pub.rootPem, port: P },
        'other.example.com': { caBundlePem: pub.rootPem, port: P },
        'wrongca.example.com': { caBundlePem: other.rootPem, port: P },
      },
      limits: { firstBytesTimeoutMs: 2000 },
      logger: pino({ level: 'info' }, sink),
      metrics,
      ...extra,
    });
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', () => resolve()));
    closers.push(() => gateway.drain(500));
    return {
      mesh, a, b, gatewaySvid, externalRootPem: pub.rootPem, otherRootPem: other.rootPem, external, decoy, gateway,
      gatewayPort: (gateway.address() as AddressInfo).port, dials, records, metrics,
      close: async () => {
        for (const c of closers.reverse()) await c();
      },
    };
  } catch (err) {
    for (const c of closers.reverse()) await c();
    throw err;
  }
}

/** One HTTP/2-over-mTLS connection to the gateway as `svid`, verifying the gateway's SPIFFE ID. */
export async function meshSession(h: Harness, svid: FixtureSvid): Promise<ClientHttp2Session> {
  const session = h2connect(`https://127.0.0.1:${h.gatewayPort}`, {
    createConnection: () => tlsConnect({
      host: '127.0.0.1', port: h.gatewayPort, secureContext: svidContext(svid), ALPNProtocols: ['h2'],
      checkServerIdentity: verifyServerIdentity(h.gatewaySvid.spiffeId),
    }),
  });
  session.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => session.once('connect', () => resolve()).once('error', reject));
  return session;
}

/** Sends CONNECT `authority`; resolves with the HTTP status and the stream. */
export function openTunnel(session: ClientHttp2Session, authority: string): Promise<{ status: number; stream: ClientHttp2Stream }> {
  const stream = session.request({ ':method': 'CONNECT', ':authority': authority }, { endStream: false });
  stream.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    stream.once('response', (headers) => resolve({ status: Number(headers[':status']), stream }));
    stream.once('close', () => reject(new Error(`tunnel closed before a response (rst ${stream.rstCode})`)));
  });
}

/** Everything `stream` delivers until it closes, and how it closed. */
export function drain(stream: Duplex): Promise<{ data: string; rstCode: number | undefined; error?: string }> {
  return new Promise((resolve) => {
    let data = '';
    let error: string | undefined;
    stream.on('data', (d: Buffer) => (data += d.toString()));
    stream.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    stream.once('close', () => resolve({ data, rstCode: (stream as ClientHttp2Stream).rstCode, ...(error ? { error } : {}) }));
  });
}

/** TLS through the tunnel to `servername`, verifying the external certificate against `caPem`. */
export function tlsThrough(stream: Duplex, servername: string, caPem: string): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({ socket: stream, servername, ca: caPem });
    tls.once('secureConnect', () => resolve(tls)).once('error', reject);
  });
}

/** One HTTP/1.1 request on `sock` (already connected); resolves with the response body. */
export function httpGet(sock: Duplex, host: string, close = true): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    const onData = (d: Buffer): void => {
      data += d.toString();
      const m = /\r\n\r\n/.exec(data);
      const len = /content-length: (\d+)/i.exec(data);
      if (m && len && data.length >= m.index + 4 + Number(len[1])) {
        sock.off('data', onData);
        resolve(data.slice(m.index + 4, m.index + 4 + Number(len[1])));
      }
    };
    sock.on('data', onData);
    sock.once('error', reject);
    sock.once('close', () => reject(new Error(`closed before a whole response: ${JSON.stringify(data)}`)));
    sock.write(`GET / HTTP/1.1\r\nHost: ${host}\r\n${close ? 'Connection: close\r\n' : ''}\r\n`);
  });
}

/** Waits for the gateway's audit line matching `pred`. */
export async function recordFor(h: Harness, pred: (r: EgressRecord) => boolean, timeoutMs = 3000): Promise<EgressRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = h.records.find(pred);
    if (r) return r;
    if (Date.now() > deadline) throw new Error(`no egress record matched; have ${JSON.stringify(h.records.map((x) => [x.authority, x.code]))}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

/** A harness (options built when it starts) with a mesh session per source, for one describe block. */
export function withHarness(extra: () => Partial<EgressGatewayOptions>, started: (h: Harness) => void = () => undefined): { h: Harness; sa: ClientHttp2Session; sb: ClientHttp2Session } {
  const c = {} as { h: Harness; sa: ClientHttp2Session; sb: ClientHttp2Session };
  before(async () => {
    c.h = await startHarness(extra());
    started(c.h);
    c.sa = await meshSession(c.h, c.h.a);
    c.sb = await meshSession(c.h, c.h.b);
  });
  after(async () => {
    // close(), not destroy(): on Node 20.20 destroying a client session right after the peer
    // reset one of its streams can spin inside nghttp2 (Http2Session::CopyDataIntoOutgoing).
    c.sa?.close();
    c.sb?.close();
    await c.h?.close();
  });
  return c;
}
