// The DNS server: one query in, one answer out, over UDP and TCP (RFC 1035 4.2). Answers come
// from the zones in order, then the upstream; a malformed query costs only itself (FORMERR or
// drop, logged) and the server keeps serving. Sockets may be injected so the node proxy can run
// this server on listeners it creates inside pod namespaces.
import { randomInt } from 'node:crypto';
import { type Socket as UdpSocket, createSocket } from 'node:dgram';
import { type AddressInfo, type Server as TcpServer, type Socket, createServer, isIP } from 'node:net';
import { LogBudget, type Logger, silentLogger } from '../log.js';
import { exchangeTcp, exchangeUdp } from './client.js';
import { decodeMessage, encodeMessage } from './codec.js';
import { type DnsEndpoint, formatEndpoint } from './endpoint.js';
import { type DnsMessage, type DnsRecord, OPCODE_QUERY, RCODE, RR_CLASS_IN, RR_TYPE, responseTo } from './message.js';
import type { Zone } from './zone.js';

export interface DnsServerOptions {
  /** Consulted in order; the first that does not return null answers. */
  zones?: Zone[];
  /** Where names outside every zone go; without it they are NXDOMAIN. */
  upstream?: DnsEndpoint;
  /** How long to wait for the upstream before answering SERVFAIL (default 2000 ms). */
  upstreamTimeoutMs?: number;
  /** Idle TCP connections are closed after this long (default 10000 ms). */
  tcpIdleTimeoutMs?: number;
  /** Defaults: SERVER_LIMITS. */
  limits?: Partial<Record<keyof typeof SERVER_LIMITS, number>>;
  logger?: Logger;
}

type Transport = 'udp' | 'tcp';

const CLASSIC_UDP_LIMIT = 512;
const OUR_EDNS_PAYLOAD = 1232;
/**
 * What a query may hold, checked on its header before anything is decoded: one question (RFC
 * 1035 practice; the server answers no other), a few records beside it (EDNS OPT, a cookie, a
 * TSIG) and a size no real query comes near. Decoding is what a hostile pod would make expensive.
 */
export const QUERY_LIMITS = { bytes: 4096, otherRecords: 8 } as const;
/** Per TCP connection: answers being worked on, and answer bytes waiting for the client to read. */
export const TCP_LIMITS = { inFlight: 64, queuedBytes: 64 * 1024 } as const;
/**
 * Per server (one per pod in a node proxy): queries relayed upstream at once (each holds a socket
 * for up to upstreamTimeoutMs), and TCP connections open at once. Past them a query is answered
 * SERVFAIL and a connection closed at once, so one flooding pod cannot take the node proxy's file
 * descriptors from every other pod.
 */
export const SERVER_LIMITS = { forwardsInFlight: 128, tcpConnections: 64 } as const;

export class DnsServer {
  private readonly zones: Zone[];
  private readonly log: Logger;
  private readonly upstreamTimeoutMs: number;
  private readonly tcpIdleTimeoutMs: number;
  private readonly cleanups: (() => void)[] = [];
  private readonly connections = new Set<Socket>();
  private readonly owned: (UdpSocket | TcpServer)[] = [];
  private readonly limits: Record<keyof typeof SERVER_LIMITS, number>;
  private forwarding = 0;
  /** At most one line a second for each limit. */
  private readonly limitLog = new LogBudget(1);

  constructor(private readonly opts: DnsServerOptions = {}) {
    this.zones = opts.zones ?? [];
    this.log = opts.logger ?? silentLogger();
    this.upstreamTimeoutMs = opts.upstreamTimeoutMs ?? 2000;
    this.tcpIdleTimeoutMs = opts.tcpIdleTimeoutMs ?? 10_000;
    this.limits = { ...SERVER_LIMITS, ...opts.limits };
  }

  /** Logs that a limit was hit, at most once a second per limit. */
  private overLimit(which: keyof typeof SERVER_LIMITS, detail: Record<string, unknown>): void {
    const said = this.limitLog.take(which);
    if (said === null) return;
    this.log.warn({ limit: which, max: this.limits[which], ...detail, ...(said.suppressed > 0 ? { suppressed: said.suppressed } : {}) }, `dns server at its limit of ${this.limits[which]} ${which === 'tcpConnections' ? 'TCP connections' : 'queries relayed upstream at once'}: refusing more until some finish`);
  }

