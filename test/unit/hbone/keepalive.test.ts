// HTTP/2 keepalive on both ends of HBONE (src/hbone/keepalive.ts): a peer that stops answering
// PINGs loses its connection, logged; a peer that answers keeps it however long it idles. The
// silent peers are real TLS + HTTP/2 endpoints on loopback that simply never ACK a PING.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as tlsServer, type Server, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { HbonePool } from '../../../src/hbone/index.js';
import { Harness, POD_AUTHORITY, waitFor, type LogLine } from './harness.js';
import { FRAME, RawH2, frame } from './raw-h2.js';

const INTERVAL = 200;
const TIMEOUT = 300;

describe('HBONE server keepalive', () => {
  let h: Harness;
  before(async () => { h = await Harness.start({ keepaliveIntervalMs: INTERVAL, keepaliveTimeoutMs: TIMEOUT }); });
  after(async () => { await h.stop(); });

  test('a client that stops answering PINGs has its connection closed, logged with its identity', async () => {
    const before = h.refusals.length;
    const raw = await RawH2.connect(h.port, h.clientContext);
    try {
      raw.ackPings = false;
      await raw.waitFor((f) => f.some((x) => x.type === FRAME.PING), 2000);
      await waitFor(() => raw.closed, 3000);
    } finally {
      raw.socket.destroy();
    }
    const r = h.refusals.slice(before).find((x) => x.code === 'UNRESPONSIVE');
    assert.ok(r, `reported; got ${JSON.stringify(h.refusals.slice(before))}`);
    assert.equal(r.detail, `a PING went unanswered for ${TIMEOUT} ms: the peer is gone or stopped answering; connection closed`);
    assert.equal(r.context.peer, h.clientId);
    assert.ok(h.logs.some((l) => l.msg === 'hbone refused' && l.reason === 'UNRESPONSIVE' && l.level === 40), 'logged as a warning');
  });

  // A PING (or its ACK) can wait behind megabytes in a send buffer on a slow link: a peer whose
  // bytes keep arriving is alive even while its ACK is late. Here the peer never ACKs but sends a
  // WINDOW_UPDATE every 100 ms (what a receiver on a slow link does); it is closed once it goes quiet.
  test('a client whose bytes keep arriving is not closed while its PING answer is late; once silent it is', async () => {
    const before = h.refusals.length;
    const raw = await RawH2.connect(h.port, h.clientContext);
    raw.ackPings = false;
    const increment = Buffer.alloc(4);
    increment.writeUInt32BE(1);
    const talking = setInterval(() => raw.socket.write(frame(FRAME.WINDOW_UPDATE, 0, 0, increment)), 100);
    try {
      await raw.waitFor((f) => f.some((x) => x.type === FRAME.PING), 2000);
      await new Promise((r) => setTimeout(r, 4 * (INTERVAL + TIMEOUT)));
      assert.equal(raw.closed, false, 'kept while its bytes arrive');
      assert.deepEqual(h.refusals.slice(before), []);
      clearInterval(talking);
      await waitFor(() => raw.closed, 3000);
      assert.equal(h.refusals.slice(before)[0]?.code, 'UNRESPONSIVE');
    } finally {
      clearInterval(talking);
      raw.socket.destroy();
    }
  });

  test('a client that answers keeps one idle connection across many intervals', async () => {
    assert.equal(await h.roundTrip('one'), 'one');
    const connections = h.secureConnections;
    const before = h.refusals.length;
    await new Promise((r) => setTimeout(r, 6 * (INTERVAL + TIMEOUT)));
    assert.equal(await h.roundTrip('two'), 'two');
    assert.equal(h.secureConnections, connections, 'the pool reused its connection: the server kept it');
    assert.deepEqual(h.refusals.slice(before), [], 'nothing refused');
  });

  test('a tunnel busy both ways keeps its connection (PINGs go ahead of DATA)', async () => {
    const before = h.refusals.length;
    const stream = await h.openTunnel();
    let back = 0;
    stream.on('data', (c: Buffer) => { back += c.length; });
    const chunk = Buffer.alloc(256 * 1024, 7);
    const until = Date.now() + 4 * (INTERVAL + TIMEOUT);
    let sent = 0;
    while (Date.now() < until) {
      if (!stream.write(chunk)) await once(stream, 'drain');
      sent += chunk.length;
    }
    stream.end();
    await once(stream, 'end');
    assert.equal(back, sent, 'every byte echoed');
    assert.deepEqual(h.refusals.slice(before), [], 'nothing refused');
  });
});

