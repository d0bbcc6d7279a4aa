// UDP sockets bound inside a pod's network namespace (the in-pod DNS proxy on 15053). Node's
// dgram adopts an existing fd with bind({ fd }) but never binds it, so the bind is native.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { checkBool, checkHost, checkInt, checkNsPath, checkObject } from './options.js';
import { adoptOrClose, rawSocketInNetns } from './raw-socket.js';

export interface NetnsUdpOptions {
  /** IP literal to bind. */
  host: string;
  /** 0 picks a free port; read it back with socket.address(). */
  port: number;
  /** SO_MARK for datagrams this socket sends. */
  mark?: number;
  /** IP_TRANSPARENT, to bind a non-local address. */
  transparent?: boolean;
}

const ACTION = 'bind a UDP socket in a network namespace';

export async function udpSocketInNetns(nsPath: string, opts: NetnsUdpOptions): Promise<UdpSocket> {
  checkNsPath(ACTION, nsPath);
  const o = checkObject(ACTION, opts);
  const family = checkHost(ACTION, 'opts.host', o.host);
  const port = checkInt(ACTION, 'opts.port', o.port, 0, 65535);
  const mark = o.mark === undefined ? undefined : checkInt(ACTION, 'opts.mark', o.mark, 0, 0xffffffff);
  const transparent = o.transparent === undefined ? false : checkBool(ACTION, 'opts.transparent', o.transparent);

  const fd = rawSocketInNetns(nsPath, { family, type: 'udp', mark, transparent, bind: { host: opts.host, port } });
  const socket = createSocket(family === 4 ? 'udp4' : 'udp6');
  // dgram throws synchronously if it cannot adopt the fd; then the fd is still ours to close.
  await new Promise<void>((resolve) => adoptOrClose(fd, (f) => socket.bind({ fd: f }, resolve)));
  return socket;
}
