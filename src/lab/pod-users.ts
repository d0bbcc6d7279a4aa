// Each pod runs as a user of its own: a uid/gid that no other pod (of this lab, and as far as
// the hash goes, of any other lab on the machine) shares, so one pod cannot ptrace, signal or
// read /proc/<pid>/{environ,mem} of another's processes, and a private HOME and TMPDIR (0700,
// owned by that uid, under the run dir) so nothing one pod writes there is read by another's
// tools. The agent allocates the uids and keeps them in agent-state.json (stable across agent
// restarts, never handed out twice in a lab); `lab exec` reads them from there.
import { createHash } from 'node:crypto';
import { chownSync, chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AmbitError } from '../errors.js';
import { labRunDir } from '../paths.js';

/** Far above any system or login user (those stay below 65536 on Debian-like systems). */
export const POD_UID_BASE = 200_000;
/** Uids per lab: a lab's block is [base + block * size, base + (block + 1) * size). */
export const POD_UID_BLOCK_SIZE = 10_000;
/** Blocks to hash lab names into; the top uid stays below 2^31 (some tools dislike larger). */
export const POD_UID_BLOCKS = 100_000;

/** The user one pod's processes (and `lab exec` in it) run as. */
export interface PodUser {
  uid: number;
  gid: number;
  /** HOME; TMPDIR is its `tmp` subdirectory. */
  home: string;
}

/** The first uid of the lab's block: derived from the name alone, so teardown needs no state. */
export function labUidBase(lab: string): number {
  const block = createHash('sha256').update(lab).digest().readUInt32BE(0) % POD_UID_BLOCKS;
  return POD_UID_BASE + block * POD_UID_BLOCK_SIZE;
}

export function labUidRange(lab: string): { first: number; last: number } {
  const first = labUidBase(lab);
  return { first, last: first + POD_UID_BLOCK_SIZE - 1 };
}

/** Root-owned 0711: a pod can enter its own home but cannot list which others exist. */
export function podHomesDir(lab: string): string {
  return join(labRunDir(lab), 'homes');
}

export function podHome(lab: string, uid: number): string {
  return join(podHomesDir(lab), String(uid));
}

export function podUser(lab: string, uid: number): PodUser {
  return { uid, gid: uid, home: podHome(lab, uid) };
}

export function podTmpDir(user: PodUser): string {
  return join(user.home, 'tmp');
}

/** Uids that /etc/passwd names or that a live process runs as: never handed to a pod. */
function uidsTaken(): Set<number> {
  const taken = new Set<number>();
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const uid = Number(line.split(':')[2]);
      if (line.trim() !== '' && Number.isInteger(uid)) taken.add(uid);
    }
  } catch {
    /* no passwd file: nothing named */
  }
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const m = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'));
      if (m) for (const u of m.slice(1)) taken.add(Number(u));
    } catch {
      /* raced with exit */
    }
  }
  return taken;
}

/**
 * Hands out the lab's pod uids in order, never the same one twice while `next` is kept (it is,
 * in agent-state.json). After the block's last uid it wraps, skipping every uid a pod of the lab
 * still holds; a uid some other user or process of the machine has is skipped too.
 */
export class PodUidAllocator {
  private next: number;

  constructor(
    private readonly lab: string,
    next: number | undefined,
    private readonly held: () => Iterable<number>,
  ) {
    const { first, last } = labUidRange(lab);
    this.next = next !== undefined && next >= first && next <= last ? next : first;
  }

  /** Restores from saved state: `next` if it was saved, else just past the highest uid a pod holds. */
  static restore(lab: string, next: number | undefined, held: () => Iterable<number>): PodUidAllocator {
    if (next !== undefined) return new PodUidAllocator(lab, next, held);
    const { first, last } = labUidRange(lab);
    const mine = [...held()].filter((u) => u >= first && u <= last);
    return new PodUidAllocator(lab, mine.length === 0 ? first : Math.max(...mine) + 1, held);
  }

  allocate(): number {
    const { first, last } = labUidRange(this.lab);
    const held = new Set(this.held());
    const taken = uidsTaken();
    for (let i = 0; i < POD_UID_BLOCK_SIZE; i++) {
      const uid = this.next;
      this.next = uid >= last ? first : uid + 1;
      if (!held.has(uid) && !taken.has(uid)) return uid;
    }
    throw new AmbitError('LAB_UIDS_EXHAUSTED', `Cannot allocate a pod uid in lab ${this.lab}: every uid of ${first}-${last} is in use`, { value: this.lab });
  }

  /** What to save so that a restarted agent carries on from here. */
  snapshot(): number {
    return this.next;
  }
}

function ownedDir(path: string, user: PodUser): void {
  mkdirSync(path, { mode: 0o700 });
  chownSync(path, user.uid, user.gid);
  chmodSync(path, 0o700);
}

/** Makes the pod's HOME and TMPDIR afresh (whatever a former holder of the uid left is removed). */
export function createPodHome(lab: string, user: PodUser): void {
  const parent = podHomesDir(lab);
  mkdirSync(parent, { recursive: true, mode: 0o711 });
  chmodSync(parent, 0o711);
  rmSync(user.home, { recursive: true, force: true });
  ownedDir(user.home, user);
  ownedDir(podTmpDir(user), user);
}

/** Removes the pod's HOME (call once its processes are stopped). */
export function removePodHome(lab: string, uid: number): void {
  rmSync(podHome(lab, uid), { recursive: true, force: true });
}

/** The machine's shared scratch directories, where a pod may still have written. */
export const SHARED_TMP_DIRS = ['/tmp', '/var/tmp', '/dev/shm'];

/**
 * Removes what the lab's pod users left at the top of the shared scratch directories (found by
 * owner uid in the lab's block, so it works without a state file). Returns the paths removed.
 */
export function sweepPodFiles(lab: string, dirs = SHARED_TMP_DIRS): string[] {
  const { first, last } = labUidRange(lab);
  const removed: string[] = [];
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      try {
        const uid = lstatSync(path).uid;
        if (uid < first || uid > last) continue;
        rmSync(path, { recursive: true, force: true });
        removed.push(path);
      } catch {
        /* gone meanwhile */
      }
    }
  }
  return removed;
}