  /** Binds UDP and TCP on the same address and port (port 0: one free port for both). */
  async listen(host: string, port: number): Promise<DnsEndpoint> {
    for (let attempt = 0; ; attempt++) {
      const udp = createSocket({ type: isIP(host) === 6 ? 'udp6' : 'udp4' });
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(port, host, () => { udp.off('error', reject); resolve(); });
      });
      const bound = udp.address().port;
      const tcp = createServer({ allowHalfOpen: true });
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen(bound, host, () => { tcp.off('error', reject); resolve(); });
        });
      } catch (err) {
        udp.close();
        // With port 0 the kernel may hand out a UDP port whose TCP twin is taken: try another.
        if (port === 0 && attempt < 5 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE') continue;
        throw err;
      }
      this.owned.push(udp, tcp);
      this.serveUdp(udp);
      this.serveTcp(tcp);
      const endpoint = { host, port: (tcp.address() as AddressInfo).port };
      this.log.info({ listen: formatEndpoint(endpoint) }, 'dns server listening');
      return endpoint;
    }
  }

  /** Answers queries arriving on a bound UDP socket (owned by the caller). */
  serveUdp(sock: UdpSocket): void {
    const onMessage = (msg: Buffer, rinfo: { address: string; port: number }) => {
      void this.answer(msg, 'udp').then((reply) => {
        if (!reply) return;
        // The socket may have closed meanwhile (its pod went), or the source port be unusable
        // (0): either way only this answer is lost.
        try {
          sock.send(reply, rinfo.port, rinfo.address, (err) => {
            if (err) this.log.debug({ to: `${rinfo.address}:${rinfo.port}`, err: err.message }, 'dns udp answer not sent');
          });
        } catch (err) {
          this.log.debug({ to: `${rinfo.address}:${rinfo.port}`, err: (err as Error).message }, 'dns udp answer not sent');
        }
      });
    };
    const onError = (err: Error) => this.log.warn({ err: err.message }, 'dns udp socket error');
    sock.on('message', onMessage);
    sock.on('error', onError);
    this.cleanups.push(() => { sock.off('message', onMessage); sock.off('error', onError); });
  }

  /** Answers length-prefixed queries on connections accepted by a listening server (owned by the caller). */
  serveTcp(server: TcpServer): void {
    const onConnection = (conn: Socket) => this.handleConnection(conn);
    server.on('connection', onConnection);
    this.cleanups.push(() => server.off('connection', onConnection));
  }

  /** Wire query in, wire answer out; null means drop (no reply is safe to send). */
  async answer(wire: Buffer, transport: Transport): Promise<Buffer | null> {
    const unfit = queryProblem(wire);
    if (unfit) {
      this.log.warn({ transport, bytes: wire.length, err: unfit }, 'dropping malformed dns query');
      return formErrFor(wire);
    }
    let query: DnsMessage;
    try {
      query = decodeMessage(wire);
    } catch (err) {
      this.log.warn({ transport, bytes: wire.length, err: (err as Error).message }, 'dropping malformed dns query');
      return formErrFor(wire);
    }
    if (query.qr) return null; // never answer answers: that is how reflection loops start
    try {
      const reply = await this.resolve(query, wire, transport);
      return transport === 'udp' ? fitUdp(reply, udpLimit(query)) : reply;
    } catch (err) {
      this.log.error({ name: query.questions[0]?.name, err: (err as Error).message }, 'dns answer failed; answering SERVFAIL');
      return encodeMessage(responseTo(query, RCODE.SERVFAIL));
    }
  }

  private async resolve(query: DnsMessage, wire: Buffer, transport: Transport): Promise<Buffer> {
    if (query.opcode !== OPCODE_QUERY) return encodeMessage(responseTo(query, RCODE.NOTIMP));
    if (query.questions.length !== 1) return encodeMessage(responseTo(query, RCODE.FORMERR));
    const q = query.questions[0]!;
    // Only the Internet class exists here. Any other class (CHAOS, HESIOD, ANY, a made-up number)
    // would skip every zone, and so the egress zone's REGISTRY_ONLY refusals, and go upstream: a
    // way to send any name out of the mesh. Refused, never relayed.
    if (q.class !== RR_CLASS_IN) {
      this.log.debug({ name: q.name, class: q.class, transport }, 'refusing a dns query of a class other than IN');
      return encodeMessage(responseTo(query, RCODE.REFUSED));
    }
    {
      for (const zone of this.zones) {
        const found = zone.lookup(q.name, q.type);
        if (!found) continue;
        const reply = responseTo(query, found.rcode);
        reply.aa = true;
        reply.answers = found.answers;
        reply.authorities = found.authorities ?? [];
        reply.additionals = ednsOf(query) ? [ourOpt()] : [];
        this.log.debug({ name: q.name, type: q.type, rcode: found.rcode, answers: found.answers.length }, 'dns answer');
        return encodeMessage(reply);
      }
    }
    if (!this.opts.upstream) return encodeMessage(responseTo(query, RCODE.NXDOMAIN));
    return this.forward(query, wire, transport, this.opts.upstream);
  }

  /** Relays the query under a fresh id (so replies to other clients cannot be confused) and restores the client's id. */
  private async forward(query: DnsMessage, wire: Buffer, transport: Transport, upstream: DnsEndpoint): Promise<Buffer> {
    if (this.forwarding >= this.limits.forwardsInFlight) {
      this.overLimit('forwardsInFlight', { name: query.questions[0]?.name });
      return encodeMessage(responseTo(query, RCODE.SERVFAIL));
    }
    this.forwarding++;
    try {
      return await this.relay(query, wire, transport, upstream);
    } finally {
      this.forwarding--;
    }
  }

  private async relay(query: DnsMessage, wire: Buffer, transport: Transport, upstream: DnsEndpoint): Promise<Buffer> {
    const relayed = Buffer.from(wire);
    relayed.writeUInt16BE(randomInt(0x10000), 0);
    try {
      let reply = await exchangeUdp(upstream, relayed, this.upstreamTimeoutMs);
      const truncated = reply.length >= 4 && (reply[2]! & 0x02) !== 0;
      if (truncated && transport === 'tcp') reply = await exchangeTcp(upstream, relayed, this.upstreamTimeoutMs);
      const out = Buffer.from(reply);
      out.writeUInt16BE(query.id, 0);
      return out;
    } catch (err) {
      this.log.warn({ upstream: formatEndpoint(upstream), name: query.questions[0]?.name, err: (err as Error).message }, 'dns upstream failed; answering SERVFAIL');
      return encodeMessage(responseTo(query, RCODE.SERVFAIL));
    }
  }

  private handleConnection(conn: Socket): void {
    if (this.connections.size >= this.limits.tcpConnections) {
      this.overLimit('tcpConnections', { from: conn.remoteAddress });
      conn.on('error', () => {});
      conn.destroy();
      return;
    }
    this.connections.add(conn);
    conn.setTimeout(this.tcpIdleTimeoutMs, () => conn.destroy());
    let buffered = Buffer.alloc(0);
    conn.on('close', () => {
      this.connections.delete(conn);
      buffered = Buffer.alloc(0);
    });
    conn.on('error', (err) => this.log.debug({ err: err.message }, 'dns tcp connection error'));
    // A client may half-close after its last query; finish the answers in flight, then close.
    let pending = 0;
    let ended = false;
    const complete = (): boolean => buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0);
    const maybeEnd = () => { if (ended && pending === 0 && !complete() && !conn.destroyed) conn.end(); };
    // A client that sends queries and never reads the answers must not make them pile up: reading
    // stops while TCP_LIMITS are reached, and frames already received wait their turn.
    const full = (): boolean => pending >= TCP_LIMITS.inFlight || conn.writableLength >= TCP_LIMITS.queuedBytes;
    // Answers that complete go on with the next queries in a later turn of the event loop, so one
    // connection's pipeline runs at most TCP_LIMITS.inFlight queries per turn, and a reset or a
    // timeout is seen before more are worked on.
    let scheduled = false;
    const next = (): void => {
      if (scheduled) return;
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        pump();
        maybeEnd();
      });
    };
    const pump = (): void => {
      // A connection that went (reset, idle timeout) takes its unanswered queries with it.
      if (conn.destroyed) {
        buffered = Buffer.alloc(0);
        return;
      }
      while (!full() && complete()) {
        const frame = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
        buffered = buffered.subarray(2 + frame.length);
        pending++;
        void this.answer(frame, 'tcp').then((reply) => {
          pending--;
          if (reply && !conn.destroyed && conn.writable) {
            const prefix = Buffer.alloc(2);
            prefix.writeUInt16BE(reply.length);
            conn.write(Buffer.concat([prefix, reply]));
          }
          next();
          maybeEnd();
        });
      }
      if (full()) conn.pause();
      else if (!ended) conn.resume();
    };
    conn.on('drain', () => pump());
    conn.on('end', () => { ended = true; maybeEnd(); });
    conn.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      pump();
    });
  }

  /** Stops serving: detaches from injected sockets, closes owned ones and open TCP connections. */
  async close(): Promise<void> {
    for (const c of this.cleanups.splice(0)) c();
    for (const conn of this.connections) conn.destroy();
    await Promise.all(
      this.owned.splice(0).map((s) => new Promise<void>((resolve) => {
        if ('send' in s) s.close(() => resolve());
        else s.close(() => resolve());
      })),
    );
  }
}

