// A stub-resolver transport: send one query over UDP or TCP and wait for the matching answer.
// The server forwards to its upstream with it; tests and the lab use it as their `dig`.
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect, isIP } from 'node:net';
import { AmbitError, showValue } from '../errors.js';
import { decodeMessage, encodeMessage } from './codec.js';
import { type DnsEndpoint, formatEndpoint } from './endpoint.js';
import { type DnsMessage, newQuery } from './message.js';

export type DnsTransport = 'udp' | 'tcp';

function timeoutError(server: DnsEndpoint, transport: DnsTransport, ms: number): AmbitError {
  return new AmbitError('DNS_TIMEOUT', `Cannot query DNS server ${formatEndpoint(server)} over ${transport}: no answer within ${ms} ms`);
}

/** Sends `query` (wire bytes) over UDP; resolves with the first reply from `server` carrying the same id. */
export function exchangeUdp(server: DnsEndpoint, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = createSocket(isIP(server.host) === 6 ? 'udp6' : 'udp4');
    const id = query.readUInt16BE(0);
    const done = (err: Error | null, reply?: Buffer) => {
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve(reply!);
    };
    const timer = setTimeout(() => done(timeoutError(server, 'udp', timeoutMs)), timeoutMs);
    sock.on('message', (msg, rinfo) => {
      // Ignore stray or spoofed datagrams: only the server's reply to this id counts.
      if (rinfo.address !== server.host || rinfo.port !== server.port || msg.length < 2 || msg.readUInt16BE(0) !== id) return;
      done(null, msg);
    });
    sock.on('error', (err) => done(new AmbitError('DNS_UPSTREAM_FAILED', `Cannot query DNS server ${formatEndpoint(server)} over udp: ${err.message}`, { cause: err })));
    sock.send(query, server.port, server.host);
  });
}

/** Sends `query` over TCP with the 2-byte length prefix (RFC 1035 4.2.2); resolves with the reply. */
export function exchangeTcp(server: DnsEndpoint, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: server.host, port: server.port });
    let buffered = Buffer.alloc(0);
    const done = (err: Error | null, reply?: Buffer) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(reply!);
    };
    const timer = setTimeout(() => done(timeoutError(server, 'tcp', timeoutMs)), timeoutMs);
    const prefix = Buffer.alloc(2);
    prefix.writeUInt16BE(query.length);
    // No half-close: a server without allowHalfOpen would close before an answer that takes time.
    sock.on('connect', () => sock.write(Buffer.concat([prefix, query])));
    sock.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        done(null, buffered.subarray(2, 2 + buffered.readUInt16BE(0)));
      }
    });
    sock.on('end', () => done(new AmbitError('DNS_UPSTREAM_FAILED', `Cannot query DNS server ${formatEndpoint(server)} over tcp: connection closed before a whole reply`)));
    sock.on('error', (err) => done(new AmbitError('DNS_UPSTREAM_FAILED', `Cannot query DNS server ${formatEndpoint(server)} over tcp: ${err.message}`, { cause: err })));
  });
}

/** Asks `server` for (name, type) and decodes the reply. */
export async function queryDns(
  server: DnsEndpoint,
  name: string,
  type: number,
  opts: { transport?: DnsTransport; timeoutMs?: number; /** Ask again over TCP when a UDP reply is truncated (default true). */ retryTruncatedOverTcp?: boolean } = {},
): Promise<DnsMessage> {
  const id = randomInt(0x10000);
  const wire = encodeMessage(newQuery(id, name, type));
  const timeoutMs = opts.timeoutMs ?? 2000;
  const reply = decodeMessage(await (opts.transport === 'tcp' ? exchangeTcp : exchangeUdp)(server, wire, timeoutMs));
  checkReply(reply, id, name, type);
  // A UDP answer cut short (TC): only part of the records, or none; asked again over TCP, as RFC 7766 says.
  if (reply.tc && opts.transport !== 'tcp' && opts.retryTruncatedOverTcp !== false) {
    const whole = decodeMessage(await exchangeTcp(server, wire, timeoutMs));
    checkReply(whole, id, name, type);
    return whole;
  }
  return reply;
}

/** A reply must answer this query: same id, a response, the same one question. */
function checkReply(reply: DnsMessage, id: number, name: string, type: number): void {
  const q = reply.questions[0];
  const problem = reply.id !== id ? `id ${reply.id}, asked ${id}`
    : !reply.qr ? 'not a response (QR is 0)'
    : reply.questions.length !== 1 || q!.type !== type || q!.name.toLowerCase().replace(/\.$/, '') !== name.toLowerCase().replace(/\.$/, '') ? `its question is not the one asked (${showValue(q?.name)} type ${q?.type})`
    : undefined;
  if (problem !== undefined) throw new AmbitError('DNS_BAD_REPLY', `Cannot use the DNS reply for ${showValue(name)}: ${problem}`, { path: 'reply', value: name });
}
