// A pod's process is the client of its node proxy's DNS server, so every query may be hostile.
// Each attack here costs only itself: names that chain compression pointers, queries whose header
// asks for far more decoding than a query needs, a client that never reads its answers, an answer
// due after its socket closed. The server answers the next good query each time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { pino } from 'pino';
import {
  type DnsEndpoint, type DnsRecord, DnsServer, RCODE, RR_TYPE, StaticZone,
  decodeMessage, encodeMessage, newQuery, queryDns, type Zone,
} from '../../../src/dns/index.js';
import { MAX_POINTER_HOPS, readName } from '../../../src/dns/name.js';
import { QUERY_LIMITS, TCP_LIMITS } from '../../../src/dns/server.js';
import { rawUdp } from './raw-udp.js';

const A: DnsRecord = { name: 'api.example.com', type: 'A', class: 1, ttl: 60, address: '203.0.113.10' };

function logged(): { logger: pino.Logger; lines: { msg: string; err?: string }[] } {
  const lines: { msg: string; err?: string }[] = [];
  return { logger: pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l) as { msg: string; err?: string }) }), lines };
}

/** `hops` two-byte pointers after the name "a.", each pointing at the one before; returns the buffer and the last pointer's offset. */
function pointerChain(hops: number): { buf: Buffer; last: number } {
  const parts = [Buffer.from([1, 0x61, 0])];
  for (let i = 0; i < hops; i++) {
    const target = i === 0 ? 0 : 3 + 2 * (i - 1);
    parts.push(Buffer.from([0xc0 | (target >> 8), target & 0xff]));
  }
  return { buf: Buffer.concat(parts), last: 3 + 2 * (hops - 1) };
}

test('a name may follow at most MAX_POINTER_HOPS compression pointers', () => {
  const ok = pointerChain(MAX_POINTER_HOPS);
  assert.equal(readName(ok.buf, ok.last).name, 'a');
  const over = pointerChain(MAX_POINTER_HOPS + 1);
  assert.throws(() => readName(over.buf, over.last), new RegExp(`name at offset ${over.last} follows more than ${MAX_POINTER_HOPS} compression pointers`));
});

/** A query header with the given counts, then `body`. */
function header(id: number, counts: [number, number, number, number], body: Buffer): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(0x0100, 2);
  counts.forEach((c, i) => h.writeUInt16BE(c, 4 + 2 * i));
  return Buffer.concat([h, body]);
}

test('queries that ask for more decoding than a query needs get FORMERR from their header alone, logged', async () => {
  const { logger, lines } = logged();
  const server = new DnsServer({ zones: [new StaticZone([A])], logger });
  const at = await server.listen('127.0.0.1', 0);
  try {
    // 10,000 questions, each a pointer to the one before: 60 KB that took the decoder tens of ms.
    const chain = Buffer.alloc(10_000 * 6);
    for (let i = 0; i < 10_000; i++) {
      const target = i === 0 ? 12 : 12 + 6 * (i - 1);
      chain.writeUInt16BE(0xc000 | target, 6 * i);
      chain.writeUInt32BE(0x00010001, 6 * i + 2);
    }
    const cases: { wire: Buffer; err: RegExp }[] = [
      { wire: header(0x1001, [10_000, 0, 0, 0], chain.subarray(0, 4000 - 12)), err: /^query has 10000 questions, exactly 1 is answered$/ },
      { wire: header(0x1002, [1, 0, 0, 0], chain), err: new RegExp(`^query is ${12 + chain.length} bytes, limit ${QUERY_LIMITS.bytes}$`) },
      { wire: header(0x1003, [1, 100, 0, 9], chain.subarray(0, 600)), err: new RegExp(`^query carries 109 answer, authority and additional records, limit ${QUERY_LIMITS.otherRecords}$`) },
    ];
    for (const c of cases) {
      const reply = await rawUdp(at, c.wire, 500);
      assert.ok(reply, `an answer to ${c.err}`);
      const m = decodeMessage(reply);
      assert.deepEqual([m.id, m.qr, m.rcode], [c.wire.readUInt16BE(0), true, RCODE.FORMERR]);
      assert.ok(lines.some((l) => l.msg === 'dropping malformed dns query' && c.err.test(l.err ?? '')), `logged: ${c.err}; got ${JSON.stringify(lines.map((l) => l.err))}`);
    }
    assert.deepEqual((await queryDns(at, 'api.example.com', RR_TYPE.A)).answers, [A]);
  } finally {
    await server.close();
  }
});

