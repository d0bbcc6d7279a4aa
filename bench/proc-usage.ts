// CPU and memory of running processes, read from /proc: CPU seconds (utime + stime) so a
// benchmark can take deltas over a steady load, and resident memory (VmRSS).
import { readFileSync } from 'node:fs';

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** utime and stime of `pid`, in seconds. */
export function cpuTimes(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) may hold spaces and parentheses: split after its closing one.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  return { user: Number(rest[11]) / CLOCK_TICKS, system: Number(rest[12]) / CLOCK_TICKS };
}

/** utime + stime of `pid`, in seconds. */
export function cpuSeconds(pid: number): number {
  const t = cpuTimes(pid);
  return t.user + t.system;
}

/** VmRSS of `pid`, in MB. */
export function rssMB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/**
 * CPU seconds the whole machine has been busy since boot, from the `cpu` line of /proc/stat
 * (`text`: that file's content): everything but idle and iowait, summed over every core.
 */
export function machineBusySeconds(text: string = readFileSync('/proc/stat', 'utf8')): number {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  const f = line?.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is inside user already).
  if (!f || f.length < 8 || f.some((n) => !Number.isFinite(n))) throw new Error(`Cannot read the machine's CPU time: /proc/stat has no cpu line of 8 numbers, got ${JSON.stringify(line ?? null)}`);
  const [user, nice, system, , , irq, softirq, steal] = f as [number, number, number, number, number, number, number, number];
  return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS;
}

export interface UsageSample { cores: number; rssMB: number }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Each pid's average cores over [now + delayMs, now + delayMs + windowMs] and its RSS at the end. */
export async function sampleUsage(pids: Record<string, number>, delayMs: number, windowMs: number): Promise<Record<string, UsageSample>> {
  await sleep(delayMs);
  const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
  const t0 = performance.now();
  await sleep(windowMs);
  const secs = (performance.now() - t0) / 1000;
  const usage: Record<string, UsageSample> = {};
  for (const [k, pid] of Object.entries(pids)) {
    usage[k] = { cores: (cpuSeconds(pid) - before[k]!) / secs, rssMB: rssMB(pid) };
  }
  return usage;
}
