// Outbound TCP from inside a pod's network namespace: the socket is made in the namespace with
// its mark set before connect (so capture rules can exempt it from the first packet), then Node
// adopts it and connects as usual.
import { Socket } from 'node:net';
import { AmbitError, showValue } from '../errors.js';
import { checkBool, checkHost, checkInt, checkNsPath, checkObject } from './options.js';
import { adoptOrClose, rawSocketInNetns } from './raw-socket.js';

export interface NetnsConnectOptions {
  /** IP literal to connect to. */
  host: string;
  port: number;
  /** SO_MARK, set before connect. */
  mark?: number;
  /** Source address (IP literal, same family as host). */
  localAddress?: string;
  /** Source port; default ephemeral. Only with localAddress. */
  localPort?: number;
  /** IP_TRANSPARENT, to connect from a non-local localAddress (keeping a client's source IP). */
  transparent?: boolean;
  /** Keep the write side open after the peer's FIN (a proxy relays each direction's FIN itself). */
  allowHalfOpen?: boolean;
}

const ACTION = 'connect from a network namespace';

/** A socket already connecting from `nsPath`; listen for 'connect' and 'error' as with net.connect(). */
export function connectFromNetns(nsPath: string, opts: NetnsConnectOptions): Socket {
  checkNsPath(ACTION, nsPath);
  const o = checkObject(ACTION, opts);
  const family = checkHost(ACTION, 'opts.host', o.host);
  const port = checkInt(ACTION, 'opts.port', o.port, 1, 65535);
  const mark = o.mark === undefined ? undefined : checkInt(ACTION, 'opts.mark', o.mark, 0, 0xffffffff);
  const transparent = o.transparent === undefined ? false : checkBool(ACTION, 'opts.transparent', o.transparent);
  if (o.localAddress !== undefined && checkHost(ACTION, 'opts.localAddress', o.localAddress) !== family) {
    throw new AmbitError(
      'INVALID_SOCKET_OPTION',
      `Cannot ${ACTION}: opts.localAddress must be an IPv${family} address like opts.host, got ${showValue(o.localAddress)}`,
      { path: 'opts.localAddress', value: o.localAddress },
    );
  }
  const localPort = o.localPort === undefined ? undefined : checkInt(ACTION, 'opts.localPort', o.localPort, 0, 65535);

  const fd = rawSocketInNetns(nsPath, { family, type: 'tcp', mark, transparent });
  const socket = adoptOrClose(fd, (f) => new Socket({ fd: f, allowHalfOpen: opts.allowHalfOpen === true }));
  socket.connect({
    host: opts.host,
    port,
    ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
    ...(localPort !== undefined ? { localPort } : {}),
  });
  return socket;
}
