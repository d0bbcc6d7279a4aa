// Every HBONE socket gets a send buffer that holds a whole connection window.
//
// Why: Node's HTTP/2 stops reading a connection while a write to that connection is still
// pending (the kernel's send buffer was full). If both ends of one connection have a write
// pending at once (both directions busy, more in flight than the kernel buffers hold), neither
// reads again, so neither write ever completes and every tunnel on the connection stalls for good.
// Seen with a 40 MB full-duplex echo through one tunnel: about half the runs with both ends in
// one process, and 1 run in 7 with both pods on one node in the lab.
//
// The fix: what one end can have outstanding is bounded by the peer's flow-control window, so a
// send buffer of that window plus a quarter means a write always fits: it never stays pending,
// that end never stops reading, and the other end's writes drain. One end so protected is enough.
// The buffer is kernel memory used only while bytes actually wait in it.
import type { Socket } from 'node:net';
import type { Logger } from '../log.js';
import { setSendBuffer } from '../sys/index.js';

/** The send buffer to ask for on a connection whose peer may have `windowBytes` outstanding. */
export function sendBufferFor(windowBytes: number): number {
  return windowBytes + Math.ceil(windowBytes / 4);
}

let warned = false;

/**
 * Reserves sendBufferFor(windowBytes) on the socket (SO_SNDBUFFORCE, else SO_SNDBUF). Where the
 * kernel grants less (net.core.wmem_max without CAP_NET_ADMIN) or the native addon is missing,
 * says so once per process, naming what to change, and carries on: the peer's buffer may still
 * protect the connection (the node proxy's always does). Returns the granted size, or undefined.
 */
export function reserveSendBuffer(socket: Socket, windowBytes: number, log: Logger): number | undefined {
  const want = sendBufferFor(windowBytes);
  let granted: number | undefined;
  let why: string | undefined;
  try {
    granted = setSendBuffer(socket, want);
    // getsockopt reports twice the request (the kernel's bookkeeping); less means it was capped.
    if (granted < 2 * want) why = `the kernel granted ${granted / 2} bytes (net.core.wmem_max)`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'SOCKET_HAS_NO_FD' && socket.destroyed) return undefined;
    why = (err as Error).message;
  }
  if (why !== undefined && !warned) {
    warned = true;
    log.warn({ wantBytes: want, grantedBytes: granted }, `Cannot reserve a ${want}-byte HBONE send buffer: ${why}; a connection whose two directions are both busy can stall unless its peer reserves one (give this process CAP_NET_ADMIN, or raise net.core.wmem_max to ${want})`);
  }
  return granted;
}