test('an answer due after its UDP socket closed is dropped, not thrown (the pod went while the upstream was slow)', async () => {
  // A stand-in upstream that takes every query and never answers: the server answers SERVFAIL at its timeout.
  const upstream = createSocket('udp4');
  await new Promise<void>((r) => upstream.bind(0, '127.0.0.1', () => r()));
  const asked = new Promise<void>((r) => upstream.once('message', () => r()));
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const { logger, lines } = logged();
  const server = new DnsServer({ upstream: { host: '127.0.0.1', port: upstream.address().port }, upstreamTimeoutMs: 200, logger });
  const rejections: unknown[] = [];
  const onRejection = (e: unknown): void => void rejections.push(e);
  process.on('unhandledRejection', onRejection);
  try {
    server.serveUdp(sock);
    const client = createSocket('udp4');
    client.send(encodeMessage(newQuery(7, 'slow.example.org', RR_TYPE.A)), sock.address().port, '127.0.0.1');
    await asked;
    // The pod is removed while its query waits: its socket closes first, as the node proxy does.
    await new Promise<void>((r) => sock.close(() => r()));
    await new Promise((r) => setTimeout(r, 400));
    client.close();
    assert.deepEqual(rejections, []);
    assert.ok(lines.some((l) => l.msg === 'dns udp answer not sent' && /Not running/i.test(l.err ?? '')), `logged: ${JSON.stringify(lines.map((l) => l.msg))}`);
  } finally {
    process.off('unhandledRejection', onRejection);
    await server.close();
    upstream.close();
  }
});

test('a TCP client that sends queries and never reads stops being read, and the server still answers others', async () => {
  // A large answer (~3 KB), so the kernel's socket buffers fill after a few thousand of them.
  const big: DnsRecord = { name: 'big.example.com', type: 'TXT', class: 1, ttl: 60, texts: Array.from({ length: 12 }, () => 'x'.repeat(250)) };
  let lookups = 0;
  const counting: Zone = { lookup: (name, type) => { lookups++; return new StaticZone([A, big]).lookup(name, type); } };
  const server = new DnsServer({ zones: [counting] });
  const at = await server.listen('127.0.0.1', 0);
  const sent = 20_000;
  const sock = connect(at.port, at.host);
  try {
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.on('error', () => undefined);
    sock.pause(); // never reads
    const q = encodeMessage(newQuery(1, 'big.example.com', RR_TYPE.TXT));
    const frame = Buffer.concat([Buffer.from([q.length >> 8, q.length & 0xff]), q]);
    sock.write(Buffer.concat(Array.from({ length: sent }, () => frame)));
    await new Promise((r) => setTimeout(r, 1500));
    // The kernel holds what it can (a few MB of answers); beyond that the server holds at most
    // TCP_LIMITS of answers and leaves the rest of the queries unread. Reading all would be 60 MB.
    const bound = Math.ceil((10 * 1024 * 1024 + TCP_LIMITS.queuedBytes) / 3000) + TCP_LIMITS.inFlight;
    assert.ok(lookups < bound, `answered ${lookups} of ${sent} queries from a client that reads nothing (bound ${bound})`);
    assert.ok(lookups > 0);
    const other = await queryDns(at, 'api.example.com', RR_TYPE.A, { transport: 'tcp' });
    assert.deepEqual(other.answers, [A]);
    // Once the client reads, the server reads again: every query is answered, then the connection ends.
    let got = 0;
    let buf = Buffer.alloc(0);
    const ended = new Promise<void>((r) => sock.once('end', () => r()));
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        got++;
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
    });
    sock.end();
    sock.resume();
    await ended;
    assert.equal(got, sent, 'all answers arrived once the client read');
    assert.equal(lookups, sent + 1, 'each query once (and the other client\'s)');
  } finally {
    sock.destroy();
    await server.close();
  }
});

test('queries left on a TCP connection that went are not worked on (no upstream lookups for a gone client)', async () => {
  let lookups = 0;
  const counting: Zone = { lookup: (name, type) => { lookups++; return new StaticZone([A]).lookup(name, type); } };
  const server = new DnsServer({ zones: [counting] });
  const at = await server.listen('127.0.0.1', 0);
  try {
    const sock = connect(at.port, at.host);
    sock.on('error', () => undefined);
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.pause();
    const q = encodeMessage(newQuery(1, 'api.example.com', RR_TYPE.A));
    const frame = Buffer.concat([Buffer.from([q.length >> 8, q.length & 0xff]), q]);
    // More than the kernel and TCP_LIMITS hold while the client reads nothing.
    sock.write(Buffer.concat(Array.from({ length: 200_000 }, () => frame)));
    await new Promise((r) => setTimeout(r, 500));
    const atReset = lookups;
    sock.resetAndDestroy();
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(atReset < 200_000, `the server stopped reading before the reset (${atReset} looked up)`);
    assert.ok(lookups - atReset <= 2 * TCP_LIMITS.inFlight, `after the reset at most a turn's queries were worked on: ${lookups - atReset} more lookups`);
  } finally {
    await server.close();
  }
});
