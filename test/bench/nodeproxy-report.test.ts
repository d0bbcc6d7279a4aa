// The node-proxy bench's table, verdicts and medians over rounds: the connect target reads the
// rate at CONNECT_CONCURRENCY connections at once, the 4-at-a-time rate is printed beside it
// without a target, each phase's load asks for the concurrency its row names, and rounds are
// summarized by medians with each round's ratio printed beside them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONNECT_CONCURRENCY, formatTable, median, medianResult, verdicts, type PathResult } from '../../bench/nodeproxy-report.js';
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

test('rounds: every figure is the median over rounds, steady CPU too, RSS from the first (fresh) round, errors summed', () => {
  const rounds = [
    path({ seqP99Us: 900, c50Rps: 10_000, errors: { seq: 1 }, firstError: 'reset', usage: { 'node-1': { cores: 0.2, rssMB: 68 }, 'node-2': { cores: 0.1, rssMB: 70 } } }),
    path({ seqP99Us: 300, c50Rps: 30_000, errors: { seq: 2, c50: 1 }, usage: { 'node-1': { cores: 0.05, rssMB: 110 }, 'node-2': { cores: 0.3, rssMB: 105 } } }),
    path({ seqP99Us: 500, c50Rps: 20_000, errors: {}, usage: { 'node-1': { cores: 0.1, rssMB: 111 }, 'node-2': { cores: 0.2, rssMB: 106 } } }),
  ];
  const m = medianResult(rounds);
  assert.equal(m.seqP99Us, 500);
  assert.equal(m.c50Rps, 20_000);
  assert.deepEqual(m.errors, { seq: 3, c50: 1 });
  assert.equal(m.firstError, 'reset');
  assert.deepEqual(m.usage, { 'node-1': { cores: 0.1, rssMB: 68 }, 'node-2': { cores: 0.2, rssMB: 70 } });
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
  assert.throws(() => medianResult([]), /no rounds/);
});

test('rounds: the table prints medians, each round\'s ratio and in how many rounds each target was met', () => {
  const ambit = [path({ seqP99Us: 260 }), path({ seqP99Us: 230 }), path({ seqP99Us: 200 })];
  const haproxy = [path({ seqP99Us: 200 }), path({ seqP99Us: 200 }), path({ seqP99Us: 200 })];
  const table = formatTable({ direct: path(), ambit: medianResult(ambit), haproxy: medianResult(haproxy) }, { ambit, haproxy });
  const header = table.split('\n')[0]!.trim().split(/\s{2,}/);
  assert.deepEqual(header, ['metric', 'direct', 'ambit', 'haproxy', 'ambit/haproxy', 'each round', 'target', 'met', 'rounds met']);
  const row = table.split('\n').find((l) => l.startsWith('1 KB echo, 1 conn, p99'))!.trim().split(/\s{2,}/);
  // Median 230 / 200 = 1.15: met on the medians, in two of the three rounds (1.30 is over 1.2x).
  assert.deepEqual(row, ['1 KB echo, 1 conn, p99 us', '200', '230', '200', '1.15', '1.30 1.15 1.00', '<= 1.2x haproxy', 'yes', '2/3']);
  // A row without a target gets ratios but no count.
  const p50 = table.split('\n').find((l) => l.startsWith('1 KB echo, 1 conn, p50'))!.trim().split(/\s{2,}/);
  assert.deepEqual(p50, ['1 KB echo, 1 conn, p50 us', '100', '100', '100', '1.00', '1.00 1.00 1.00']);
});

test('rounds: a ratio target is judged on the median of the rounds\' ratios, not on the ratio of two medians', () => {
  // Round 1 ran while the machine was slow for both paths: the pairs cancel that, the medians do not.
  const ambit = [path({ seqP99Us: 300 }), path({ seqP99Us: 230 }), path({ seqP99Us: 120 })];
  const haproxy = [path({ seqP99Us: 300 }), path({ seqP99Us: 150 }), path({ seqP99Us: 100 })];
  const table = formatTable({ direct: path(), ambit: medianResult(ambit), haproxy: medianResult(haproxy) }, { ambit, haproxy });
  const row = table.split('\n').find((l) => l.startsWith('1 KB echo, 1 conn, p99'))!.trim().split(/\s{2,}/);
  // Ratios 1.00, 1.53, 1.20: median 1.20, met. The medians (230 / 150 = 1.53) would say NO.
  assert.deepEqual(row, ['1 KB echo, 1 conn, p99 us', '200', '230', '150', '1.20', '1.00 1.53 1.20', '<= 1.2x haproxy', 'yes', '2/3']);
  // An absolute target still reads the ambit median.
  const cpu = [0.12, 0.09, 0.11].map((c) => path({ usage: { 'node-1': { cores: c, rssMB: 60 }, 'node-2': { cores: c, rssMB: 60 } } }));
  const hcpu = [0.05, 0.05, 0.05].map((c) => path({ usage: { 'node-1': { cores: c, rssMB: 50 }, 'node-2': { cores: c, rssMB: 50 } } }));
  const t2 = formatTable({ direct: path(), ambit: medianResult(cpu), haproxy: medianResult(hcpu) }, { ambit: cpu, haproxy: hcpu });
  const cpuRow = t2.split('\n').find((l) => l.startsWith('node-1 proxy CPU'))!.trim().split(/\s{2,}/);
  assert.equal(cpuRow.at(-2), 'NO');
  assert.equal(cpuRow.at(-1), '1/3');
});
