// The node-proxy data-path benchmark: one load client in a pod on node-1 against a server pod on
// node-2, over three paths in one run: direct (a mesh-off lab, plain routing), HAProxy (two
// HAProxy hops with mTLS in that same mesh-off lab) and ambit (a mesh-on lab, up at the same time:
// node proxy to node proxy over HBONE). Rounds interleave the paths phase by phase (benchRounds);
// prints one table of medians with the targets and each round's ratio.
// Run directly: node dist/bench/nodeproxy.js (AMBIT_BENCH_ROUNDS=N for N rounds, default 3)
import { fileURLToPath } from 'node:url';
import type { LoadStats } from '../src/apps/index.js';
import { defaultLabSpec, execInPod, labDown, labStatus, labUp, planLab, readLabState } from '../src/lab/index.js';
import { sysctlIn } from '../src/lab/shell.js';
import { startHaproxyPair } from './haproxy-baseline.js';
import { cpuSeconds, machineBusySeconds, rssMB, sampleUsage, type UsageSample } from './proc-usage.js';
import { CONNECT_CONCURRENCY, CONNECT_FEW, formatTable, medianResult, verdicts, type PathResult } from './nodeproxy-report.js';

export const ECHO_PORT = 8080;
export const SINK_PORT = 9000;
const SIZE = 1024;
const SINK_SCRIPT = fileURLToPath(new URL('./tcp-sink.js', import.meta.url));

function podsYaml(): string {
  return `apiVersion: v1
kind: Pod
metadata: { name: srv, namespace: default, labels: { app: srv } }
spec:
  nodeName: node-2
  containers:
    - { name: echo, command: [ambit, app, echo, --port, "${ECHO_PORT}", --tcp] }
    - { name: sink, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(SINK_SCRIPT)}, "${SINK_PORT}"] }
---
apiVersion: v1
kind: Pod
metadata: { name: cli, namespace: default, labels: { app: cli } }
spec:
  nodeName: node-1
  containers:
    - { name: main, command: [sleep, infinity] }
`;
}

