// HTTP/2 keepalive for HBONE connections, on both ends: a PING every `intervalMs`, and a
// connection whose PING is not answered within `timeoutMs` is reported dead. It catches two
// things nothing else does:
// - a peer that is gone without a FIN or RST (a frozen node, a cut link): its tunnels and the
//   pool's reuse of the connection would otherwise wait on TCP for minutes;
// - a session that nghttp2 itself ended after a protocol error on the connection (DATA on stream
//   0, a SETTINGS frame of the wrong length): it answers GOAWAY, stops reading the socket and
//   tells JS nothing, so the connection sat open until the idle timeout, even after the peer left.
//   Such a session never sends the PING: it stays in the outbound queue, which the report tells.
import type { Http2Session } from 'node:http2';

export interface KeepaliveOptions {
  /** Time from one answered PING (or the start) to the next PING. */
  intervalMs: number;
  /** A PING not answered this long after it was queued makes the connection dead. */
  timeoutMs: number;
}

/**
 * Pings `session` until it closes; calls `onDead` at most once, when a PING goes unanswered for
 * `timeoutMs` and nothing at all was read from the peer meanwhile, with why: the PING never left
 * nghttp2's queue, or left and got no answer. The caller decides what dead means (the server
 * closes, the pool forgets and closes).
 */
export function keepAlive(session: Http2Session, o: KeepaliveOptions, onDead: (detail: string) => void): void {
  let timer: NodeJS.Timeout | undefined;
  const arm = (fn: () => void, ms: number): void => {
    timer = setTimeout(fn, ms);
    timer.unref();
  };
  // Bytes read off the socket. A PING (or its ACK) can wait behind megabytes already in a send
  // buffer on a slow link; a peer whose bytes keep arriving is alive, so only a silent one is dead.
  // A session nghttp2 ended stops reading, so its count stands still too.
  const bytesRead = (): number => session.socket?.bytesRead ?? 0;
  const probe = (): void => {
    // Node cancels every PING once close() was called, so a closing session is left to its
    // owner's deadline (the server's drain); both ends close idle connections with no tunnel open.
    if (session.destroyed || session.closed) return;
    let answered = false;
    let readAt = bytesRead();
    try {
      // Returns false (and cancels at once) only with too many PINGs outstanding; one is, at most.
      session.ping((err) => {
        answered = true;
        clearTimeout(timer);
        // On ERR_HTTP2_PING_CANCEL the session is closing, and the next probe sees that.
        if (!err || !(session.destroyed || session.closed)) arm(probe, o.intervalMs);
      });
    } catch {
      return; // destroyed between the check and the call
    }
    const deadline = (): void => {
      // After the turn's reads: an event loop that stalled past the timeout may hold the ACK unread.
      setImmediate(() => {
        if (answered || session.destroyed) return;
        const now = bytesRead();
        if (now > readAt) {
          readAt = now;
          arm(deadline, o.timeoutMs);
          return;
        }
        const queued = ((session.state as { outboundQueueSize?: number }).outboundQueueSize ?? 0) > 0;
        onDead(queued
          ? `a PING could not be sent within ${o.timeoutMs} ms: the HTTP/2 layer stopped writing to this connection (it ended the session after a protocol error from the peer, answered with GOAWAY, or the peer stopped reading)`
          : `a PING went unanswered for ${o.timeoutMs} ms: the peer is gone or stopped answering`);
      });
    };
    arm(deadline, o.timeoutMs);
  };
  arm(probe, o.intervalMs);
  session.once('close', () => clearTimeout(timer));
}
