// The node-proxy benchmark's table: one row per metric, columns direct | ambit | haproxy (medians
// over the run's rounds), the ambit/haproxy ratio, each round's ratio, and the target with whether
// the medians met it and in how many rounds (printed, never asserted).
import type { UsageSample } from './proc-usage.js';

/**
 * Connections open at once in the connect-request-close rate (the target's row). A rate is what
 * a path sustains when it is kept busy. With 4 at a time neither path is: both leave 22-31% of
 * the machine idle, waiting on their own round trips (HAProxy ~950/s at a 4.0 ms p50, ambit
 * ~1,700/s at 2.1 ms). A sweep (4/8/16/32/64 at once, both paths, TIME_WAIT reuse on every
 * namespace that dials) gave HAProxy 950/1,100/1,190/1,160-1,220/1,200-1,220 and ambit
 * 1,540-1,760/2,300/2,870-2,910/2,960-3,290/3,480: 16 is where HAProxy stops gaining, and the
 * smallest such count. The 4-at-a-time figure is printed too (`connect4`), without a target.
 */
export const CONNECT_CONCURRENCY = 16;
/** The same load a few at a time (round-trip bound), printed beside it without a target. */
export const CONNECT_FEW = 4;

export interface PathResult {
  throughputGbps: number;
  seqP50Us: number;
  seqP99Us: number;
  c50Rps: number;
  c50P50Us: number;
  c50P99Us: number;
  /** CPU per request at 50 connections, in microseconds: the whole machine (load client, servers, proxies, kernel). */
  c50MachineUs: number;
  /** The same, of both proxy processes alone (not for direct). */
  c50ProxiesUs?: number;
  /** Connect-request-close rate at CONNECT_CONCURRENCY connections at once (the target's row). */
  connectPerSec: number;
  /** The same at CONNECT_FEW at once. */
  connect4PerSec: number;
  errors: Record<string, number>;
  firstError: string | null;
  /** Proxy processes by node at the steady 1,000 round trips/s (not for direct). */
  usage?: Record<string, UsageSample>;
  steadyRps?: number;
}

/** A target; `ratio` (ratio targets only) judges an ambit/HAProxy ratio, as `met` judges two figures. */
type Target = { text: string; met: (ambit: number, haproxy: number) => boolean; ratio?: (r: number) => boolean };
interface Row { metric: string; pick: (p: PathResult) => number | undefined; digits: number; target?: Target }

const ratioAtLeast = (k: number, text: string): Target => ({ text, met: (a, h) => a >= k * h, ratio: (r) => r >= k });
const ratioAtMost = (k: number, text: string): Target => ({ text, met: (a, h) => a <= k * h, ratio: (r) => r <= k });
const below = (limit: number, text: string): Target => ({ text, met: (a) => a < limit });

export const ROWS: Row[] = [
  { metric: 'single-stream throughput, Gbit/s', pick: (p) => p.throughputGbps, digits: 2, target: ratioAtLeast(0.8, '>= 0.8x haproxy') },
  { metric: '1 KB echo, 1 conn, p50 us', pick: (p) => p.seqP50Us, digits: 0 },
  { metric: '1 KB echo, 1 conn, p99 us', pick: (p) => p.seqP99Us, digits: 0, target: ratioAtMost(1.2, '<= 1.2x haproxy') },
  { metric: '1 KB echo, 50 conns, req/s', pick: (p) => p.c50Rps, digits: 0, target: ratioAtLeast(1, '>= haproxy') },
  { metric: '1 KB echo, 50 conns, p50 us', pick: (p) => p.c50P50Us, digits: 0 },
  { metric: '1 KB echo, 50 conns, p99 us', pick: (p) => p.c50P99Us, digits: 0, target: ratioAtMost(1.2, '<= 1.2x haproxy') },
  // Where the 50-connection rate goes: on a machine kept busy, a path's rate is its CPU per request.
  { metric: '1 KB echo, 50 conns, machine CPU us/req', pick: (p) => p.c50MachineUs, digits: 1 },
  { metric: '1 KB echo, 50 conns, both proxies us/req', pick: (p) => p.c50ProxiesUs, digits: 1 },
  { metric: `connect + 1 KB + close, ${CONNECT_CONCURRENCY} at once, conns/s`, pick: (p) => p.connectPerSec, digits: 0, target: ratioAtLeast(2, '>= 2x haproxy') },
  { metric: `connect + 1 KB + close, ${CONNECT_FEW} at once, conns/s`, pick: (p) => p.connect4PerSec, digits: 0 },
  { metric: 'node-1 proxy CPU @1k req/s, cores', pick: (p) => p.usage?.['node-1']?.cores, digits: 3, target: below(0.1, '< 0.1 core') },
  { metric: 'node-2 proxy CPU @1k req/s, cores', pick: (p) => p.usage?.['node-2']?.cores, digits: 3, target: below(0.1, '< 0.1 core') },
  { metric: 'node-1 proxy RSS @1k req/s, MB', pick: (p) => p.usage?.['node-1']?.rssMB, digits: 1, target: below(80, '< 80 MB') },
  { metric: 'node-2 proxy RSS @1k req/s, MB', pick: (p) => p.usage?.['node-2']?.rssMB, digits: 1, target: below(80, '< 80 MB') },
];