/** Runs `ambit app load` in the client pod; bounded by the load's own duration plus a margin. */
export async function loadInPod(lab: string, args: string[], durationSec: number): Promise<LoadStats> {
  const r = await execInPod(lab, 'default', 'cli', ['ambit', 'app', 'load', '--timeout', '3000', ...args, '--duration', String(durationSec)], { timeoutMs: (durationSec + 20) * 1000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.code !== 0 || !line.startsWith('{')) throw new Error(`Cannot run the load client in ${lab}: exit ${r.code}: ${r.stderr.trim().slice(-400)}`);
  return JSON.parse(line) as LoadStats;
}

const us = (ms: number) => Math.round(ms * 1000);

/** Waits until both pods run and the server answers a round trip (bounded: 20 s). */
export async function waitForServer(lab: string, host: string, port: number): Promise<void> {
  const deadline = Date.now() + 20000;
  let last = '';
  while (Date.now() < deadline) {
    const s = await loadInPod(lab, ['--tcp', `${host}:${port}`, '--size', String(SIZE), '--concurrency', '4', '--requests', '200'], 3).catch((e: Error) => ({ errors: 1, firstError: e.message }));
    if (s.errors === 0) return;
    last = s.firstError ?? '';
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`Cannot reach the server ${host}:${port} from the client pod in lab ${lab} within 20 s: ${last}`);
}

export type Phase = 'stream' | 'seq' | 'c50' | 'connect' | 'connect4' | 'steady';
export const PHASES: readonly Phase[] = ['stream', 'seq', 'c50', 'connect', 'connect4', 'steady'];

/** Each phase's load against host (echo on echoPort, sink on sinkPort) and how long it runs. */
export function phaseLoad(phase: Phase, host: string, echoPort: number, sinkPort: number): { args: string[]; seconds: number } {
  const echo = ['--tcp', `${host}:${echoPort}`, '--size', String(SIZE)];
  const churn = (concurrency: number): string[] => [...echo, '--mode', 'connect', '--concurrency', String(concurrency), '--requests', '200000'];
  switch (phase) {
    case 'stream': return { args: ['--tcp', `${host}:${sinkPort}`, '--mode', 'stream'], seconds: 3 };
    // Latency phases run long enough for a stable p99: this machine has ~40-100 ms stretches,
    // every second or two, where every process on the path runs slower (seen on the HAProxy path
    // too); over 2 s the 1 KB p99 of one path varied 1.6x from run to run.
    case 'seq': return { args: [...echo, '--requests', '400000'], seconds: 6 };
    case 'c50': return { args: [...echo, '--concurrency', '50', '--requests', '4000000'], seconds: 5 };
    case 'connect': return { args: churn(CONNECT_CONCURRENCY), seconds: 3 };
    case 'connect4': return { args: churn(CONNECT_FEW), seconds: 3 };
    case 'steady': return { args: [...echo, '--concurrency', '4', '--rate', '1000', '--requests', '12000'], seconds: 12 };
  }
}

/** Seconds of each phase's own load run, unmeasured, just before the measured run. */
export const WARM_UP_SECONDS = 1;

/** One path the bench measures: where its load goes and, when proxied, its two proxies by node. */
export interface BenchPath {
  name: 'direct' | 'haproxy' | 'ambit';
  lab: string;
  host: string;
  echoPort: number;
  sinkPort: number;
  proxies?: Record<string, number>;
}

type CpuUse = { machine: number; proxies: number };
type PhaseRun = LoadStats & { cpu: CpuUse };
/** The phases each round measures on every path, steady (proxies only, sampled apart) excluded. */
const MEASURED: readonly Exclude<Phase, 'steady'>[] = ['stream', 'seq', 'c50', 'connect', 'connect4'];

/**
 * One phase on one path, after WARM_UP_SECONDS of the same load (every path alike: the first
 * second of a new load shape on a JIT-compiled proxy is compilation, not the proxy; on a single
 * 1 KB echo connection ~20 of every 100 ms had a round trip over 400 us in the first 0.7 s, then
 * 3-5). CPU is taken over the measured run only, of the whole machine and of the path's proxies;
 * the bench itself only waits meanwhile.
 */
async function runPhase(p: BenchPath, phase: Exclude<Phase, 'steady'>): Promise<PhaseRun> {
  const pids = Object.values(p.proxies ?? {});
  const cpuNow = (): CpuUse => ({ machine: machineBusySeconds(), proxies: pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0) });
  const { args, seconds } = phaseLoad(phase, p.host, p.echoPort, p.sinkPort);
  await loadInPod(p.lab, args, WARM_UP_SECONDS);
  const before = cpuNow();
  const stats = await loadInPod(p.lab, args, seconds);
  const after = cpuNow();
  return { ...stats, cpu: { machine: after.machine - before.machine, proxies: after.proxies - before.proxies } };
}

/** A path's figures from one round's runs of MEASURED. */
function pathResult(runs: Record<Exclude<Phase, 'steady'>, PhaseRun>, proxied: boolean): PathResult {
  const { stream, seq, c50, connect: churn, connect4: churn4 } = runs;
  const perRequestUs = (cpu: number): number => (c50.requests > 0 ? (1e6 * cpu) / c50.requests : NaN);
  return {
    throughputGbps: stream.sendGbps,
    seqP50Us: us(seq.latencyMs.p50), seqP99Us: us(seq.latencyMs.p99),
    c50Rps: c50.rps, c50P50Us: us(c50.latencyMs.p50), c50P99Us: us(c50.latencyMs.p99),
    c50MachineUs: perRequestUs(c50.cpu.machine), ...(proxied ? { c50ProxiesUs: perRequestUs(c50.cpu.proxies) } : {}),
    connectPerSec: churn.rps, connect4PerSec: churn4.rps,
    errors: { stream: stream.errors, seq: seq.errors, c50: c50.errors, connect: churn.errors, connect4: churn4.errors },
    firstError: stream.firstError ?? seq.firstError ?? c50.firstError ?? churn.firstError ?? churn4.firstError,
  };
}

/**
 * A steady 1,000 round trips/s for 12 s; CPU and RSS sampled over seconds 6-11. The first seconds
 * are start-up, not the steady state the target is about: the client connects, and a fresh proxy
 * compiles its hot paths (a fresh node proxy measured 103-117 us per request over seconds 1.5-5.5,
 * 75-88 from the second 6 s on). The same window applies to HAProxy.
 */
async function steadyUsage(lab: string, host: string, port: number, pids: Record<string, number>): Promise<{ usage: Record<string, UsageSample>; load: LoadStats }> {
  const { args, seconds } = phaseLoad('steady', host, port, SINK_PORT);
  const loadP = loadInPod(lab, args, seconds);
  const [usage, load] = await Promise.all([sampleUsage(pids, 6000, 5000), loadP]);
  return { usage, load };
}

