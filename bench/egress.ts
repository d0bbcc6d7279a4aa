// The egress benchmark: TLS passthrough through the egress gateway next to a direct connection,
// one lab, one run. The internet host is an HTTPS server in the lab's internet namespace; the
// client is `ambit app load` doing its own TLS (the application's TLS, passed through untouched).
//   direct: the client runs in the gateway pod's namespace (the only place with a route out),
//           so it crosses the same node and underlay without any proxy;
//   ambit:  the client runs in an application pod on the other node: capture, node proxy, HBONE
//           to the gateway (mTLS, the pod's own SVID), SNI check, the gateway's own DNS lookup.
// Figures: upload throughput on one connection, new TLS connections per second (a TCP + TLS
// handshake + one request + close each), and request latency on a kept connection.
// Run directly: node dist/bench/egress.js
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadStats } from '../src/apps/index.js';
import { EGRESS_GATEWAY } from '../src/config/index.js';
import { execInPod, labDown, labStatus, labUp, parseLabFile, podNetns } from '../src/lab/index.js';
import { labRunDir } from '../src/paths.js';

const HOST = 'bulk.example.com';
const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function labYaml(lab: string): string {
  return `apiVersion: ambit.dev/v1alpha1
kind: Lab
metadata: { name: ${lab} }
spec:
  nodes: 2
  internet:
    hosts: [{ names: [${HOST}], address: 203.0.113.20 }]
`;
}

const RESOURCES = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: bulk, namespace: default }
spec:
  hosts: [${HOST}]
  ports: [{ number: 443, name: https, protocol: TLS }]
  resolution: DNS
---
apiVersion: v1
kind: Pod
metadata: { name: cli, namespace: default }
spec:
  nodeName: node-2
  serviceAccountName: cli
  containers: [{ name: main, command: [sleep, infinity] }]
`;

export interface EgressPathResult {
  uploadGbps: number;
  newConnsPerSec: number;
  keptP50Us: number;
  keptP99Us: number;
  errors: number;
  firstError: string | null;
}

function parseStats(code: number, stdout: string, stderr: string, where: string): LoadStats {
  const line = stdout.trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) throw new Error(`Cannot run the load client (${where}): exit ${code}: ${stderr.trim().slice(-400)}`);
  return JSON.parse(line) as LoadStats;
}

/** `ambit app load` as root in a lab namespace (the direct vantage point). */
function loadInNetns(netns: string, args: string[], durationSec: number): Promise<LoadStats> {
  return new Promise((resolve, reject) => {
    const p = spawn('ip', ['netns', 'exec', netns, process.execPath, MAIN, 'app', 'load', ...args, '--duration', String(durationSec)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), (durationSec + 20) * 1000);
    p.on('close', (code) => {
      clearTimeout(t);
      try {
        resolve(parseStats(code ?? -1, out, err, netns));
      } catch (e) {
        reject(e as Error);
      }
    });
  });
}

async function loadInPod(lab: string, args: string[], durationSec: number): Promise<LoadStats> {
  const r = await execInPod(lab, 'default', 'cli', ['ambit', 'app', 'load', ...args, '--duration', String(durationSec)], { timeoutMs: (durationSec + 20) * 1000 });
  return parseStats(r.code, r.stdout, r.stderr, 'pod cli');
}

async function measure(run: (args: string[], sec: number) => Promise<LoadStats>, caFile: string): Promise<EgressPathResult> {
  const url = ['--url', `https://${HOST}/`, '--cacert', caFile, '--timeout', '5000'];
  // Warm-up (DNS, the tunnel pool, the gateway's first resolution), then the three figures.
  await run([...url, '--requests', '20'], 5);
  const bulk = await run([...url, '--size', String(8 * 1024 * 1024), '--concurrency', '1'], 3);
  const churn = await run([...url, '--mode', 'connect', '--concurrency', '4'], 3);
  const kept = await run([...url, '--concurrency', '1'], 2);
  return {
    uploadGbps: bulk.sendGbps,
    newConnsPerSec: churn.rps,
    keptP50Us: Math.round(kept.latencyMs.p50 * 1000),
    keptP99Us: Math.round(kept.latencyMs.p99 * 1000),
    errors: bulk.errors + churn.errors + kept.errors,
    firstError: bulk.firstError ?? churn.firstError ?? kept.firstError,
  };
}

export function formatEgressTable(direct: EgressPathResult, ambit: EgressPathResult): string {
  const row = (name: string, r: EgressPathResult): string =>
    `| ${name.padEnd(22)} | ${r.uploadGbps.toFixed(2).padStart(14)} | ${String(r.newConnsPerSec).padStart(13)} | ${`${r.keptP50Us}/${r.keptP99Us}`.padStart(17)} | ${String(r.errors).padStart(6)} |`;
  return [
    '| path                   | upload Gbit/s  | new TLS /s    | kept p50/p99 µs   | errors |',
    '|------------------------|----------------|---------------|-------------------|--------|',
    row('direct (gateway netns)', direct),
    row('ambit (pod → gateway)', ambit),
    `ratios ambit/direct: throughput ${(ambit.uploadGbps / direct.uploadGbps).toFixed(2)}, new connections ${(ambit.newConnsPerSec / direct.newConnsPerSec).toFixed(2)}`,
  ].join('\n');
}

export async function benchEgress(lab = `beg${process.pid % 100000}`): Promise<{ direct: EgressPathResult; ambit: EgressPathResult; table: string }> {
  const file = parseLabFile(labYaml(lab), 'bench');
  try {
    await labUp({ name: lab, spec: file.spec, resourcesText: RESOURCES, resourcesSource: 'bench', replace: true });
    const deadline = Date.now() + 30_000;
    while (!labStatus(lab).pods.some((p) => p.name === 'cli' && p.phase === 'Running')) {
      if (Date.now() > deadline) throw new Error(`Cannot start the bench client pod in lab ${lab} within 30 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const ca = join(labRunDir(lab), 'public-ca', 'root.crt');
    const gwNetns = podNetns(lab, EGRESS_GATEWAY.namespace, EGRESS_GATEWAY.name);
    // Wait for the egress path itself (the gateway's SVID and config) before measuring.
    const ready = Date.now() + 30_000;
    for (;;) {
      const s = await loadInPod(lab, ['--url', `https://${HOST}/`, '--cacert', ca, '--requests', '1'], 3).catch(() => undefined);
      if (s && s.errors === 0) break;
      if (Date.now() > ready) throw new Error(`Cannot reach https://${HOST}/ through the gateway in lab ${lab} within 30 s: ${s?.firstError ?? 'load failed'}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const direct = await measure((a, sec) => loadInNetns(gwNetns, a, sec), ca);
    const ambit = await measure((a, sec) => loadInPod(lab, a, sec), ca);
    return { direct, ambit, table: formatEgressTable(direct, ambit) };
  } finally {
    await labDown(lab).catch(() => {});
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await benchEgress();
  process.stdout.write(`${r.table}\n${JSON.stringify({ direct: r.direct, ambit: r.ambit })}\n`);
}