const show = (v: number | undefined, digits: number) => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(digits));

export interface TargetVerdict { metric: string; ambit: number | undefined; haproxy: number | undefined; target: string; met: boolean | null }

export function verdicts(paths: { ambit: PathResult; haproxy: PathResult }): TargetVerdict[] {
  return ROWS.filter((r) => r.target).map((r) => {
    const a = r.pick(paths.ambit);
    const h = r.pick(paths.haproxy);
    const met = a === undefined || h === undefined ? null : r.target!.met(a, h);
    return { metric: r.metric, ambit: a, haproxy: h, target: r.target!.text, met };
  });
}

/** The median of `values` (the mean of the middle two for an even count); NaN when empty. */
export function median(values: number[]): number {
  const v = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/**
 * One path's rounds as one result: the median of every figure over the rounds, errors summed,
 * the first error kept. Steady CPU is the median too; RSS is the first round's (fresh processes,
 * see bench/nodeproxy.ts), never a median that would mix in proxies grown by the stress phases.
 */
export function medianResult(rounds: PathResult[]): PathResult {
  if (rounds.length === 0) throw new Error('Cannot summarize a bench path with no rounds');
  const numeric = ['throughputGbps', 'seqP50Us', 'seqP99Us', 'c50Rps', 'c50P50Us', 'c50P99Us', 'c50MachineUs', 'c50ProxiesUs', 'connectPerSec', 'connect4PerSec', 'steadyRps'] as const;
  const out: PathResult = { ...rounds[0]!, errors: {}, firstError: rounds.find((r) => r.firstError)?.firstError ?? null };
  for (const k of numeric) {
    const vals = rounds.map((r) => r[k]).filter((x): x is number => x !== undefined);
    if (vals.length) out[k] = median(vals);
  }
  for (const r of rounds) for (const [phase, n] of Object.entries(r.errors)) out.errors[phase] = (out.errors[phase] ?? 0) + n;
  const first = rounds[0]!.usage;
  if (first) {
    out.usage = Object.fromEntries(Object.entries(first).map(([node, u]) => [node, { cores: median(rounds.map((r) => r.usage?.[node]?.cores ?? NaN)), rssMB: u.rssMB }]));
  }
  return out;
}

/**
 * The table of `paths` (one result each, the medians when there were rounds). With `rounds` of
 * more than one, two columns more: each round's ambit/HAProxy ratio, and in how many rounds the
 * target was met. Then the ambit/haproxy column is the median of the rounds' ratios, and a ratio
 * target's `met` is read off it: the two paths of a round ran minutes apart at most, phase by phase,
 * so a round's ratio cancels the machine's drift between rounds, which a ratio of two medians
 * (possibly of different rounds) does not. An absolute target is read off the ambit median.
 */
export function formatTable(paths: { direct: PathResult; ambit: PathResult; haproxy: PathResult }, rounds?: { ambit: PathResult[]; haproxy: PathResult[] }): string {
  const n = rounds ? Math.min(rounds.ambit.length, rounds.haproxy.length) : 0;
  const perRound = n > 1;
  const header = ['metric', 'direct', 'ambit', 'haproxy', 'ambit/haproxy', ...(perRound ? ['each round'] : []), 'target', 'met', ...(perRound ? ['rounds met'] : [])];
  const lines = ROWS.map((r) => {
    const [d, a, h] = [r.pick(paths.direct), r.pick(paths.ambit), r.pick(paths.haproxy)];
    const pairs = perRound ? Array.from({ length: n }, (_, i) => [r.pick(rounds!.ambit[i]!), r.pick(rounds!.haproxy[i]!)] as const) : [];
    const ratios = pairs.map(([x, y]) => (x !== undefined && y !== undefined && y > 0 ? x / y : NaN));
    const q = perRound ? median(ratios) : a !== undefined && h !== undefined && h > 0 ? a / h : NaN;
    const ratio = Number.isNaN(q) ? '-' : q.toFixed(2);
    let met = '';
    if (r.target && a !== undefined && h !== undefined) met = (perRound && r.target.ratio && !Number.isNaN(q) ? r.target.ratio(q) : r.target.met(a, h)) ? 'yes' : 'NO';
    const each = ratios.map((x) => (Number.isNaN(x) ? '-' : x.toFixed(2))).join(' ');
    const metIn = r.target ? `${pairs.filter(([x, y]) => x !== undefined && y !== undefined && r.target!.met(x, y)).length}/${n}` : '';
    return [r.metric, show(d, r.digits), show(a, r.digits), show(h, r.digits), ratio, ...(perRound ? [each] : []), r.target?.text ?? '', met, ...(perRound ? [metIn] : [])];
  });
  const widths = header.map((_, i) => Math.max(...[header, ...lines].map((l) => l[i]!.length)));
  const fmt = (l: string[]) => l.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const errs = (['direct', 'ambit', 'haproxy'] as const)
    .map((k) => ({ k, n: Object.values(paths[k].errors).reduce((x, y) => x + y, 0), e: paths[k].firstError }))
    .filter((x) => x.n > 0)
    .map((x) => `errors on ${x.k}: ${x.n} (first: ${x.e})`);
  return [fmt(header), ...lines.map(fmt), ...errs].join('\n');
}
