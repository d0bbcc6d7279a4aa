// The one place that reaches into a Node socket for its file descriptor (`_handle.fd` is
// internal to Node), and the socket options ambit sets or reads on live sockets through it.
import type { Socket } from 'node:net';
import { AmbitError, showValue } from '../errors.js';
import { nativeSys, type SocketAddress } from './addon.js';
import { checkBool, checkInt } from './options.js';

interface WithHandle {
  _handle?: { fd?: unknown } | null;
  _parent?: WithHandle | null;
  destroyed?: boolean;
}

/** The fd under a net.Socket (or under the TCP socket a TLSSocket wraps). */
export function fdOf(socket: Socket): number {
  const s = socket as unknown as WithHandle;
  let fd = s._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) fd = s._parent?._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    const state = s.destroyed ? 'destroyed' : 'not backed by an open file descriptor';
    throw new AmbitError('SOCKET_HAS_NO_FD', `Cannot find the socket's file descriptor: the socket is ${state} (fd ${showValue(fd)})`, {
      path: 'socket',
      value: fd,
    });
  }
  return fd;
}

/**
 * Where an accepted, redirected connection was originally going (SO_ORIGINAL_DST). Throws the
 * system error ENOENT when the connection was not redirected (no NAT entry in conntrack).
 */
export function originalDst(socket: Socket): SocketAddress {
  return nativeSys().getOriginalDst(fdOf(socket));
}

/** Sets SO_MARK. On a client socket, do it before connect: the SYN already carries the mark. */
export function setMark(socket: Socket, mark: number): void {
  nativeSys().setMark(fdOf(socket), checkInt('set SO_MARK', 'mark', mark, 0, 0xffffffff));
}

export function getMark(socket: Socket): number {
  return nativeSys().getMark(fdOf(socket));
}

/** IP_TRANSPARENT (IPV6_TRANSPARENT on IPv6 sockets): lets the socket use non-local addresses. */
export function setTransparent(socket: Socket, on: boolean): void {
  nativeSys().setTransparent(fdOf(socket), checkBool('set IP_TRANSPARENT', 'on', on));
}

/**
 * Asks for a send buffer of `bytes` (SO_SNDBUFFORCE where the process may exceed
 * net.core.wmem_max, else SO_SNDBUF) and returns what the kernel granted: getsockopt's figure,
 * which counts the kernel's own bookkeeping (it doubles the request).
 */
export function setSendBuffer(socket: Socket, bytes: number): number {
  return nativeSys().setSendBuffer(fdOf(socket), checkInt('set SO_SNDBUF', 'bytes', bytes, 1, 0x3fffffff));
}
