// `lab status`: what a lab is made of and whether each part is alive, from the two state files
// and the process table. Also the lookups `lab exec` and `lab logs` need to find a pod.
import { AmbitError, showValue } from '../errors.js';
import { isAlive } from './processes.js';
import { readAgentState, readLabState, type LabState, type PodRecord } from './state.js';
import { validateLabName, podKey } from './names.js';
import { labIsHealthy } from './lifecycle.js';

export interface LabStatusReport {
  lab: string;
  healthy: boolean;
  ready: boolean;
  createdAt: string;
  nodes: { name: string; netns: string; ip: string; podCIDR: string }[];
  components: { name: string; pid: number; alive: boolean; netns?: string; logFile: string }[];
  pods: { namespace: string; name: string; node: string; ip?: string; phase: string; message?: string; uid?: number; system?: boolean; netns?: string; containers: { name: string; pid: number; alive: boolean; logFile: string }[] }[];
}

export function requireLabState(name: string): LabState {
  const lab = validateLabName(name);
  const state = readLabState(lab);
  if (!state) throw new AmbitError('LAB_NOT_FOUND', `Cannot find lab ${lab}: it is not up (no state file)`, { value: lab });
  return state;
}

export function labStatus(name: string): LabStatusReport {
  const state = requireLabState(name);
  const agent = readAgentState(state.lab);
  return {
    lab: state.lab,
    healthy: labIsHealthy(state),
    ready: state.ready,
    createdAt: state.createdAt,
    nodes: state.plan.nodes.map((n) => ({ name: n.name, netns: n.netns, ip: n.ip, podCIDR: n.podCIDR })),
    components: Object.values(state.components).map((c) => ({ name: c.name, pid: c.pid, alive: isAlive(c.pid), ...(c.netns ? { netns: c.netns } : {}), logFile: c.logFile })),
    pods: Object.values(agent?.pods ?? {})
      .sort((a, b) => (podKey(a.namespace, a.name) < podKey(b.namespace, b.name) ? -1 : 1))
      .map((p) => ({
        namespace: p.namespace,
        name: p.name,
        node: p.node,
        ...(p.ip ? { ip: p.ip } : {}),
        phase: p.phase,
        ...(p.message ? { message: p.message } : {}),
        ...(p.uid !== undefined ? { uid: p.uid } : {}),
        ...(p.system ? { system: true } : {}),
        ...(p.netns ? { netns: p.netns } : {}),
        containers: p.containers.map((c) => ({ name: c.name, pid: c.pid, alive: isAlive(c.pid), logFile: c.logFile })),
      })),
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

export function formatLabStatus(r: LabStatusReport): string {
  const out = [`lab ${r.lab}: ${r.healthy ? 'up' : r.ready ? 'DEGRADED' : 'NOT READY'} (since ${r.createdAt})`, ''];
  out.push(table([['NODE', 'NETNS', 'UNDERLAY IP', 'POD CIDR'], ...r.nodes.map((n) => [n.name, n.netns, n.ip, n.podCIDR])]), '');
  out.push(table([['COMPONENT', 'PID', 'STATE', 'NETNS'], ...r.components.map((c) => [c.name, String(c.pid), c.alive ? 'running' : 'dead', c.netns ?? '(root)'])]), '');
  if (r.pods.length === 0) out.push('no pods');
  else {
    out.push(
      table([
        ['NAMESPACE', 'POD', 'NODE', 'IP', 'PHASE', 'PROCESSES', 'MESSAGE'],
        ...r.pods.map((p) => [
          p.namespace, p.name, p.node, p.ip ?? '-', p.phase,
          p.containers.map((c) => `${c.name}:${c.pid}${c.alive ? '' : '(dead)'}`).join(',') || '-',
          p.message ?? (p.system ? 'system pod: egress gateway (not captured, holds its credential)' : ''),
        ]),
      ]),
    );
  }
  return out.join('\n') + '\n';
}

/** The running record of a pod, or an error that says why it cannot be used. */
export function findRunningPod(state: LabState, namespace: string, name: string): PodRecord {
  const rec = readAgentState(state.lab)?.pods[podKey(namespace, name)];
  if (!rec) throw new AmbitError('LAB_POD_NOT_FOUND', `Cannot find pod ${showValue(podKey(namespace, name))} in lab ${state.lab}: it is not (yet) created by the lab agent`, { value: podKey(namespace, name) });
  if (rec.phase !== 'Running' || !rec.netns) {
    throw new AmbitError('LAB_POD_NOT_RUNNING', `Cannot use pod ${showValue(podKey(namespace, name))}: its phase is ${rec.phase}${rec.message ? ` (${rec.message})` : ''}`, { value: podKey(namespace, name) });
  }
  return rec;
}
