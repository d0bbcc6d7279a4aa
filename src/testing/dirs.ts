// Scratch directories for tests: a temporary one, and a small tmpfs that can be filled so that
// a write fails for real (ENOSPC) — the way to test a failed write as root, whom file modes
// do not stop. Both are removed after `fn`, also when it throws.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Runs `fn` with a fresh directory under the system's temporary one, then removes it: once `fn`
 * returns, or once the promise it returns settles.
 */
export function withTempDir<T>(prefix: string, fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  let result: T;
  try {
    result = fn(dir);
  } catch (err) {
    remove();
    throw err;
  }
  if (result instanceof Promise) return result.finally(remove) as T;
  remove();
  return result;
}

/**
 * Runs the clean-up steps in order, each even when an earlier one failed. The first error wins:
 * the test's own (`failure`) over any of clean-up's, which are attached to it (`cleanupErrors`).
 */
function cleanUp(failure: unknown, steps: (() => void)[]): void {
  const errors: unknown[] = [];
  for (const step of steps) {
    try {
      step();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length === 0) return;
  if (failure !== undefined) {
    if (failure instanceof Error) Object.assign(failure, { cleanupErrors: errors });
    return;
  }
  throw errors.length === 1 ? errors[0] : new AggregateError(errors, 'Cannot clean up the test tmpfs');
}

/** A mounted tmpfs of a few pages and a way to use up all of its space, and give it back. */
export interface SmallDisk {
  dir: string;
  /** Writes a filler file until the file system is full: every later write that needs a page fails with ENOSPC. */
  fill(): void;
  /** Removes the filler. */
  free(): void;
}

/** Runs `fn` with a 256 KiB tmpfs mounted on a fresh directory (needs root), then unmounts and removes it. */
export async function withSmallDisk<T>(fn: (disk: SmallDisk) => T | Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-small-disk-'));
  const filler = join(dir, '.filler');
  let mounted = false;
  let failure: unknown;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'ambit-test', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    mounted = true;
    return await fn({
      dir,
      fill: () => {
        const page = Buffer.alloc(4096, 1);
        try {
          for (let i = 0; i < 1024; i++) writeFileSync(filler, page, { flag: 'a' });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          return;
        }
        throw new Error(`Cannot fill the test tmpfs at ${dir}: 4 MiB written without ENOSPC`);
      },
      free: () => rmSync(filler, { force: true }),
    });
  } catch (err) {
    failure = err;
    throw err;
  } finally {
    cleanUp(failure, [
      () => {
        if (!mounted) return;
        // A test that failed with a file still open there would make a plain umount fail (EBUSY).
        try {
          execFileSync('umount', [dir], { stdio: ['ignore', 'ignore', 'pipe'] });
        } catch {
          execFileSync('umount', ['-l', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
        }
      },
      () => rmSync(dir, { recursive: true, force: true }),
    ]);
  }
}
