// The HBONE server refuses some connections before the gateway's onTunnel ever sees them (a TLS
// handshake that fails, no h2, a stream that is not CONNECT, too many streams, headers too large,
// an authority it cannot parse), and answers 503 itself when onTunnel throws. DESIGN invariant 8
// wants each of them in the egress audit too, so this module turns `onRefused` into an audit
// record. The server passes what it verified (the peer, for stream-level refusals), the
// authority and the client's address; when it has less (connection-level refusals carry no
// peer), the context comes from the server's own events: listeners put first and cleared after
// the current turn note which socket or session is being handled, and the HBONE server reports
// those refusals synchronously from its handlers. A refusal with no such context (a handshake
// deadline firing) has an unknown source.
import type { Http2SecureServer, IncomingHttpHeaders, ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { peerIdentity, type RefusalCode, type RefusalContext } from '../hbone/index.js';
import type { EgressAudit, EgressRecord } from './gateway-audit.js';

interface Context {
  /** What `source` says when no verified peer is known. */
  source: string;
  socket?: TLSSocket;
  /** Set once the handshake verified the peer (stream-level refusals). */
  verified?: boolean;
  authority?: string;
}

export const SOURCE_NO_HANDSHAKE = 'unknown (no TLS handshake completed)';
export const SOURCE_UNVERIFIED = 'unverified (the client certificate was not accepted)';

export interface HboneRefusalAudit {
  onRefused: (code: RefusalCode, detail: string, context?: RefusalContext) => void;
  /** The gateway audited this refusal itself (onTunnel answered non-200 with `reason`): skip it once. */
  alreadyAudited(reason: string): void;
  /** Installs the context listeners; call once the server exists and its other listeners are in. */
  attach(server: Http2SecureServer): void;
}

export function hboneRefusalAudit(audit: EgressAudit): HboneRefusalAudit {
  let current: Context | undefined;
  const expected = new Map<string, number>();
  const note = (c: Context): void => {
    current = c;
    // Every listener of one event runs in this turn; after it the context is stale.
    queueMicrotask(() => {
      if (current === c) current = undefined;
    });
  };
  return {
    alreadyAudited(reason) {
      expected.set(reason, (expected.get(reason) ?? 0) + 1);
    },
    onRefused(code, detail, context = {}) {
      const n = expected.get(detail);
      if (n !== undefined) {
        if (n <= 1) expected.delete(detail);
        else expected.set(detail, n - 1);
        return;
      }
      const c = current;
      // The server's own word first: it only names a peer it verified.
      let source = context.peer ?? c?.source ?? SOURCE_NO_HANDSHAKE;
      if (context.peer === undefined && c?.verified === true && c.socket !== undefined) {
        try {
          source = peerIdentity(c.socket);
        } catch {
          source = SOURCE_UNVERIFIED;
        }
      }
      const sourceAddress = context.remote ?? c?.socket?.remoteAddress;
      const rec: EgressRecord = {
        // The authority noted from the stream's own event is the one the client sent (the gateway
        // swaps host names for a placeholder before the HBONE server sees them).
        source, authority: c?.authority ?? context.authority ?? '-',
        ...(sourceAddress ? { sourceAddress } : {}),
        bytesIn: 0, bytesOut: 0, durationMs: 0, verdict: 'refused', code: `HBONE_${code}`, reason: detail,
      };
      audit.record(rec);
    },
    attach(server) {
      server.prependListener('tlsClientError', (_err: Error, socket: TLSSocket) => note({ source: SOURCE_NO_HANDSHAKE, socket }));
      server.prependListener('unknownProtocol', (socket: TLSSocket) => note({ source: SOURCE_NO_HANDSHAKE, socket }));
      server.prependListener('session', (session: ServerHttp2Session) => note({ source: SOURCE_UNVERIFIED, socket: session.socket as TLSSocket }));
      server.prependListener('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
        const raw = headers[':authority'];
        note({ source: SOURCE_UNVERIFIED, socket: stream.session?.socket as TLSSocket, verified: true, ...(typeof raw === 'string' ? { authority: raw } : {}) });
      });
    },
  };
}
