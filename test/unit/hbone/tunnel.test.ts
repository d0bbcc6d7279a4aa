// HBONE end to end on 127.0.0.1: real TLS 1.3 with SVIDs from the mesh CA, real HTTP/2 CONNECT.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { constants } from 'node:http2';
import type { Duplex } from 'node:stream';
import { pino } from 'pino';
import { AmbitError } from '../../../src/errors.js';
import { HbonePool } from '../../../src/hbone/index.js';
import { MeshFixture, svidContext } from '../../../src/testing/svid-fixtures.js';
import { dialEcho, Harness, POD_AUTHORITY, waitFor } from './harness.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function rejectsWith(p: Promise<unknown>, code: string, message?: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof AmbitError, `not an AmbitError: ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message !== undefined) assert.equal(err.message, message);
    return true;
  });
}

/** A one-off upstream: `onConn` decides what it does with each connection. */
async function upstreamServer(onConn: (s: import('node:net').Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer({ allowHalfOpen: true }, onConn);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

describe('HBONE tunnels', () => {
  let h: Harness;
  before(async () => { h = await Harness.start(); });
  after(async () => { await h.stop(); });

  test('echo round trip; the server sees the source identity and the pod authority', async () => {
    const before = h.tunnels.length;
    assert.equal(await h.roundTrip('hello through hbone'), 'hello through hbone');
    const t = h.tunnels[before]!;
    assert.equal(t.peer, h.clientId);
    assert.deepEqual(t.authority, { host: '10.44.0.7', port: 8080 });
    await waitFor(() => h.records.length > 0);
    const r = h.records.at(-1)!;
    assert.equal(r.status, 200);
    assert.equal(r.bytesIn, 19);
    assert.equal(r.bytesOut, 19);
    assert.equal(r.reason, undefined);
    assert.ok(r.durationMs >= 0);
  });

  test('1 MB bulk both ways, ended by half-close', async () => {
    const payload = randomBytes(1024 * 1024);
    const stream = await h.openTunnel();
    const received = readAll(stream);
    stream.end(payload);
    const back = await received;
    assert.equal(back.length, payload.length);
    assert.equal(sha(back), sha(payload));
    await once(stream, 'close');
    assert.equal(stream.rstCode, 0, 'closed with END_STREAM both ways, not a reset');
    await waitFor(() => h.records.some((r) => r.bytesIn === payload.length));
    const r = h.records.find((x) => x.bytesIn === payload.length)!;
    assert.equal(r.bytesOut, payload.length);
    assert.equal(r.reason, undefined);
  });

  test('half-close: after the client ends, the upstream can still answer', async () => {
    const up = await upstreamServer((s) => {
      const got: Buffer[] = [];
      s.on('data', (d: Buffer) => got.push(d));
      s.on('end', () => s.end(`you sent ${Buffer.concat(got).length} bytes`));
    });
    h.decide = async () => ({ status: 200, upstream: await dialEcho(up.port) });
    try {
      const stream = await h.openTunnel();
      const answer = readAll(stream);
      stream.end('12345');
      assert.equal((await answer).toString(), 'you sent 5 bytes');
    } finally {
      h.decide = async () => ({ status: 200, upstream: await dialEcho(h.echo.port) });
      up.server.close();
    }
  });

  test('half-close: after the upstream ends, the client can still send', async () => {
    let upstreamGot: Promise<string> = Promise.resolve('');
    const up = await upstreamServer((s) => {
      s.end('greeting');
      upstreamGot = readAll(s).then((b) => b.toString());
    });
    h.decide = async () => ({ status: 200, upstream: await dialEcho(up.port) });
    try {
      const stream = await h.openTunnel();
      assert.equal((await readAll(stream)).toString(), 'greeting');
      stream.end('late data');
      await once(stream, 'close');
      assert.equal(await upstreamGot, 'late data');
    } finally {
      h.decide = async () => ({ status: 200, upstream: await dialEcho(h.echo.port) });
      up.server.close();
    }
  });

  test('an upstream destroyed at the server (no FIN, no error) resets the tunnel with CONNECT_ERROR; the connection serves the next one', async () => {
    let held: Duplex | undefined;
    h.decide = async () => {
      held = await dialEcho(h.echo.port);
      return { status: 200, upstream: held };
    };
    try {
      const stream = await h.openTunnel();
      const failed = once(stream, 'error');
      stream.write('first');
      await once(stream, 'data');
      const closed = new Promise((resolve) => stream.once('close', resolve));
      held!.destroy();
      assert.equal(((await failed)[0] as NodeJS.ErrnoException).code, 'ERR_HTTP2_STREAM_ERROR');
      await closed;
      assert.equal(stream.rstCode, constants.NGHTTP2_CONNECT_ERROR, 'the client learns the tunnel is gone');
      await waitFor(() => h.records.some((r) => r.reason === 'upstream: closed before its end'));
    } finally {
      h.decide = async () => ({ status: 200, upstream: await dialEcho(h.echo.port) });
    }
    assert.equal(await h.roundTrip('after'), 'after', 'the HBONE connection is still good');
  });

  test('100 sequential tunnels reuse one TLS connection', async () => {
    const pool = new HbonePool({ refusePeerCertificate: () => undefined, logger: pino({ level: 'silent' }) });
    const start = h.secureConnections;
    try {
      for (let i = 0; i < 100; i++) {
        const s = await h.openTunnel({}, pool);
        const back = readAll(s);
        s.end(`n${i}`);
        assert.equal((await back).toString(), `n${i}`);
      }
      assert.equal(h.secureConnections - start, 1);
      assert.equal(pool.stats().sessions, 1);
    } finally {
      await pool.close();
    }
  });

  test('a full connection makes the pool open a second one', async () => {
    const pool = new HbonePool({ refusePeerCertificate: () => undefined, limits: { maxStreamsPerSession: 2 }, logger: pino({ level: 'silent' }) });
    const start = h.secureConnections;
    try {
      const streams = await Promise.all([h.openTunnel({}, pool), h.openTunnel({}, pool), h.openTunnel({}, pool)]);
      assert.deepEqual(pool.stats(), { sessions: 2, streams: 3 });
      assert.equal(h.secureConnections - start, 2);
      await Promise.all(streams.map((s) => { const done = readAll(s); s.end('x'); return done; }));
    } finally {
      await pool.close();
    }
  });

  test('a rotated source certificate opens a new connection; the old one drains and closes', async () => {
    const pool = new HbonePool({ refusePeerCertificate: () => undefined, logger: pino({ level: 'silent' }) });
    const start = h.secureConnections;
    try {
      const old = await h.openTunnel({}, pool);
      const rotated = svidContext(h.mesh.mint(h.clientId));
      const fresh = await h.openTunnel({ secureContext: rotated }, pool);
      assert.equal(h.secureConnections - start, 2);
      assert.deepEqual(pool.stats(), { sessions: 2, streams: 2 });
      const oldBack = readAll(old);
      old.end('old');
      assert.equal((await oldBack).toString(), 'old');
      await waitFor(() => pool.stats().sessions === 1);
      const freshBack = readAll(fresh);
      fresh.end('new');
      assert.equal((await freshBack).toString(), 'new');
      const again = await h.openTunnel({ secureContext: rotated }, pool);
      again.end();
      await readAll(again);
      assert.equal(h.secureConnections - start, 2, 'the rotated connection is reused');
    } finally {
      await pool.close();
    }
  });

  test('a rotated server certificate is presented on new connections', async () => {
    const first = h.serverContext;
    const next = h.mesh.mint(h.serverId);
    h.serverContext = svidContext(next);
    try {
      const sock = tlsConnect({ host: '127.0.0.1', port: h.port, secureContext: h.clientContext, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined });
      await once(sock, 'secureConnect');
      const serial = sock.getPeerCertificate().serialNumber.toLowerCase();
      sock.destroy();
      assert.equal(serial.replace(/^0+/, ''), serialOf(next.certPem));
    } finally {
      h.serverContext = first;
    }
  });

  test('identity mismatch fails closed before any byte is sent', async () => {
    const tunnels = h.tunnels.length;
    const echoed = h.echo.received();
    const payments = h.mesh.workload('shop', 'payments');
    await rejectsWith(h.openTunnel({ expectedIdentity: payments }), 'HBONE_IDENTITY_MISMATCH',
      `Cannot open tunnel: the destination proved "${h.serverId}", not the expected "${payments}"`);
    assert.equal(h.tunnels.length, tunnels, 'no CONNECT reached the server');
    assert.equal(h.echo.received(), echoed);
  });

  test('a server certificate from another CA is refused by the client', async () => {
    const other = MeshFixture.create();
    const tunnels = h.tunnels.length;
    const pool = new HbonePool({ refusePeerCertificate: () => undefined, logger: pino({ level: 'silent' }) });
    try {
      // The client trusts only the other CA: the real server's chain does not verify.
      await rejectsWith(h.openTunnel({ secureContext: svidContext(h.clientSvid, other.rootsPem), trustedRoots: other.rootsPem }, pool), 'HBONE_CONNECT_FAILED');
      assert.equal(h.tunnels.length, tunnels);
    } finally {
      await pool.close();
    }
  });

  for (const [status, code, why] of [
    [401, 'HBONE_DENIED', 'denied by policy at the destination (401)'],
    [503, 'HBONE_UNREACHABLE', 'the destination workload is unreachable (503)'],
    [400, 'HBONE_BAD_REQUEST', 'the destination rejected the request as malformed (400)'],
  ] as const) {
    test(`status ${status} maps to ${code}`, async () => {
      h.decide = async () => ({ status, reason: `test says ${status}` });
      try {
        await rejectsWith(h.openTunnel(), code, `Cannot open tunnel to ${POD_AUTHORITY} (${h.serverId}): ${why}`);
        await waitFor(() => h.records.some((r) => r.status === status));
        assert.equal(h.records.find((r) => r.status === status)!.reason, `test says ${status}`);
        // The connection stays healthy: the refused stream ended cleanly, not by a reset flood.
        h.decide = async () => ({ status: 200, upstream: await dialEcho(h.echo.port) });
        assert.equal(await h.roundTrip('after'), 'after');
      } finally {
        h.decide = async () => ({ status: 200, upstream: await dialEcho(h.echo.port) });
      }
    });
  }

  test('early data: bytes written before the 200 wait at the destination and reach the upstream once allowed', async () => {
    const before = h.echo.received();
    let heldAtDecision = -1;
    h.decide = async () => {
      heldAtDecision = h.echo.received() - before;
      return { status: 200, upstream: await dialEcho(h.echo.port) };
    };
    try {
      const stream = await h.openTunnel({ onStream: (s) => s.end('sent before the response') });
      assert.equal((await readAll(stream)).toString(), 'sent before the response');
      assert.equal(heldAtDecision, 0, 'nothing reached the upstream before the decision');
    } finally {
      h.decide = async () => ({ status: 200, upstream: await dialEcho(h.echo.port) });
    }
  });

  test('early data on a refused tunnel is discarded: it never reaches the upstream, and the connection stays healthy', async () => {
    const before = h.echo.received();
    h.decide = async () => ({ status: 401, reason: 'early data test' });
    try {
      await rejectsWith(h.openTunnel({ onStream: (s) => s.write('must not arrive') }), 'HBONE_DENIED');
      await waitFor(() => h.records.some((r) => r.reason === 'early data test'));
      h.decide = async () => ({ status: 200, upstream: await dialEcho(h.echo.port) });
      assert.equal(await h.roundTrip('after'), 'after');
      assert.equal(h.echo.received() - before, 'after'.length);
    } finally {
      h.decide = async () => ({ status: 200, upstream: await dialEcho(h.echo.port) });
    }
  });

  test('an onTunnel that throws answers 503', async () => {
    h.decide = async () => { throw new Error('boom'); };
    try {
      await rejectsWith(h.openTunnel(), 'HBONE_UNREACHABLE');
      await waitFor(() => h.records.some((r) => r.reason === 'onTunnel failed: boom'));
      // The refusal report names the verified peer, the authority and the client's address.
      const refused = h.refusals.find((r) => r.detail === 'onTunnel failed: boom');
      assert.deepEqual(refused?.context, { peer: h.clientId, authority: POD_AUTHORITY, remote: '127.0.0.1' });
    } finally {
      h.decide = async () => ({ status: 200, upstream: await dialEcho(h.echo.port) });
    }
  });

  test('the client refuses a malformed authority before connecting', async () => {
    await rejectsWith(h.openTunnel({ authority: 'backend.shop:80' }), 'HBONE_BAD_REQUEST',
      'Cannot open tunnel: Cannot parse :authority "backend.shop:80": "backend.shop" is not an IPv4 address (host names are not allowed)');
  });

  test('nothing listening: HBONE_CONNECT_FAILED', async () => {
    const probe = createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as AddressInfo).port;
    probe.close();
    await once(probe, 'close');
    await rejectsWith(h.openTunnel({ address: { host: '127.0.0.1', port } }), 'HBONE_CONNECT_FAILED');
  });
});

function serialOf(pem: string): string {
  return new X509Certificate(pem).serialNumber.toLowerCase().replace(/^0+/, '');
}

describe('HBONE idle connections', () => {
  test('the server closes an idle connection with GOAWAY; the pool notices and reconnects', async () => {
    const h = await Harness.start({ idleTimeoutMs: 200 });
    try {
      assert.equal(await h.roundTrip('one'), 'one');
      assert.equal(h.pool.stats().sessions, 1);
      await waitFor(() => h.pool.stats().sessions === 0, 2000);
      assert.equal(await h.roundTrip('two'), 'two');
      assert.equal(h.secureConnections, 2);
    } finally {
      await h.stop();
    }
  });

  test('the pool closes its own idle connections', async () => {
    const h = await Harness.start();
    const pool = new HbonePool({ refusePeerCertificate: () => undefined, limits: { idleTimeoutMs: 100 }, logger: pino({ level: 'silent' }) });
    try {
      const s = await h.openTunnel({}, pool);
      s.end();
      await readAll(s);
      await waitFor(() => pool.stats().sessions === 0, 2000);
      await waitFor(() => h.sessionsClosed === 1, 2000);
      assert.equal(h.secureConnections, 1);
    } finally {
      await pool.close();
      await h.stop();
    }
  });
});
