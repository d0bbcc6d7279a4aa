import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { type AddressInfo, connect, createServer } from 'node:net';
import {
  type DnsEndpoint, type DnsMessage, DnsServer, RCODE, RR_TYPE, StaticZone,
  decodeMessage, encodeMessage, exchangeUdp, newQuery, parseDnsServerConfig, queryDns,
} from '../../../src/dns/index.js';
import { rawUdp } from './raw-udp.js';
import { pino } from 'pino';

const zone = new StaticZone(parseDnsServerConfig({
  records: [
    { name: 'api.example.com', type: 'A', address: '203.0.113.10' },
    { name: 'api.example.com', type: 'AAAA', address: '2001:db8::10', ttl: 30 },
    { name: '*.wild.example.com', type: 'A', address: '203.0.113.20' },
    { name: 'alias.example.com', type: 'CNAME', target: 'api.example.com' },
    { name: 'out.example.com', type: 'CNAME', target: 'elsewhere.example.org' },
    { name: 'txt.example.com', type: 'TXT', text: ['hello', 'world'] },
    { name: 'big.example.com', type: 'TXT', text: Array.from({ length: 4 }, () => 'x'.repeat(200)) },
  ],
}).records);

/** Sends length-prefixed frames on one TCP connection and collects `count` replies. */
function rawTcp(server: DnsEndpoint, frames: Buffer[], count: number): Promise<DnsMessage[]> {
  return new Promise((resolve, reject) => {
    const sock = connect(server.port, server.host);
    let buf = Buffer.alloc(0);
    const out: DnsMessage[] = [];
    sock.on('connect', () => {
      for (const f of frames) {
        const p = Buffer.alloc(2);
        p.writeUInt16BE(f.length);
        sock.write(Buffer.concat([p, f]));
      }
    });
    sock.on('data', (c) => {
      buf = Buffer.concat([buf, c]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        out.push(decodeMessage(buf.subarray(2, 2 + buf.readUInt16BE(0))));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (out.length === count) { sock.destroy(); resolve(out); }
    });
    sock.on('error', reject);
  });
}

describe('dns server answering from a static zone', () => {
  const server = new DnsServer({ zones: [zone] });
  let at: DnsEndpoint;
  before(async () => { at = await server.listen('127.0.0.1', 0); });
  after(() => server.close());

  for (const transport of ['udp', 'tcp'] as const) {
    test(`A over ${transport}`, async () => {
      const r = await queryDns(at, 'api.example.com', RR_TYPE.A, { transport });
      assert.equal(r.rcode, RCODE.NOERROR);
      assert.equal(r.aa, true);
      assert.deepEqual(r.answers, [{ name: 'api.example.com', type: 'A', class: 1, ttl: 60, address: '203.0.113.10' }]);
    });
  }

  test('AAAA, TXT, and NODATA for a type the name lacks', async () => {
    assert.deepEqual((await queryDns(at, 'API.example.com', RR_TYPE.AAAA)).answers.map((a) => a.type === 'AAAA' && a.address), ['2001:db8::10']);
    assert.deepEqual((await queryDns(at, 'txt.example.com', RR_TYPE.TXT)).answers.map((a) => a.type === 'TXT' && a.texts), [['hello', 'world']]);
    const nodata = await queryDns(at, 'txt.example.com', RR_TYPE.A);
    assert.equal(nodata.rcode, RCODE.NOERROR);
    assert.deepEqual(nodata.answers, []);
  });

  test('wildcards answer one or more labels under the suffix, owned by the queried name', async () => {
    for (const name of ['foo.wild.example.com', 'a.b.wild.example.com']) {
      const r = await queryDns(at, name, RR_TYPE.A);
      assert.deepEqual(r.answers, [{ name, type: 'A', class: 1, ttl: 60, address: '203.0.113.20' }]);
    }
    assert.equal((await queryDns(at, 'wild.example.com', RR_TYPE.A)).rcode, RCODE.NXDOMAIN);
  });

  test('CNAMEs are chased inside the zone and left to the client outside it', async () => {
    const r = await queryDns(at, 'alias.example.com', RR_TYPE.A);
    assert.deepEqual(r.answers.map((a) => [a.name, a.type]), [['alias.example.com', 'CNAME'], ['api.example.com', 'A']]);
    const out = await queryDns(at, 'out.example.com', RR_TYPE.A);
    assert.deepEqual(out.answers.map((a) => a.type === 'CNAME' && a.target), ['elsewhere.example.org']);
  });

  test('a name in no zone, without upstream, is NXDOMAIN', async () => {
    assert.equal((await queryDns(at, 'nope.example.net', RR_TYPE.A)).rcode, RCODE.NXDOMAIN);
  });

  test('a reply over 512 bytes is truncated on UDP and whole on TCP', async () => {
    const udp = await queryDns(at, 'big.example.com', RR_TYPE.TXT, { retryTruncatedOverTcp: false });
    assert.equal(udp.tc, true);
    assert.deepEqual(udp.answers, []);
    const tcp = await queryDns(at, 'big.example.com', RR_TYPE.TXT, { transport: 'tcp' });
    assert.equal(tcp.tc, false);
    assert.equal(tcp.answers.length, 1);
    // The client's default: a truncated UDP reply is asked again over TCP (the egress gateway's
    // resolver relies on it: a name with many A records came back empty before).
    const followed = await queryDns(at, 'big.example.com', RR_TYPE.TXT);
    assert.deepEqual([followed.tc, followed.answers.length], [false, 1]);
  });

  test('the client takes no reply that does not answer its query: not a response, another question (another id is ignored by the exchange itself)', async () => {
    const fake = createSocket('udp4');
    fake.bind(0, '127.0.0.1');
    await once(fake, 'listening');
    const port = (fake.address() as AddressInfo).port;
    let mode = 0;
    fake.on('message', (m, r) => {
      const q = decodeMessage(m);
      const reply = { ...q, qr: true, answers: [] };
      if (mode === 0) reply.qr = false;
      if (mode === 1) reply.questions = [{ ...q.questions[0]!, name: 'other.example.com' }];
      fake.send(encodeMessage(reply), r.port, r.address);
    });
    try {
      await assert.rejects(queryDns({ host: '127.0.0.1', port }, 'api.example.com', RR_TYPE.A), { code: 'DNS_BAD_REPLY', message: /not a response/ });
      mode = 1;
      await assert.rejects(queryDns({ host: '127.0.0.1', port }, 'api.example.com', RR_TYPE.A), { code: 'DNS_BAD_REPLY', message: /its question is not the one asked \("other\.example\.com" type 1\)/ });
    } finally {
      fake.close();
    }
  });

  test('EDNS lets the reply grow past 512 bytes on UDP and is echoed', async () => {
    const q = newQuery(77, 'big.example.com', RR_TYPE.TXT);
    q.additionals = [{ name: '', type: 'RAW', code: RR_TYPE.OPT, class: 4096, ttl: 0, rdata: Buffer.alloc(0) }];
    const r = decodeMessage(await exchangeUdp(at, encodeMessage(q), 1000));
    assert.equal(r.tc, false);
    assert.equal(r.answers.length, 1);
    assert.deepEqual(r.additionals.map((a) => a.type === 'RAW' && [a.code, a.class]), [[RR_TYPE.OPT, 1232]]);
  });

  test('garbage datagrams get FORMERR or are dropped; the next good query is answered', async () => {
    assert.equal(await rawUdp(at, Buffer.from([1, 2, 3])), null);
    const badLabel = Buffer.concat([Buffer.from([0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from([0x50, 0x61])]);
    const formerr = await rawUdp(at, badLabel);
    assert.ok(formerr);
    const m = decodeMessage(formerr);
    assert.deepEqual([m.id, m.qr, m.rcode], [0xabcd, true, RCODE.FORMERR]);
    // A "response" is never answered, so two servers cannot be made to bounce packets forever.
    const asResponse = encodeMessage({ ...newQuery(5, 'api.example.com', RR_TYPE.A), qr: true });
    assert.equal(await rawUdp(at, asResponse), null);
    assert.equal((await queryDns(at, 'api.example.com', RR_TYPE.A)).answers.length, 1);
  });

  test('TCP: pipelined frames, one malformed, each answered in turn', async () => {
    const good = encodeMessage(newQuery(1, 'api.example.com', RR_TYPE.A));
    const bad = Buffer.from([0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
    const replies = await rawTcp(at, [bad, good, encodeMessage(newQuery(3, 'txt.example.com', RR_TYPE.TXT))], 3);
    const byId = new Map(replies.map((r) => [r.id, r]));
    assert.equal(byId.get(2)?.rcode, RCODE.FORMERR);
    assert.equal(byId.get(1)?.answers.length, 1);
    assert.equal(byId.get(3)?.answers.length, 1);
  });

  test('non-QUERY opcodes are NOTIMP and multi-question queries FORMERR', async () => {
    const notify = { ...newQuery(9, 'api.example.com', RR_TYPE.A), opcode: 4 };
    assert.equal(decodeMessage((await rawUdp(at, encodeMessage(notify)))!).rcode, RCODE.NOTIMP);
    const two = newQuery(10, 'api.example.com', RR_TYPE.A);
    two.questions.push({ name: 'txt.example.com', type: RR_TYPE.TXT, class: 1 });
    assert.equal(decodeMessage((await rawUdp(at, encodeMessage(two)))!).rcode, RCODE.FORMERR);
  });
});

describe('dns server forwarding', () => {
  const upstream = new DnsServer({ zones: [new StaticZone([{ name: 'up.example.org', type: 'A', class: 1, ttl: 42, address: '198.51.100.7' }])] });
  let upAt: DnsEndpoint;
  const servers: DnsServer[] = [upstream];
  before(async () => { upAt = await upstream.listen('127.0.0.1', 0); });
  after(() => Promise.all(servers.map((s) => s.close())));

  test('names outside every zone are relayed to the upstream with the client id kept', async () => {
    const front = new DnsServer({ zones: [zone], upstream: upAt });
    servers.push(front);
    const at = await front.listen('127.0.0.1', 0);
    for (const transport of ['udp', 'tcp'] as const) {
      const r = await queryDns(at, 'up.example.org', RR_TYPE.A, { transport });
      assert.deepEqual(r.answers, [{ name: 'up.example.org', type: 'A', class: 1, ttl: 42, address: '198.51.100.7' }]);
    }
    const reply = decodeMessage((await rawUdp(at, encodeMessage(newQuery(0x4242, 'missing.example.org', RR_TYPE.A))))!);
    assert.deepEqual([reply.id, reply.rcode], [0x4242, RCODE.NXDOMAIN]);
    // Zone names are still answered locally.
    assert.equal((await queryDns(at, 'api.example.com', RR_TYPE.A)).answers.length, 1);
  });

  test('limits: past forwardsInFlight a query is SERVFAIL at once (not after the upstream timeout); past tcpConnections a connection is closed; both logged', async () => {
    const hole = createSocket('udp4'); // an upstream that never answers: every relay waits out its timeout
    hole.bind(0, '127.0.0.1');
    await once(hole, 'listening');
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    const front = new DnsServer({ zones: [zone], upstream: { host: '127.0.0.1', port: (hole.address() as AddressInfo).port }, upstreamTimeoutMs: 3000, limits: { forwardsInFlight: 3, tcpConnections: 2 }, logger });
    servers.push(front);
    const at = await front.listen('127.0.0.1', 0);
    try {
      const slow = [1, 2, 3].map((i) => queryDns(at, `slow${i}.example.org`, RR_TYPE.A, { timeoutMs: 5000 }));
      await new Promise((r) => setTimeout(r, 100));
      const started = Date.now();
      const over = await queryDns(at, 'one-more.example.org', RR_TYPE.A, { timeoutMs: 5000 });
      assert.equal(over.rcode, RCODE.SERVFAIL);
      assert.ok(Date.now() - started < 2500, 'answered before the upstream timeout');
      assert.equal((await queryDns(at, 'api.example.com', RR_TYPE.A)).answers.length, 1, 'zone names are still answered');
      assert.ok(lines.some((l) => l.limit === 'forwardsInFlight' && l.max === 3));
      for (const r of await Promise.all(slow)) assert.equal(r.rcode, RCODE.SERVFAIL, 'the upstream timed out');
      const open = [connect(at.port, '127.0.0.1'), connect(at.port, '127.0.0.1')];
      await Promise.all(open.map((c) => once(c, 'connect')));
      await new Promise((r) => setTimeout(r, 50));
      const third = connect(at.port, '127.0.0.1');
      third.on('error', () => {});
      await once(third, 'close');
      assert.ok(lines.some((l) => l.limit === 'tcpConnections' && l.max === 2));
      for (const c of open) c.destroy();
      await new Promise((r) => setTimeout(r, 50));
      assert.equal((await queryDns(at, 'api.example.com', RR_TYPE.A, { transport: 'tcp' })).answers.length, 1, 'a connection is taken again once others closed');
    } finally {
      hole.close();
    }
  });

  test('a query of a class other than IN is REFUSED, never relayed: it would skip every zone (egress refusals included)', async () => {
    let relayed = 0;
    const counting = new DnsServer({ zones: [{ lookup: (name: string) => { if (name === 'leak.example.org') relayed++; return null; } }] });
    servers.push(counting);
    const countingAt = await counting.listen('127.0.0.1', 0);
    const front = new DnsServer({ zones: [zone], upstream: countingAt });
    servers.push(front);
    const at = await front.listen('127.0.0.1', 0);
    for (const cls of [3 /* CHAOS */, 4 /* HESIOD */, 255 /* ANY */, 254 /* NONE */, 0x1234]) {
      const q = newQuery(0x100 + cls, 'leak.example.org', RR_TYPE.A);
      q.questions[0]!.class = cls;
      const r = decodeMessage((await rawUdp(at, encodeMessage(q)))!);
      assert.deepEqual([r.id, r.rcode, r.answers.length], [0x100 + cls, RCODE.REFUSED, 0], `class ${cls}`);
      const inZone = newQuery(0x200 + cls, 'api.example.com', RR_TYPE.A);
      inZone.questions[0]!.class = cls;
      assert.equal(decodeMessage((await rawUdp(at, encodeMessage(inZone)))!).rcode, RCODE.REFUSED, `a zone name in class ${cls}`);
    }
    assert.equal(relayed, 0, 'the upstream never saw the name');
    // Class IN still goes upstream (the control: the counting upstream does see it).
    await queryDns(at, 'leak.example.org', RR_TYPE.A);
    assert.equal(relayed, 1);
  });

  test('an unreachable upstream yields SERVFAIL within the timeout', async () => {
    const probe = createSocket('udp4');
    await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
    const deadPort = probe.address().port;
    await new Promise<void>((r) => probe.close(() => r()));
    const front = new DnsServer({ upstream: { host: '127.0.0.1', port: deadPort }, upstreamTimeoutMs: 300 });
    servers.push(front);
    const at = await front.listen('127.0.0.1', 0);
    const t0 = Date.now();
    const r = await queryDns(at, 'up.example.org', RR_TYPE.A, { timeoutMs: 3000 });
    assert.equal(r.rcode, RCODE.SERVFAIL);
    assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
  });
});

describe('dns server on injected sockets', () => {
  test('serveUdp/serveTcp answer on caller-owned sockets, and close() leaves them open', async () => {
    const udp = createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    const tcp = createServer();
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
    const server = new DnsServer({ zones: [zone] });
    try {
      server.serveUdp(udp);
      server.serveTcp(tcp);
      const u = await queryDns({ host: '127.0.0.1', port: udp.address().port }, 'api.example.com', RR_TYPE.A);
      const t = await queryDns({ host: '127.0.0.1', port: (tcp.address() as AddressInfo).port }, 'api.example.com', RR_TYPE.A, { transport: 'tcp' });
      assert.equal(u.answers.length, 1);
      assert.equal(t.answers.length, 1);
      await server.close();
      assert.equal(udp.address().port > 0, true);
      assert.equal(tcp.listening, true);
      assert.equal(await rawUdp({ host: '127.0.0.1', port: udp.address().port }, encodeMessage(newQuery(1, 'api.example.com', 1)), 200), null);
    } finally {
      udp.close();
      tcp.close();
    }
  });
});
