// The node-proxy bench's table and verdicts: the connect target reads the rate at
// CONNECT_CONCURRENCY connections at once, the 4-at-a-time rate is printed beside it without a
// target, and each phase's load asks for the concurrency its row names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONNECT_CONCURRENCY, formatTable, verdicts, type PathResult } from '../../bench/nodeproxy-report.js';
import { phaseLoad } from '../../bench/nodeproxy.js';

function path(over: Partial<PathResult> = {}): PathResult {
  return {
    throughputGbps: 5, seqP50Us: 100, seqP99Us: 200, c50Rps: 40_000, c50P50Us: 1000, c50P99Us: 2000, c50MachineUs: 40,
    connectPerSec: 1000, connect4PerSec: 900, errors: {}, firstError: null,
    usage: { 'node-1': { cores: 0.05, rssMB: 60 }, 'node-2': { cores: 0.05, rssMB: 60 } },
    ...over,
  };
}

const concurrencyOf = (args: string[]): number => Number(args[args.indexOf('--concurrency') + 1]);

test('the connect phases ask for the concurrency their rows name', () => {
  const connect = phaseLoad('connect', '10.0.0.1', 8080, 9000).args;
  const connect4 = phaseLoad('connect4', '10.0.0.1', 8080, 9000).args;
  assert.equal(CONNECT_CONCURRENCY, 16);
  assert.equal(concurrencyOf(connect), CONNECT_CONCURRENCY);
  assert.equal(concurrencyOf(connect4), 4);
  for (const a of [connect, connect4]) assert.equal(a[a.indexOf('--mode') + 1], 'connect');
});

test('the connect target is judged on the rate at 16 at once, not at 4', () => {
  // At 16: 2.1x (met); at 4: 1.5x (would not be).
  const v = verdicts({ ambit: path({ connectPerSec: 2100, connect4PerSec: 1500 }), haproxy: path({ connectPerSec: 1000, connect4PerSec: 1000 }) });
  const connect = v.filter((x) => x.metric.startsWith('connect'));
  assert.equal(connect.length, 1, 'one connect row has a target');
  assert.equal(connect[0]!.metric, 'connect + 1 KB + close, 16 at once, conns/s');
  assert.deepEqual([connect[0]!.ambit, connect[0]!.haproxy, connect[0]!.met], [2100, 1000, true]);
  const below = verdicts({ ambit: path({ connectPerSec: 1999, connect4PerSec: 5000 }), haproxy: path({ connectPerSec: 1000, connect4PerSec: 1000 }) });
  assert.equal(below.find((x) => x.metric.startsWith('connect'))!.met, false);
});

test('the table prints both connect rows, the 4-at-a-time one without a target', () => {
  const table = formatTable({ direct: path({ connectPerSec: 16_000, connect4PerSec: 15_000 }), ambit: path({ connectPerSec: 2500, connect4PerSec: 1700 }), haproxy: path({ connectPerSec: 1100, connect4PerSec: 950 }) });
  const row = (prefix: string): string[] => table.split('\n').find((l) => l.startsWith(prefix))!.trim().split(/\s{2,}/);
  assert.deepEqual(row('connect + 1 KB + close, 16 at once'), ['connect + 1 KB + close, 16 at once, conns/s', '16000', '2500', '1100', '2.27', '>= 2x haproxy', 'yes']);
  assert.deepEqual(row('connect + 1 KB + close, 4 at once'), ['connect + 1 KB + close, 4 at once, conns/s', '15000', '1700', '950', '1.79']);
});

test('the table prints CPU per request at 50 connections, the proxies\' share only for paths with proxies', () => {
  const table = formatTable({ direct: path({ c50MachineUs: 18.14 }), ambit: path({ c50MachineUs: 44.52, c50ProxiesUs: 25.6 }), haproxy: path({ c50MachineUs: 39.4, c50ProxiesUs: 22.84 }) });
  const row = (prefix: string): string[] => table.split('\n').find((l) => l.startsWith(prefix))!.trim().split(/\s{2,}/);
  assert.deepEqual(row('1 KB echo, 50 conns, machine CPU'), ['1 KB echo, 50 conns, machine CPU us/req', '18.1', '44.5', '39.4', '1.13']);
  assert.deepEqual(row('1 KB echo, 50 conns, both proxies'), ['1 KB echo, 50 conns, both proxies us/req', '-', '25.6', '22.8', '1.12']);
  // Figures to read, not targets: no verdict comes from them.
  assert.ok(verdicts({ ambit: path(), haproxy: path() }).every((v) => !v.metric.includes('us/req')));
});