/** A TLS + HTTP/2 server that answers SETTINGS and every CONNECT with 200, and never ACKs a PING. */
async function silentServer(h: Harness): Promise<{ server: Server; port: number; connections: () => number; pings: () => number }> {
  let connections = 0;
  let pings = 0;
  const server = tlsServer({ cert: h.serverSvid.chainPem.join(''), key: h.serverSvid.keyPem, ALPNProtocols: ['h2'], minVersion: 'TLSv1.3' }, (socket: TLSSocket) => {
    connections++;
    socket.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let prefaceSeen = false;
    socket.write(frame(FRAME.SETTINGS, 0, 0));
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!prefaceSeen) {
        if (buf.length < 24) return;
        buf = buf.subarray(24);
        prefaceSeen = true;
      }
      while (buf.length >= 9 && buf.length >= 9 + buf.readUIntBE(0, 3)) {
        const len = buf.readUIntBE(0, 3);
        const [type, flags] = [buf[3]!, buf[4]!];
        const streamId = buf.readUInt32BE(5) & 0x7fffffff;
        buf = buf.subarray(9 + len);
        if (type === FRAME.SETTINGS && !(flags & 1)) socket.write(frame(FRAME.SETTINGS, 1, 0));
        // HPACK 0x88: the static table's ":status: 200"; END_HEADERS.
        if (type === FRAME.HEADERS) socket.write(frame(FRAME.HEADERS, 0x4, streamId, Buffer.from([0x88])));
        if (type === FRAME.PING && !(flags & 1)) pings++;
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, connections: () => connections, pings: () => pings };
}

describe('HBONE pool keepalive', () => {
  let h: Harness;
  before(async () => { h = await Harness.start(); });
  after(async () => { await h.stop(); });

  test('a connection whose server stops answering PINGs leaves the pool, its tunnels fail, the next tunnel dials anew', async () => {
    const logs: LogLine[] = [];
    const pool = new HbonePool({ refusePeerCertificate: () => undefined,
      limits: { keepaliveIntervalMs: INTERVAL, keepaliveTimeoutMs: TIMEOUT },
      logger: pino({ level: 'debug' }, { write: (line: string) => { logs.push(JSON.parse(line) as LogLine); } }),
    });
    const silent = await silentServer(h);
    let first: Awaited<ReturnType<typeof h.openTunnel>> | undefined;
    try {
      const open = () => h.openTunnel({ address: { host: '127.0.0.1', port: silent.port } }, pool);
      const tunnel = await open();
      first = tunnel;
      const failed = new Promise<NodeJS.ErrnoException>((resolve) => tunnel.once('error', resolve));
      assert.equal(pool.stats().sessions, 1);
      const err = await Promise.race([failed, new Promise<never>((_r, reject) => setTimeout(() => reject(new Error('the tunnel still open after 3 s')), 3000))]);
      assert.ok(silent.pings() >= 1, 'the pool pinged');
      assert.equal(pool.stats().sessions, 0, 'the connection left the pool');
      assert.match(String(err.message), /HBONE connection to 127\.0\.0\.1:\d+ closed: a PING went unanswered for 300 ms/);
      assert.ok(logs.some((l) => l.msg === 'hbone connection unresponsive, closing' && l.level === 40), 'logged as a warning');
      (await open()).destroy();
      assert.equal(silent.connections(), 2, 'a new connection for the next tunnel');
    } finally {
      first?.destroy();
      await pool.close();
      silent.server.close();
    }
  });

  test('an answering server keeps the pooled connection across many intervals', async () => {
    const pool = new HbonePool({ refusePeerCertificate: () => undefined, limits: { keepaliveIntervalMs: INTERVAL, keepaliveTimeoutMs: TIMEOUT }, logger: pino({ level: 'silent' }) });
    try {
      const connections = h.secureConnections;
      const stream = await h.openTunnel({ authority: POD_AUTHORITY }, pool);
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      await new Promise((r) => setTimeout(r, 6 * (INTERVAL + TIMEOUT)));
      stream.end('still here');
      await once(stream, 'end');
      assert.equal(Buffer.concat(chunks).toString(), 'still here');
      assert.equal(h.secureConnections, connections + 1, 'one connection throughout');
    } finally {
      await pool.close();
    }
  });
});