/** Why a query's header rules it out before decoding (QUERY_LIMITS), or undefined if it may be decoded. */
export function queryProblem(wire: Buffer): string | undefined {
  if (wire.length > QUERY_LIMITS.bytes) return `query is ${wire.length} bytes, limit ${QUERY_LIMITS.bytes}`;
  if (wire.length < 12) return undefined; // the decoder names the truncated header
  const questions = wire.readUInt16BE(4);
  if (questions !== 1) return `query has ${questions} questions, exactly 1 is answered`;
  const others = wire.readUInt16BE(6) + wire.readUInt16BE(8) + wire.readUInt16BE(10);
  if (others > QUERY_LIMITS.otherRecords) return `query carries ${others} answer, authority and additional records, limit ${QUERY_LIMITS.otherRecords}`;
  return undefined;
}

/** FORMERR for an undecodable query when its header is readable; otherwise nothing to answer. */
function formErrFor(wire: Buffer): Buffer | null {
  if (wire.length < 12 || (wire[2]! & 0x80) !== 0) return null;
  const out = Buffer.alloc(12);
  out.writeUInt16BE(wire.readUInt16BE(0), 0);
  out.writeUInt16BE(0x8000 | (wire[2]! & 0x78) << 8 | 0x0080 | RCODE.FORMERR, 2);
  return out;
}

function ednsOf(query: DnsMessage): DnsRecord | undefined {
  return query.additionals.find((r) => r.type === 'RAW' && r.code === RR_TYPE.OPT);
}

function ourOpt(): DnsRecord {
  return { name: '', type: 'RAW', code: RR_TYPE.OPT, class: OUR_EDNS_PAYLOAD, ttl: 0, rdata: Buffer.alloc(0) };
}

/** The largest UDP reply the client accepts: 512, or its EDNS payload size (RFC 6891). */
function udpLimit(query: DnsMessage): number {
  const opt = ednsOf(query);
  return opt ? Math.max(CLASSIC_UDP_LIMIT, Math.min(opt.class, OUR_EDNS_PAYLOAD)) : CLASSIC_UDP_LIMIT;
}

/** A reply too big for UDP becomes its header and question with TC set: the client retries over TCP. */
function fitUdp(reply: Buffer, limit: number): Buffer {
  if (reply.length <= limit) return reply;
  const msg = decodeMessage(reply);
  return encodeMessage({ ...msg, tc: true, questions: msg.questions.slice(0, 1), answers: [], authorities: [], additionals: [] });
}
