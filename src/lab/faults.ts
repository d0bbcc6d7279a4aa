// Fault knobs for tests and demos: hold configuration delivery to one node, kill or restart a
// lab component, add latency or loss to a node's underlay link with tc netem.
import { AmbitError, showValue } from '../errors.js';
import { adminSocketPath } from '../paths.js';
import { AdminHttpClient } from '../controlplane/admin-client.js';
import { findNode, type NodePlan } from './plan.js';
import type { LabState } from './state.js';
import { writeLabState } from './state.js';
import { nftIn, run } from './shell.js';
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
const LOSS = /^(100(\.0+)?|\d{1,2}(\.\d+)?)%$/;

/** netem arguments, validated; pure. */
export function netemArgs(o: NetemOptions): string[] {
  if (o.delay !== undefined && !DELAY.test(o.delay)) throw new AmbitError('LAB_NETEM_INVALID', `Cannot set --delay ${showValue(o.delay)}: expected a duration like 50ms`, { path: '--delay', value: o.delay });
  if (o.loss !== undefined && !LOSS.test(o.loss)) throw new AmbitError('LAB_NETEM_INVALID', `Cannot set --loss ${showValue(o.loss)}: expected a percentage from 0% to 100% like 1%`, { path: '--loss', value: o.loss });
  if (o.delay === undefined && o.loss === undefined) throw new AmbitError('LAB_NETEM_INVALID', 'Cannot set netem: give --delay, --loss, or --clear', {});
  return ['netem', ...(o.delay ? ['delay', o.delay] : []), ...(o.loss ? ['loss', o.loss] : [])];
}

export const FAULTS_TABLE = 'ambit_lab_faults';

/** Loss through nftables, for kernels without netem: drops a random share both ways on eth0. */
export function renderLossTable(lossPercent: string): string {
  const perTenThousand = Math.round(Number(lossPercent.replace('%', '')) * 100);
  const drop = perTenThousand >= 10000 ? 'drop' : `numgen random mod 10000 < ${perTenThousand} drop`;
  return [
    `table ip ${FAULTS_TABLE} {}`,
    `delete table ip ${FAULTS_TABLE}`,
    `table ip ${FAULTS_TABLE} {`,
    `  chain in { type filter hook prerouting priority -300; policy accept; iifname "eth0" ${drop}; }`,
    `  chain out { type filter hook postrouting priority 300; policy accept; oifname "eth0" ${drop}; }`,
    '}',
    '',
  ].join('\n');
}

async function kernelHasNetem(netns: string): Promise<boolean> {
  const r = await run('tc', ['-n', netns, 'qdisc', 'replace', 'dev', 'lo', 'root', 'netem', 'delay', '0ms'], { allowFail: true });
  if (r.code === 0) await run('tc', ['-n', netns, 'qdisc', 'del', 'dev', 'lo', 'root'], { allowFail: true });
  return r.code === 0;
}

/**
 * Applies to both directions of the node's underlay link (both veth ends) with tc netem. On a
 * kernel built without netem, loss still works (nftables random drop in the node namespace);
 * delay cannot, and says so.
 */
export async function setNetem(lab: string, nodeName: string, o: NetemOptions): Promise<'netem' | 'nftables'> {
  const state = requireLabState(lab);
  const n = node(state, nodeName);
  const ends: [string, string][] = [[n.netns, 'eth0'], [state.plan.underlay.netns, n.uplink]];
  if (o.clear) {
    for (const [ns, dev] of ends) await run('tc', ['-n', ns, 'qdisc', 'del', 'dev', dev, 'root'], { allowFail: true });
    await run('ip', ['netns', 'exec', n.netns, 'nft', 'delete', 'table', 'ip', FAULTS_TABLE], { allowFail: true });
    return (await kernelHasNetem(n.netns)) ? 'netem' : 'nftables';
  }
  const args = netemArgs(o);
  if (await kernelHasNetem(n.netns)) {
    for (const [ns, dev] of ends) await run('tc', ['-n', ns, 'qdisc', 'replace', 'dev', dev, 'root', ...args]);
    return 'netem';
  }
  if (o.delay !== undefined) {
    throw new AmbitError('LAB_NETEM_UNAVAILABLE', `Cannot add --delay ${showValue(o.delay)} on node ${n.name}: this kernel has no netem qdisc (CONFIG_NET_SCH_NETEM); --loss still works`, { path: '--delay', value: o.delay });
  }
  await nftIn(n.netns, renderLossTable(o.loss!));
  return 'nftables';
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
