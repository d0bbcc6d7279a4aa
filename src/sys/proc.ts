// Whether a process runs, from /proc: one rule for the lab's supervision and teardown and for the
// store's lock. A zombie (exited, not reaped yet) still "exists" for kill(0) but runs nothing and
// holds nothing.
import { readFileSync } from 'node:fs';

export function processRuns(pid: number | undefined): boolean {
  if (pid === undefined || !Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}
