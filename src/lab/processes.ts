// Starting and stopping the lab's long-lived processes. Everything runs detached in its own
// process group (so the CLI that started it may exit) with output appended to a log file.
// Pod processes enter their namespace with `ip netns exec` (which also bind-mounts the pod's
// /etc/netns files: resolv.conf and the CA bundle) and drop to their pod's own user with no
// capabilities. Logs are root's alone (0600 in 0700 directories): no pod reads another's.
import { spawn } from 'node:child_process';
import { processRuns } from '../sys/proc.js';
import { closeSync, existsSync, fchmodSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AmbitError } from '../errors.js';
import { podTmpDir, type PodUser } from './pod-users.js';
import { RELAY_COMMANDS, RELAY_NODE_FLAGS } from '../runtime/index.js';

export const AMBIT_MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export interface ProcessSpec {
  argv: string[];
  /** Network namespace to run in (omitted: the caller's). */
  netns?: string;
  /**
   * A pod's process: drop to the pod's own user with an empty capability set, in the clean pod
   * environment (its own HOME and TMPDIR). Every pod, the egress gateway included, runs so.
   */
  user?: PodUser;
  logFile: string;
  env?: Record<string, string>;
}

/**
 * For profiling the data path: with AMBIT_PROFILE_NODE_PROXY=DIR in the environment of whoever
 * starts a lab, node proxies run with V8's CPU profiler and write a .cpuprofile into DIR on exit.
 */
function profileFlags(argv: string[]): string[] {
  const dir = process.env.AMBIT_PROFILE_NODE_PROXY;
  return dir && argv[1] === 'node-proxy' ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

/** Node flags for `ambit <sub-command>`: the relaying daemons get their heap floor (src/runtime/heap.ts). */
function nodeFlags(argv: string[]): string[] {
  return RELAY_COMMANDS.includes(argv[1] ?? '') ? [...RELAY_NODE_FLAGS] : [];
}

/** argv[0] `ambit` means this repository's CLI, run by the current Node binary. */
export function resolveCommand(argv: string[]): string[] {
  if (argv[0] === 'ambit') return [process.execPath, ...nodeFlags(argv), ...profileFlags(argv), AMBIT_MAIN, ...argv.slice(1)];
  return argv;
}

/** setpriv's arguments that make a process `user` with no groups, no capabilities and no way to gain any. */
export function dropPrivileges(user: Pick<PodUser, 'uid' | 'gid'>): string[] {
  return ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--'];
}

/** The full argv that runs `spec` in its namespace, with its privileges. */
export function wrapCommand(spec: Pick<ProcessSpec, 'argv' | 'netns' | 'user'>): string[] {
  const inner = resolveCommand(spec.argv);
  const dropped = spec.user ? [...dropPrivileges(spec.user), ...inner] : inner;
  return spec.netns === undefined ? dropped : ['ip', 'netns', 'exec', spec.netns, ...dropped];
}

/** The whole environment of a pod's process: nothing of the agent's leaks in. */
export function podEnv(user: PodUser, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: user.home,
    TMPDIR: podTmpDir(user),
    LANG: 'C.UTF-8',
    ...(process.env.AMBIT_LOG_LEVEL ? { AMBIT_LOG_LEVEL: process.env.AMBIT_LOG_LEVEL } : {}),
    ...extra,
  };
}

/** Starts a detached process; returns its pid (the pid of the final program: ip and setpriv exec). */
export function spawnDetached(spec: ProcessSpec): number {
  mkdirSync(dirname(spec.logFile), { recursive: true, mode: 0o700 });
  const fd = openSync(spec.logFile, 'a', 0o600);
  try {
    fchmodSync(fd, 0o600); // the mode only applies when the file is new
    const [cmd, ...args] = wrapCommand(spec);
    const env = spec.user ? podEnv(spec.user, spec.env) : { ...process.env, ...spec.env };
    const child = spawn(cmd!, args, { detached: true, stdio: ['ignore', fd, fd], env, cwd: '/' });
    if (child.pid === undefined) {
      throw new AmbitError('LAB_SPAWN_FAILED', `Cannot start ${spec.argv.join(' ')}: spawn returned no pid`, { value: spec.argv });
    }
    child.on('error', () => {});
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** Whether `pid` runs (a zombie does not): src/sys/proc.ts. */
export const isAlive = processRuns;

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}

/** SIGTERM the process group, then SIGKILL whatever is left after `graceMs`. */
export async function stopProcesses(pids: number[], graceMs = 2000): Promise<void> {
  const live = pids.filter((p) => isAlive(p));
  for (const p of live) signal(p, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && live.some((p) => isAlive(p))) await sleep(25);
  for (const p of live.filter((q) => isAlive(q))) signal(p, 'SIGKILL');
  const hard = Date.now() + 2000;
  while (Date.now() < hard && live.some((p) => isAlive(p))) await sleep(25);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The effective capability mask of a process, from /proc/<pid>/status. */
export function capEff(pid: number): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new AmbitError('LAB_PROC_UNREADABLE', `Cannot read CapEff of pid ${pid}: no CapEff line in /proc/${pid}/status`, { value: pid });
  return BigInt(`0x${m[1]}`);
}

/** The inode of a named network namespace (its /run/netns bind mount). */
export function netnsInode(name: string): number | undefined {
  const p = `/run/netns/${name}`;
  if (!existsSync(p)) return undefined;
  try {
    return statSync(p).ino;
  } catch {
    return undefined;
  }
}

/** Pids whose network namespace is one of `inodes`. */
export function pidsInNetns(inodes: Set<number>): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const link = readlinkSync(`/proc/${entry}/ns/net`);
      const m = /^net:\[(\d+)\]$/.exec(link);
      if (m && inodes.has(Number(m[1]))) out.push(Number(entry));
    } catch {
      /* raced with exit */
    }
  }
  return out;
}

/**
 * Pids whose real or effective uid lies in `first`..`last` (a lab's pod users): a pod's process
 * that left its namespace (a user namespace of its own) or outlived it is still the lab's.
 */
export function pidsByUidRange(first: number, last: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const m = /^Uid:\s+(\d+)\s+(\d+)/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'));
      // A zombie (killed, not reaped yet by its parent) is gone for us, as in isAlive.
      if (m && [Number(m[1]), Number(m[2])].some((u) => u >= first && u <= last) && isAlive(Number(entry))) out.push(Number(entry));
    } catch {
      /* raced with exit */
    }
  }
  return out;
}

/** Pids whose argv contains `needle` as consecutive arguments. */
export function pidsByArgv(needle: string[]): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      for (let i = 0; i + needle.length <= argv.length; i++) {
        if (needle.every((n, j) => argv[i + j] === n)) {
          out.push(Number(entry));
          break;
        }
      }
    } catch {
      /* raced with exit */
    }
  }
  return out;
}
