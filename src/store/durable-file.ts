// One way to replace a small file so that a crash leaves either the old or the new content, and a
// power loss after the return keeps the new: write a sibling, fsync it, rename it over the file,
// then fsync the directory (the rename itself lives in the directory's entry). A write that fails
// (a full disk) leaves the old file as it was and no sibling behind.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function replaceFileDurably(path: string, data: string, mode = 0o600): void {
  const tmp = `${path}.tmp`;
  try {
    writeFileSync(tmp, data, { mode });
    fsyncPath(tmp);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  fsyncPath(dirname(path));
}
