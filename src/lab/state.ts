// What a lab has made, on disk under its run directory: state.json (written by `up` and the
// fault knobs: topology and component processes) and agent-state.json (written only by the lab
// agent: pods, their addresses and processes, IPAM). One writer per file, replaced atomically.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labRunDir } from '../paths.js';
import type { LabPlan } from './plan.js';
import type { LabSpec } from './spec.js';
import type { IpamSnapshot } from './ipam.js';
import type { PodStatus } from '../config/types.js';

export type PodPhase = NonNullable<PodStatus['phase']>;

export interface ComponentRecord {
  name: string;
  argv: string[];
  netns?: string;
  env?: Record<string, string>;
  pid: number;
  logFile: string;
  startedAt: string;
}

export interface LabState {
  version: 1;
  lab: string;
  createdAt: string;
  /** false while `up` is still building: a crash mid-way leaves a stale lab. */
  ready: boolean;
  spec: LabSpec;
  plan: LabPlan;
  components: Record<string, ComponentRecord>;
}

export interface ContainerRecord {
  name: string;
  pid: number;
  logFile: string;
  startedAt: string;
}

export interface PodRecord {
  namespace: string;
  name: string;
  node: string;
  netns?: string;
  veth?: string;
  ip?: string;
  phase: PodPhase;
  message?: string;
  /** The pod's own uid (= gid), allocated by the agent; `lab exec` runs as it too. */
  uid?: number;
  /** The egress gateway: not enrolled into the node proxy, owns its workload credential. */
  system?: boolean;
  /** JSON of the spec that was built, to notice changes. */
  fingerprint: string;
  containers: ContainerRecord[];
}

export interface AgentState {
  version: 1;
  revision: number;
  ipam: Record<string, IpamSnapshot>;
  /** The next pod uid to hand out (uids are not reused within a lab). */
  nextUid?: number;
  pods: Record<string, PodRecord>;
  updatedAt: string;
}

export function statePath(lab: string): string {
  return join(labRunDir(lab), 'state.json');
}

export function agentStatePath(lab: string): string {
  return join(labRunDir(lab), 'agent-state.json');
}

function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.${process.pid}.tmp`;
  // Root only: the agent state holds every pod's spec, container env included, and pods must not read each other's.
  writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, path);
}

function readJson<T>(path: string): T | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export function readLabState(lab: string): LabState | undefined {
  return readJson<LabState>(statePath(lab));
}

export function writeLabState(state: LabState): void {
  mkdirSync(labRunDir(state.lab), { recursive: true, mode: 0o755 });
  writeJsonAtomic(statePath(state.lab), state);
}

export function readAgentState(lab: string): AgentState | undefined {
  return readJson<AgentState>(agentStatePath(lab));
}

export function writeAgentState(lab: string, state: AgentState): void {
  writeJsonAtomic(agentStatePath(lab), state);
}

/** Root-only (0700, files 0600): pods cannot read any log, their own or the gateway's audit lines. */
export function logDir(lab: string): string {
  return join(labRunDir(lab), 'logs');
}

export function containerLogFile(lab: string, namespace: string, pod: string, container: string): string {
  return join(logDir(lab), 'pods', namespace, pod, `${container}.log`);
}