/**
 * The load client's connection churn (~16,000 new connections/s on the direct path, with a warm-up
 * before each phase) leaves tens of thousands of TIME_WAIT sockets to one server address; the
 * kernel's default ephemeral range (28k ports, even ones first) then runs dry and connect() stalls.
 * The client pod's own namespace (made by the lab) gets the whole range and TIME_WAIT reuse, for
 * every path alike; so do the node namespaces HAProxy dials from (each HAProxy closes first
 * towards its next hop), as ambit's node proxy sets reuse in every pod it captures.
 */
async function widenPorts(netns: string): Promise<void> {
  // sysctlIn throws on failure, with the command line and the kernel's answer.
  await sysctlIn(netns, { 'net.ipv4.ip_local_port_range': '1024 65535', 'net.ipv4.tcp_tw_reuse': 1 });
}

export async function withLab<T>(lab: string, meshEnabled: boolean, fn: (podIP: string) => Promise<T>): Promise<T> {
  try {
    await labUp({ name: lab, spec: { ...defaultLabSpec(), mesh: { enabled: meshEnabled }, egress: { ...defaultLabSpec().egress, enabled: meshEnabled } }, resourcesText: podsYaml(), resourcesSource: 'bench', replace: true });
    const deadline = Date.now() + 20000;
    for (;;) {
      const srv = labStatus(lab).pods.find((p) => p.name === 'srv');
      // The bench's own two pods (the mesh lab also runs the egress gateway in ambit-system).
      const running = labStatus(lab).pods.filter((p) => p.namespace === 'default' && p.phase === 'Running').length === 2;
      const cli = labStatus(lab).pods.find((p) => p.namespace === 'default' && p.name === 'cli');
      if (running && srv?.ip && cli?.netns) {
        await widenPorts(cli.netns);
        return await fn(srv.ip);
      }
      if (Date.now() > deadline) throw new Error(`Cannot start the bench pods in lab ${lab}: not Running within 20 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await labDown(lab).catch(() => {});
  }
}

/**
 * HAProxy threads per process: 1 (the node proxy's data path is one Node thread), or
 * AMBIT_BENCH_HAPROXY_THREADS. On the 2-core lab machine a second thread did not pay for HAProxy
 * either (one run: 6.12 against 6.93 Gbit/s, 42.3k against 41.8k req/s at 50 connections, 981
 * against 937 connections/s): the load client, both proxies and the servers already share the
 * two cores.
 */
export function haproxyThreads(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.AMBIT_BENCH_HAPROXY_THREADS;
  if (v === undefined || v === '') return 1;
  if (!/^[1-9][0-9]?$/.test(v)) throw new Error(`Cannot run the node-proxy bench: AMBIT_BENCH_HAPROXY_THREADS must be a whole number from 1 to 99, got ${JSON.stringify(v)}`);
  return Number(v);
}

/**
 * Rounds of the whole comparison (AMBIT_BENCH_ROUNDS, default 3). This machine's speed drifts
 * over minutes (another tenant's load: HAProxy's own CPU per request at 1,000/s went 88 -> 190 us
 * between two phases a minute apart), so a path measured a minute after another can win or lose
 * by the drift alone. Each round therefore runs every phase on every path back to back, the
 * paths' order reversed every other round, and the table prints medians over rounds with each
 * round's ratio beside them.
 */
export function benchRounds(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.AMBIT_BENCH_ROUNDS;
  if (v === undefined || v === '') return 3;
  if (!/^[1-9]$/.test(v)) throw new Error(`Cannot run the node-proxy bench: AMBIT_BENCH_ROUNDS must be a whole number from 1 to 9, got ${JSON.stringify(v)}`);
  return Number(v);
}

/**
 * Both labs run at once (direct and HAProxy in a mesh-off lab, ambit in a mesh-on lab), so each
 * round can go from one path to the next within seconds. Each round measures, per path: the
 * steady 1,000 req/s (proxied paths only), then every phase of MEASURED, phase by phase across
 * the paths. The first round's steady sample comes from fresh processes; its RSS is the one the
 * target reads (the stress phases grow buffers that a proxy long at that rate would not have;
 * the RSS after them is printed apart).
 */
export async function benchNodeProxy(rounds = benchRounds()): Promise<Record<string, unknown>> {
  const tag = process.pid % 100000;
  const started = performance.now();
  const [plainLab, meshLab] = [`bnd${tag}`, `bnm${tag}`];
  return withLab(plainLab, false, (plainIP) => withLab(meshLab, true, async (meshIP) => {
    const plan = planLab(plainLab, readLabState(plainLab)!.spec);
    const [n1, n2] = [plan.nodes[0]!, plan.nodes[1]!];
    for (const n of [n1, n2]) await widenPorts(n.netns);
    const pair = await startHaproxyPair({
      threads: haproxyThreads(),
      clientNetns: n1.netns, clientIP: n1.ip, serverNetns: n2.netns, serverIP: n2.ip, podIP: plainIP,
      ports: [{ listenPort: 18080, tunnelPort: 18443, targetPort: ECHO_PORT }, { listenPort: 19000, tunnelPort: 19443, targetPort: SINK_PORT }],
    });
    try {
      const comps = readLabState(meshLab)!.components;
      const paths: BenchPath[] = [
        { name: 'direct', lab: plainLab, host: plainIP, echoPort: ECHO_PORT, sinkPort: SINK_PORT },
        { name: 'haproxy', lab: plainLab, host: n1.ip, echoPort: 18080, sinkPort: 19000, proxies: { 'node-1': pair.pids.client, 'node-2': pair.pids.server } },
        { name: 'ambit', lab: meshLab, host: meshIP, echoPort: ECHO_PORT, sinkPort: SINK_PORT, proxies: { 'node-1': comps['node-proxy-node-1']!.pid, 'node-2': comps['node-proxy-node-2']!.pid } },
      ];
      for (const p of paths) await waitForServer(p.lab, p.host, p.echoPort);
      const results: Record<BenchPath['name'], PathResult[]> = { direct: [], haproxy: [], ambit: [] };
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? paths : [...paths].reverse();
        const steady: Partial<Record<BenchPath['name'], { usage: Record<string, UsageSample>; load: LoadStats }>> = {};
        for (const p of order) if (p.proxies) steady[p.name] = await steadyUsage(p.lab, p.host, p.echoPort, p.proxies);
        const runs: Partial<Record<BenchPath['name'], Partial<Record<Exclude<Phase, 'steady'>, PhaseRun>>>> = {};
        for (const phase of MEASURED) for (const p of order) (runs[p.name] ??= {})[phase] = await runPhase(p, phase);
        for (const p of paths) {
          const s = steady[p.name];
          results[p.name].push({ ...pathResult(runs[p.name] as Record<Exclude<Phase, 'steady'>, PhaseRun>, p.proxies !== undefined), ...(s ? { usage: s.usage, steadyRps: s.load.rps } : {}) });
        }
        console.error(`# round ${round + 1}/${rounds} done (${Math.round((performance.now() - started) / 1000)} s): ${roundLine(results, round)}`);
      }
      const ambitPids = paths[2]!.proxies!;
      console.error(`# node-proxy RSS after the stress phases (MB): ${JSON.stringify(Object.fromEntries(Object.entries(ambitPids).map(([n, pid]) => [n, Math.round(rssMB(pid) * 10) / 10])))}`);
      const medians = { direct: medianResult(results.direct), ambit: medianResult(results.ambit), haproxy: medianResult(results.haproxy) };
      return { ...medians, rounds: results, table: formatTable(medians, { ambit: results.ambit, haproxy: results.haproxy }), seconds: Math.round((performance.now() - started) / 100) / 10 };
    } finally {
      await pair.stop();
    }
  }));
}

/** A progress line: the round's ambit/HAProxy ratio of each target's figure. */
function roundLine(results: Record<BenchPath['name'], PathResult[]>, round: number): string {
  return verdicts({ ambit: results.ambit[round]!, haproxy: results.haproxy[round]! })
    .map((v) => `${v.metric} ${v.ambit !== undefined && v.haproxy ? (v.ambit / v.haproxy).toFixed(2) : '-'}x`)
    .join('; ');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await benchNodeProxy();
  process.stdout.write(`${String(r.table)}\n(run took ${String(r.seconds)} s)\n`);
  const { table: _table, ...rest } = r;
  process.stdout.write(`${JSON.stringify(rest)}\n`);
}
