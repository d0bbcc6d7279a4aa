import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Server, type Socket, createServer } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { runLoad } from '../../../src/apps/index.js';
import { AmbitError } from '../../../src/errors.js';

const LO = '127.0.0.1';

function listen(server: Server): Promise<number> {
  return new Promise((r) => server.listen(0, LO, () => r((server.address() as { port: number }).port)));
}

describe('load client: connect, stream and rate-limited modes', () => {
  let accepted = 0;
  let sunk = 0;
  const open = new Set<Socket>();
  const track = (s: Socket) => { open.add(s); s.on('close', () => open.delete(s)); s.on('error', () => {}); };
  const echo = createServer((s) => { accepted++; track(s); s.pipe(s); });
  // A sink: swallows everything and closes after the client's half-close.
  const sink = createServer((s) => { track(s); s.on('data', (c: Buffer) => { sunk += c.length; }); s.on('end', () => s.end()); });
  // Hangs up on every client right away.
  const rude = createServer((s) => { track(s); s.destroy(); });
  let echoPort = 0;
  let sinkPort = 0;
  let rudePort = 0;
  before(async () => { [echoPort, sinkPort, rudePort] = await Promise.all([listen(echo), listen(sink), listen(rude)]); });
  after(async () => {
    for (const s of open) s.destroy();
    await Promise.all([echo, sink, rude].map((srv) => new Promise((r) => srv.close(r))));
  });

  test('connect mode opens one connection per round trip', async () => {
    accepted = 0;
    const stats = await runLoad({ target: { kind: 'tcp', host: LO, port: echoPort }, mode: 'connect', requests: 30, concurrency: 3, size: 1024 });
    assert.deepEqual([stats.mode, stats.requests, stats.errors, stats.bytesSent, stats.bytesReceived], ['connect', 30, 0, 30 * 1024, 30 * 1024]);
    assert.equal(accepted, 30);
    assert.ok(stats.latencyMs.p50 > 0);
  });

  test('connect mode on an HTTP target opens one connection per request; the default keeps them', async () => {
    let conns = 0;
    const web = createHttpServer((_q, r) => r.end('ok'));
    web.on('connection', (s: Socket) => { conns++; track(s); });
    const port = await listen(web);
    try {
      const fresh = await runLoad({ target: { kind: 'http', url: `http://${LO}:${port}/` }, mode: 'connect', requests: 20, concurrency: 2 });
      assert.deepEqual([fresh.mode, fresh.requests, fresh.errors, conns], ['connect', 20, 0, 20]);
      conns = 0;
      const kept = await runLoad({ target: { kind: 'http', url: `http://${LO}:${port}/` }, requests: 20, concurrency: 2 });
      assert.deepEqual([kept.mode, kept.errors], ['http', 0]);
      assert.ok(conns <= 2, `kept-alive run opened ${conns} connections`);
    } finally {
      await new Promise((r) => web.close(r));
    }
  });

  test('echo mode keeps its connections', async () => {
    accepted = 0;
    const stats = await runLoad({ target: { kind: 'tcp', host: LO, port: echoPort }, requests: 30, concurrency: 3, size: 1024 });
    assert.deepEqual([stats.mode, stats.requests, stats.errors], ['echo', 30, 0]);
    assert.equal(accepted, 3);
  });

  test('stream mode: every byte counted as sent reached the server before the run ended', async () => {
    sunk = 0;
    const stats = await runLoad({ target: { kind: 'tcp', host: LO, port: sinkPort }, mode: 'stream', durationSec: 0.3 });
    assert.equal(stats.errors, 0);
    assert.equal(stats.mode, 'stream');
    assert.ok(stats.requests > 10, `requests ${stats.requests}`);
    assert.equal(stats.bytesSent, stats.requests * 65536);
    assert.equal(sunk, stats.bytesSent);
    const expected = (stats.bytesSent * 8) / stats.durationSec / 1e9;
    assert.ok(Math.abs(stats.sendGbps - expected) <= expected * 0.02 + 0.001, `sendGbps ${stats.sendGbps} vs ${expected}`);
    assert.ok(stats.sendGbps > 0.05, `sendGbps ${stats.sendGbps}`);
  });

  test('stream mode honours a request count (chunks) and size', async () => {
    sunk = 0;
    const stats = await runLoad({ target: { kind: 'tcp', host: LO, port: sinkPort }, mode: 'stream', requests: 7, size: 1000 });
    assert.deepEqual([stats.requests, stats.errors, stats.bytesSent, sunk], [7, 0, 7000, 7000]);
  });

  test('stream mode counts a server that hangs up as an error', async () => {
    const stats = await runLoad({ target: { kind: 'tcp', host: LO, port: rudePort }, mode: 'stream', durationSec: 0.5, timeoutMs: 1000 });
    assert.equal(stats.errors, 1);
    assert.ok(stats.firstError !== null);
  });

  test('a rate spaces requests out evenly', async () => {
    const t0 = performance.now();
    const stats = await runLoad({ target: { kind: 'tcp', host: LO, port: echoPort }, requests: 21, concurrency: 4, rate: 100 });
    const took = performance.now() - t0;
    assert.deepEqual([stats.requests, stats.errors], [21, 0]);
    assert.ok(took >= 195 && took < 1000, `took ${took} ms`);
  });

  test('a rate with a duration stops at the deadline without extra requests', async () => {
    const stats = await runLoad({ target: { kind: 'tcp', host: LO, port: echoPort }, durationSec: 0.5, concurrency: 2, rate: 40 });
    assert.ok(stats.requests >= 19 && stats.requests <= 21, `requests ${stats.requests}`);
    assert.equal(stats.errors, 0);
  });

  const bad: [string, Parameters<typeof runLoad>[0], string][] = [
    ['an unknown mode', { target: { kind: 'tcp', host: LO, port: 1 }, mode: 'flood' as 'echo' }, 'Cannot run load: mode "flood" is not one of echo, connect, stream'],
    ['a TCP-only mode on an http target', { target: { kind: 'http', url: 'http://127.0.0.1:1/' }, mode: 'stream' }, 'Cannot run load: mode "stream" needs a TCP target'],
    ['a rate in stream mode', { target: { kind: 'tcp', host: LO, port: 1 }, mode: 'stream', rate: 5 }, 'Cannot run load: rate 5 does not apply to mode "stream"'],
    ['a zero rate', { target: { kind: 'tcp', host: LO, port: 1 }, rate: 0 }, 'Cannot run load: rate 0 is outside 0.01..1000000'],
  ];
  for (const [name, opts, message] of bad) {
    test(`rejects ${name}`, async () => {
      await assert.rejects(runLoad(opts), (err: unknown) => err instanceof AmbitError && err.code === 'APP_INVALID_ARGUMENT' && err.message === message);
    });
  }
});
