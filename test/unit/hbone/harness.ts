// Test harness for HBONE: a throw-away mesh CA, a server SVID and a client SVID, an HBONE server
// on 127.0.0.1 whose tunnels reach a local echo server, and a capture of its logs and reports.
import { once } from 'node:events';
import { createServer, connect as netConnect, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SecureContext } from 'node:tls';
import { pino } from 'pino';
import {
  createHboneServer, HbonePool, RevokedSvids, type HboneServer, type HboneServerLimits, type RefusalCode, type RefusalContext, type TunnelDecision, type TunnelRecord, type TunnelRequest,
} from '../../../src/hbone/index.js';
import { MeshFixture, svidContext, type FixtureSvid } from '../../../src/testing/svid-fixtures.js';

export const POD_AUTHORITY = '10.44.0.7:8080';

export interface LogLine { level: number; reason?: string; detail?: string; msg: string }

/** An echo server that keeps half-close: echoes everything, ends after the client ended. */
export async function startEcho(): Promise<{ server: Server; port: number; received: () => number }> {
  let received = 0;
  const server = createServer({ allowHalfOpen: true }, (s) => {
    s.on('data', (d: Buffer) => { received += d.length; });
    s.pipe(s);
    s.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, received: () => received };
}

export function dialEcho(port: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const s: Socket = netConnect({ host: '127.0.0.1', port, allowHalfOpen: true });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

export class Harness {
  readonly mesh = MeshFixture.create();
  readonly serverId = this.mesh.workload('shop', 'backend');
  readonly clientId = this.mesh.workload('shop', 'frontend');
  readonly serverSvid: FixtureSvid = this.mesh.mint(this.serverId);
  readonly clientSvid: FixtureSvid = this.mesh.mint(this.clientId);
  serverContext: SecureContext = svidContext(this.serverSvid);
  readonly clientContext: SecureContext = svidContext(this.clientSvid);
  readonly refusals: { code: RefusalCode; detail: string; context: RefusalContext }[] = [];
  readonly records: TunnelRecord[] = [];
  readonly tunnels: TunnelRequest[] = [];
  readonly logs: LogLine[] = [];
  secureConnections = 0;
  sessionsClosed = 0;
  server!: HboneServer;
  port = 0;
  echo!: Awaited<ReturnType<typeof startEcho>>;
  readonly pool = new HbonePool({ refusePeerCertificate: () => undefined, logger: pino({ level: 'silent' }) });
  /** The server's trust bundle (the mesh's root by default); recheck() applies a change to open connections. */
  roots: string[] = this.mesh.rootsPem;
  /** What the server refuses as revoked (none by default); recheck() applies a change to open connections. */
  revoked = RevokedSvids.NONE;
  decide: (t: TunnelRequest) => Promise<TunnelDecision> = async () => ({ status: 200, upstream: await dialEcho(this.echo.port) });

  static async start(limits: Partial<HboneServerLimits> = {}): Promise<Harness> {
    const h = new Harness();
    h.echo = await startEcho();
    const logger = pino({ level: 'debug' }, { write: (line: string) => { h.logs.push(JSON.parse(line) as LogLine); } });
    h.server = createHboneServer({
      secureContext: () => h.serverContext,
      trustedRoots: () => h.roots,
      refusePeerCertificate: (der) => h.revoked.check(der),
      onTunnel: (t) => { h.tunnels.push(t); return h.decide(t); },
      onClose: (r) => h.records.push(r),
      onRefused: (code, detail, context) => h.refusals.push({ code, detail, context }),
      limits,
      logger,
    });
    h.server.on('secureConnection', () => { h.secureConnections++; });
    h.server.on('session', (s) => s.once('close', () => { h.sessionsClosed++; }));
    h.server.listen(0, '127.0.0.1');
    await once(h.server, 'listening');
    h.port = (h.server.address() as AddressInfo).port;
    return h;
  }

  openTunnel(overrides: Partial<Parameters<HbonePool['open']>[0]> = {}, pool: HbonePool = this.pool): ReturnType<HbonePool['open']> {
    return pool.open({
      sourceIdentity: this.clientId,
      secureContext: this.clientContext,
      trustedRoots: this.mesh.rootsPem,
      expectedIdentity: this.serverId,
      address: { host: '127.0.0.1', port: this.port },
      authority: POD_AUTHORITY,
      ...overrides,
    });
  }

  /** Sends `payload` through a new tunnel, half-closes, and resolves with what came back. */
  async roundTrip(payload: Buffer | string = 'ping'): Promise<string> {
    const stream = await this.openTunnel();
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.end(payload);
    await once(stream, 'end');
    return Buffer.concat(chunks).toString();
  }

  /** Resolves once a refusal with `code` was reported, or rejects after `ms`. */
  async refusal(code: RefusalCode, ms = 3000): Promise<{ code: RefusalCode; detail: string; context: RefusalContext }> {
    const deadline = Date.now() + ms;
    for (;;) {
      const r = this.refusals.find((x) => x.code === code);
      if (r) return r;
      if (Date.now() > deadline) throw new Error(`no ${code} refusal within ${ms} ms; got ${JSON.stringify(this.refusals)}`);
      await new Promise((res) => setTimeout(res, 10));
    }
  }

  loggedRefusal(code: RefusalCode): LogLine | undefined {
    return this.logs.find((l) => l.msg === 'hbone refused' && l.reason === code);
  }

  async stop(): Promise<void> {
    await this.pool.close();
    await this.server.drain(500);
    this.echo.server.close();
  }
}

export async function waitFor(pred: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
