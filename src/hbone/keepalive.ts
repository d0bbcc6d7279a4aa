// HTTP/2 keepalive for HBONE connections, on both ends: a PING every `intervalMs`, and a
// connection whose PING is not answered within `timeoutMs` is reported dead. It catches a peer
// that is gone without a FIN or RST (a frozen node, a cut link): its tunnels, and the pool's reuse
// of the connection, would otherwise wait on TCP for minutes. A closing connection (GOAWAY sent,
// tunnels still finishing) is watched the same way until it has closed.
import type { H2Session } from './h2/index.js';

export interface KeepaliveOptions {
  /** Time from one answered PING (or the start) to the next PING. */
  intervalMs: number;
  /** A PING not answered this long after it was sent makes the connection dead. */
  timeoutMs: number;
}

/**
 * Pings `session` until it closes; calls `onDead` at most once, when a PING goes unanswered for
 * `timeoutMs` and nothing at all was read from the peer meanwhile. The caller decides what dead
 * means (the server closes, the pool forgets and closes).
 */
export function keepAlive(session: H2Session, o: KeepaliveOptions, onDead: (detail: string) => void): void {
  let timer: NodeJS.Timeout | undefined;
  const arm = (fn: () => void, ms: number): void => {
    timer = setTimeout(fn, ms);
    timer.unref();
  };
  // Bytes read off the socket. A PING (or its ACK) can wait behind megabytes already in a send
  // buffer on a slow link; a peer whose bytes keep arriving is alive, so only a silent one is dead.
  const bytesRead = (): number => session.socket.bytesRead ?? 0;
  const probe = (): void => {
    if (session.closed) return;
    let answered = false;
    let readAt = bytesRead();
    // false only with too many PINGs outstanding; this one is the only one we send.
    const sent = session.ping((err) => {
      answered = true;
      clearTimeout(timer);
      if (!err && !session.closed) arm(probe, o.intervalMs);
    });
    if (!sent) return;
    const deadline = (): void => {
      // After the turn's reads: an event loop that stalled past the timeout may hold the ACK unread.
      setImmediate(() => {
        if (answered || session.closed) return;
        const now = bytesRead();
        if (now > readAt) {
          readAt = now;
          arm(deadline, o.timeoutMs);
          return;
        }
        onDead(`a PING went unanswered for ${o.timeoutMs} ms: the peer is gone or stopped answering`);
      });
    };
    arm(deadline, o.timeoutMs);
  };
  arm(probe, o.intervalMs);
  session.once('close', () => clearTimeout(timer));
}
