// Loads the native addon (native/ambit_sys.c) once, on first use, so that modules importing
// src/sys still load on a machine where the addon is not built until they actually need it.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { AmbitError } from '../errors.js';

/** An address as the kernel reports it. */
export interface SocketAddress {
  address: string;
  port: number;
  family: 4 | 6;
}

/** The raw surface of ambit_sys.node. Errors are Node-style system errors (errno, code, syscall, path). */
export interface NativeSys {
  socketInNetns(nsPath: string, family: 4 | 6, type: 'tcp' | 'udp'): number;
  bindSocket(fd: number, address: string, port: number): void;
  getOriginalDst(fd: number): SocketAddress;
  setTransparent(fd: number, on: boolean): void;
  setMark(fd: number, mark: number): void;
  getMark(fd: number): number;
  /** SO_SNDBUFFORCE, else SO_SNDBUF; returns the size the kernel granted (getsockopt). */
  setSendBuffer(fd: number, bytes: number): number;
}

// dist/src/sys/addon.js -> native/build/Release/ambit_sys.node
const ADDON_URL = new URL('../../../native/build/Release/ambit_sys.node', import.meta.url);

let loaded: NativeSys | undefined;

export function nativeSys(): NativeSys {
  if (loaded) return loaded;
  const file = fileURLToPath(ADDON_URL);
  try {
    loaded = createRequire(import.meta.url)(file) as NativeSys;
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' ? 'it is not built' : String(err);
    throw new AmbitError('NATIVE_ADDON_MISSING', `Cannot load the native addon ${file}: ${why}; run \`npm run build\``, {
      path: 'native/build/Release/ambit_sys.node',
      value: file,
      cause: err,
    });
  }
  return loaded;
}
