// Fault knobs for tests and demos: hold configuration delivery to one node, kill or restart a
// lab component, add latency or loss to a node's underlay link with tc netem.
import { AmbitError, showValue } from '../errors.js';
import { adminSocketPath } from '../paths.js';
import { AdminHttpClient } from '../controlplane/admin-client.js';
import { findNode, type NodePlan } from './plan.js';
import type { LabState } from './state.js';
import { writeLabState } from './state.js';
import { run } from './shell.js';
import { isAlive, stopProcesses } from './processes.js';
import { startComponent } from './components.js';
import { requireLabState } from './status.js';

function node(state: LabState, name: string): NodePlan {
  const n = findNode(state.plan, name);
  if (!n) throw new AmbitError('LAB_UNKNOWN_NODE', `Cannot find node ${showValue(name)} in lab ${state.lab} (nodes: ${state.plan.nodes.map((x) => x.name).join(', ')})`, { path: 'NODE', value: name });
  return n;
}

export async function pauseConfig(lab: string, nodeName: string, paused: boolean): Promise<void> {
  const state = requireLabState(lab);
  await new AdminHttpClient(adminSocketPath(state.lab)).pauseDelivery(node(state, nodeName).name, paused);
}

export interface NetemOptions {
  /** e.g. "50ms" */
  delay?: string;
  /** e.g. "1%" */
  loss?: string;
  clear?: boolean;
}

const DELAY = /^\d+(\.\d+)?(us|ms|s)$/;
const LOSS = /^\d+(\.\d+)?%$/;

/** netem arguments, validated; pure. */
export function netemArgs(o: NetemOptions): string[] {
  if (o.delay !== undefined && !DELAY.test(o.delay)) throw new AmbitError('LAB_NETEM_INVALID', `Cannot set --delay ${showValue(o.delay)}: expected a duration like 50ms`, { path: '--delay', value: o.delay });
  if (o.loss !== undefined && !LOSS.test(o.loss)) throw new AmbitError('LAB_NETEM_INVALID', `Cannot set --loss ${showValue(o.loss)}: expected a percentage like 1%`, { path: '--loss', value: o.loss });
  if (o.delay === undefined && o.loss === undefined) throw new AmbitError('LAB_NETEM_INVALID', 'Cannot set netem: give --delay, --loss, or --clear', {});
  return ['netem', ...(o.delay ? ['delay', o.delay] : []), ...(o.loss ? ['loss', o.loss] : [])];
}

/** Applies to both directions of the node's underlay link (both veth ends). */
export async function setNetem(lab: string, nodeName: string, o: NetemOptions): Promise<void> {
  const state = requireLabState(lab);
  const n = node(state, nodeName);
  const ends: [string, string][] = [[n.netns, 'eth0'], [state.plan.underlay.netns, n.uplink]];
  if (o.clear) {
    for (const [ns, dev] of ends) await run('tc', ['-n', ns, 'qdisc', 'del', 'dev', dev, 'root'], { allowFail: true });
    return;
  }
  const args = netemArgs(o);
  for (const [ns, dev] of ends) await run('tc', ['-n', ns, 'qdisc', 'replace', 'dev', dev, 'root', ...args]);
}

function component(state: LabState, name: string) {
  const c = state.components[name];
  if (!c) throw new AmbitError('LAB_UNKNOWN_COMPONENT', `Cannot find component ${showValue(name)} in lab ${state.lab} (components: ${Object.keys(state.components).join(', ')})`, { path: 'COMPONENT', value: name });
  return c;
}

export async function killComponent(lab: string, name: string): Promise<void> {
  const state = requireLabState(lab);
  const c = component(state, name);
  await stopProcesses([c.pid], 0);
}

export async function restartComponent(lab: string, name: string): Promise<number> {
  const state = requireLabState(lab);
  const c = component(state, name);
  if (isAlive(c.pid)) await stopProcesses([c.pid], 2000);
  const { pid: _pid, startedAt: _at, ...template } = c;
  const rec = startComponent(template);
  state.components[name] = rec;
  writeLabState(state);
  return rec.pid;
}
