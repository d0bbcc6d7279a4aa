// `lab exec` and `lab logs`: run a command inside a pod exactly as its apps run (its namespace,
// its /etc/netns files, the pod's own user, HOME and TMPDIR, no capabilities), and read a pod's
// container logs.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { AmbitError, showValue } from '../errors.js';
import { podEnv, wrapCommand } from './processes.js';
import { podUser, type PodUser } from './pod-users.js';
import type { PodRecord } from './state.js';
import { findRunningPod, requireLabState } from './status.js';
import { readAgentState } from './state.js';
import { podKey } from './names.js';

export interface PodExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface PodExecOptions {
  /** Inherit the caller's stdio instead of capturing (the CLI). */
  inherit?: boolean;
  input?: string;
  timeoutMs?: number;
}

/** The user the pod's processes run as, from the agent's record of it. */
function recordUser(lab: string, rec: PodRecord): PodUser {
  if (rec.uid === undefined) {
    throw new AmbitError('LAB_POD_NO_USER', `Cannot exec in pod ${showValue(podKey(rec.namespace, rec.name))}: the lab agent recorded no uid for it (a pod built by an older agent; recreate it)`, { value: podKey(rec.namespace, rec.name) });
  }
  return podUser(lab, rec.uid);
}

/** The argv that runs `argv` inside the pod. */
export function podExecArgv(lab: string, namespace: string, pod: string, argv: string[]): string[] {
  const state = requireLabState(lab);
  const rec = findRunningPod(state, namespace, pod);
  return wrapCommand({ argv, netns: rec.netns!, user: recordUser(state.lab, rec) });
}

export function execInPod(lab: string, namespace: string, pod: string, argv: string[], o: PodExecOptions = {}): Promise<PodExecResult> {
  if (argv.length === 0) throw new AmbitError('LAB_EXEC_NO_COMMAND', 'Cannot exec in a pod: no command given after --', { value: argv });
  const state = requireLabState(lab);
  const rec = findRunningPod(state, namespace, pod);
  const user = recordUser(state.lab, rec);
  const [cmd, ...args] = wrapCommand({ argv, netns: rec.netns!, user });
  const env = podEnv(user, { POD_NAME: pod, POD_NAMESPACE: namespace, ...(rec.ip ? { POD_IP: rec.ip } : {}) });
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, args, { stdio: o.inherit ? 'inherit' : ['pipe', 'pipe', 'pipe'], env, cwd: '/' });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin?.on('error', () => {});
    child.stdin?.end(o.input ?? '');
    let timedOut = false;
    const timer = o.timeoutMs ? setTimeout(() => ((timedOut = true), child.kill('SIGKILL')), o.timeoutMs) : undefined;
    // A process the command left behind (or one stopped under ptrace) may hold its stdout open:
    // after a timeout, the command's exit is the end.
    child.on('exit', () => {
      if (!timedOut) return;
      child.stdout?.destroy();
      child.stderr?.destroy();
    });
    child.on('error', (err) => reject(new AmbitError('LAB_EXEC_FAILED', `Cannot exec ${showValue(argv.join(' '))} in pod ${podKey(namespace, pod)}: ${err.message}`, { cause: err })));
    child.on('close', (code, sig) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? (sig ? 128 + 9 : -1), stdout, stderr });
    });
  });
}

/** The log text of a pod's containers (one container, or all with a header each). */
export function podLogs(lab: string, namespace: string, pod: string, container?: string): string {
  const state = requireLabState(lab);
  const rec = readAgentState(state.lab)?.pods[podKey(namespace, pod)];
  if (!rec) throw new AmbitError('LAB_POD_NOT_FOUND', `Cannot read logs of pod ${showValue(podKey(namespace, pod))} in lab ${state.lab}: no such pod`, { value: podKey(namespace, pod) });
  const containers = container === undefined ? rec.containers : rec.containers.filter((c) => c.name === container);
  if (container !== undefined && containers.length === 0) {
    throw new AmbitError('LAB_CONTAINER_NOT_FOUND', `Cannot read logs: pod ${podKey(namespace, pod)} has no container ${showValue(container)} (containers: ${rec.containers.map((c) => c.name).join(', ')})`, { path: '-c', value: container });
  }
  const read = (f: string): string => (existsSync(f) ? readFileSync(f, 'utf8') : '');
  if (containers.length === 1) return read(containers[0]!.logFile);
  return containers.map((c) => `==> ${c.name} <==\n${read(c.logFile)}`).join('\n');
}
