// Where the node proxies' CPU goes, phase by phase: runs any of bench/nodeproxy.ts's load phases
// (in any order, repeated) in one mesh-on lab and prints, for each, the load's figures and each
// node proxy's CPU per request (per GB for the bulk stream), its user/system split and RSS.
// Not a comparison (bench/nodeproxy.ts is): a tool for A/B work on the data path, where CPU per
// request is steadier than a rate on a shared machine. A phase repeated shows warm-up (the first
// connect phase of a fresh proxy costs ~1.5x the second).
// Run: node dist/bench/nodeproxy-phases.js [stream|seq|c50|connect|steady ...]
import { fileURLToPath } from 'node:url';
import { readLabState } from '../src/lab/index.js';
import { ECHO_PORT, PHASES, SINK_PORT, loadInPod, phaseLoad, waitForServer, withLab, type Phase } from './nodeproxy.js';
import { cpuTimes, rssMB } from './proc-usage.js';

export async function profilePhases(phases: Phase[]): Promise<string[]> {
  const lab = `bnp${process.pid % 100000}`;
  return withLab(lab, true, async (podIP) => {
    const comps = readLabState(lab)!.components;
    const pids = { 'node-1': comps['node-proxy-node-1']!.pid, 'node-2': comps['node-proxy-node-2']!.pid };
    await waitForServer(lab, podIP, ECHO_PORT);
    const lines: string[] = [];
    for (const phase of phases) {
      const { args, seconds } = phaseLoad(phase, podIP, ECHO_PORT, SINK_PORT);
      const before = Object.fromEntries(Object.entries(pids).map(([n, pid]) => [n, cpuTimes(pid)]));
      const load = await loadInPod(lab, args, seconds);
      const figures = phase === 'stream'
        ? `${load.sendGbps.toFixed(2)} Gbit/s`
        : `${Math.round(load.rps)} req/s, p50/p99 ${Math.round(load.latencyMs.p50 * 1000)}/${Math.round(load.latencyMs.p99 * 1000)} us`;
      const proxies = Object.entries(pids).map(([node, pid]) => {
        const t = cpuTimes(pid);
        const user = t.user - before[node]!.user;
        const system = t.system - before[node]!.system;
        const per = phase === 'stream' ? `${Math.round((1000 * (user + system)) / (load.bytesSent / 1e9))} ms/GB` : `${Math.round((1e6 * (user + system)) / load.requests)} us/req`;
        return `${node} ${per} (user ${Math.round((100 * user) / (user + system || 1))}%), ${rssMB(pid).toFixed(0)} MB`;
      });
      lines.push(`${phase.padEnd(7)} ${figures}${load.errors ? ` (${load.errors} errors: ${load.firstError})` : ''}; ${proxies.join('; ')}`);
      console.error(lines.at(-1));
    }
    return lines;
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const asked = process.argv.slice(2);
  const bad = asked.filter((p) => !PHASES.includes(p as Phase));
  if (bad.length) {
    process.stderr.write(`Cannot profile: unknown phase ${JSON.stringify(bad[0])}; choose from ${PHASES.join(', ')}\n`);
    process.exit(2);
  }
  await profilePhases((asked.length ? asked : [...PHASES]) as Phase[]);
}
