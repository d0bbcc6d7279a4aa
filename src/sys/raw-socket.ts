// Makes a socket inside a network namespace and prepares it (mark, transparency, bind) before
// Node adopts it. Until Node owns the fd, a failure here must close it, or it leaks.
import { closeSync } from 'node:fs';
import { nativeSys } from './addon.js';

export interface RawSocketSpec {
  family: 4 | 6;
  type: 'tcp' | 'udp';
  mark?: number;
  transparent?: boolean;
  bind?: { host: string; port: number };
}

export function rawSocketInNetns(nsPath: string, spec: RawSocketSpec): number {
  const sys = nativeSys();
  const fd = sys.socketInNetns(nsPath, spec.family, spec.type);
  try {
    if (spec.mark !== undefined) sys.setMark(fd, spec.mark);
    if (spec.transparent) sys.setTransparent(fd, true);
    if (spec.bind) sys.bindSocket(fd, spec.bind.host, spec.bind.port);
    return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** Runs `adopt(fd)`; if it throws before Node took the fd over, closes the fd. */
export function adoptOrClose<T>(fd: number, adopt: (fd: number) => T): T {
  try {
    return adopt(fd);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}
