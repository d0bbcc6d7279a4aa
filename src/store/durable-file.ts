// One way to replace a small file so that a crash leaves either the old or the new content, and a
// power loss after the return keeps the new: write a sibling, fsync it, rename it over the file,
// then fsync the directory (the rename itself lives in the directory's entry).
import { closeSync, fsyncSync, openSync, renameSync, writeFileSync } from 'node:fs';
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
  writeFileSync(tmp, data, { mode });
  fsyncPath(tmp);
  renameSync(tmp, path);
  fsyncPath(dirname(path));
}
