// TCP listeners inside a pod's network namespace (the node proxy's 15001/15006/15008 live there).
// The socket is made in the namespace, bound natively, then any net.Server — plain, TLS or
// HTTP/2, all subclasses of net.Server — listens on the fd.
import { createServer, type Server } from 'node:net';
import { checkBool, checkHost, checkInt, checkNsPath, checkObject } from './options.js';
import { adoptOrClose, rawSocketInNetns } from './raw-socket.js';

export interface NetnsListenOptions {
  /** IP literal to bind, e.g. "127.0.0.1", "0.0.0.0", "::". */
  host: string;
  /** 0 picks a free port; read it back with server.address(). */
  port: number;
  /** listen(2) backlog; default 511 like Node. */
  backlog?: number;
  /** Set IP_TRANSPARENT before bind, to bind a non-local address or accept tproxy traffic. */
  transparent?: boolean;
}

const ACTION = 'listen in a network namespace';

/** Listens inside `nsPath` with `server` (default: a new net.Server) and resolves once listening. */
export async function listenInNetns<S extends Server = Server>(nsPath: string, opts: NetnsListenOptions, server?: S): Promise<S> {
  checkNsPath(ACTION, nsPath);
  const o = checkObject(ACTION, opts);
  const family = checkHost(ACTION, 'opts.host', o.host);
  const port = checkInt(ACTION, 'opts.port', o.port, 0, 65535);
  const backlog = o.backlog === undefined ? 511 : checkInt(ACTION, 'opts.backlog', o.backlog, 1, 65535);
  const transparent = o.transparent === undefined ? false : checkBool(ACTION, 'opts.transparent', o.transparent);

  const fd = rawSocketInNetns(nsPath, { family, type: 'tcp', transparent, bind: { host: opts.host, port } });
  const srv = server ?? (createServer() as S);
  // A synchronous throw (e.g. the server already listens) leaves the fd ours to close; once the
  // handle adopted it, Node closes it itself on a listen failure.
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    srv.once('error', onError);
    adoptOrClose(fd, (f) =>
      srv.listen({ fd: f, backlog }, () => {
        srv.off('error', onError);
        resolve();
      }),
    );
  });
  return srv;
}
