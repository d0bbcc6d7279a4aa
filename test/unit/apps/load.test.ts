import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { type RunningApp, runLoad, startEchoServer } from '../../../src/apps/index.js';
import { AmbitError } from '../../../src/errors.js';

const LO = '127.0.0.1';

async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, LO, () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('load client against the echo app', () => {
  let http: RunningApp;
  let tcp: RunningApp;
  before(async () => {
    http = await startEchoServer({ listen: { host: LO, port: 0 } });
    tcp = await startEchoServer({ listen: { host: LO, port: 0 }, mode: 'tcp' });
  });
  after(() => Promise.all([http.close(), tcp.close()]));

  test('HTTP: exactly N requests at concurrency C, all 200, bytes counted', async () => {
    const stats = await runLoad({ target: { kind: 'http', url: `http://${LO}:${http.listeners.http!.port}/load` }, requests: 60, concurrency: 4, size: 100 });
    assert.equal(stats.requests, 60);
    assert.equal(stats.errors, 0);
    assert.deepEqual(stats.statusCodes, { 200: 60 });
    assert.equal(stats.bytesSent, 6000);
    assert.ok(stats.bytesReceived > 60 * 100, `received ${stats.bytesReceived}`);
    assert.ok(stats.latencyMs.p50 > 0 && stats.latencyMs.p50 <= stats.latencyMs.p90 && stats.latencyMs.p90 <= stats.latencyMs.p99 && stats.latencyMs.p99 <= stats.latencyMs.max);
    assert.ok(stats.rps > 0);
    assert.equal(stats.firstError, null);
  });

  test('TCP: round trips of --size bytes come back whole', async () => {
    const stats = await runLoad({ target: { kind: 'tcp', host: LO, port: tcp.listeners.tcp!.port }, requests: 200, concurrency: 3, size: 1000 });
    assert.deepEqual([stats.requests, stats.errors, stats.bytesSent, stats.bytesReceived], [200, 0, 200_000, 200_000]);
  });

  test('a duration bounds the run in time', async () => {
    const t0 = Date.now();
    const stats = await runLoad({ target: { kind: 'tcp', host: LO, port: tcp.listeners.tcp!.port }, durationSec: 0.3, concurrency: 2 });
    const took = Date.now() - t0;
    assert.ok(took >= 280 && took < 1500, `took ${took} ms`);
    assert.ok(stats.requests > 10);
    assert.equal(stats.errors, 0);
  });

  test('an unreachable target counts every request as an error', async () => {
    const port = await deadPort();
    const stats = await runLoad({ target: { kind: 'http', url: `http://${LO}:${port}/` }, requests: 5, concurrency: 2 });
    assert.deepEqual([stats.requests, stats.errors, stats.rps], [5, 5, 0]);
    assert.match(stats.firstError ?? '', /ECONNREFUSED/);
    const tcpStats = await runLoad({ target: { kind: 'tcp', host: LO, port }, requests: 3 });
    assert.deepEqual([tcpStats.requests, tcpStats.errors], [3, 3]);
  });

  const bad: [string, Parameters<typeof runLoad>[0], string][] = [
    ['zero concurrency', { target: { kind: 'http', url: 'http://127.0.0.1:1/' }, concurrency: 0 }, 'Cannot run load: concurrency 0 is outside 1..1000'],
    ['too many requests', { target: { kind: 'http', url: 'http://127.0.0.1:1/' }, requests: 1e8 }, 'Cannot run load: requests 100000000 is outside 1..10000000'],
    ['a non-http url', { target: { kind: 'http', url: 'ftp://127.0.0.1/' } }, 'Cannot run load: url "ftp://127.0.0.1/" is not an http:// or https:// URL'],
    ['an empty tcp round trip', { target: { kind: 'tcp', host: LO, port: 1 }, size: 0 }, 'Cannot run load: size 0 is not a TCP round trip (give --size >= 1)'],
  ];
  for (const [name, opts, message] of bad) {
    test(`rejects ${name}`, async () => {
      await assert.rejects(runLoad(opts), (err: unknown) => err instanceof AmbitError && err.code === 'APP_INVALID_ARGUMENT' && err.message === message);
    });
  }
});
