// Joins an open HBONE stream to its upstream connection, both ways, keeping half-close: an
// END_STREAM from the peer ends the upstream's write side (TCP FIN) and the upstream's FIN ends
// the stream with END_STREAM. Resets (RST_STREAM) only on error, so normal completion never
// counts toward a peer's reset limit (FIELD-NOTES).
import type { Duplex } from 'node:stream';
import { relayDirection } from '../runtime/index.js';
import { ErrorCode, type H2Stream } from './h2/index.js';

export interface SpliceResult {
  /** Bytes from the HBONE peer to the upstream. */
  bytesIn: number;
  /** Bytes from the upstream to the HBONE peer. */
  bytesOut: number;
  /** Set when either side failed instead of closing cleanly. */
  error?: string;
}

export function spliceTunnel(stream: H2Stream, upstream: Duplex): Promise<SpliceResult> {
  return new Promise((resolve) => {
    const result: SpliceResult = { bytesIn: 0, bytesOut: 0 };
    let streamClosed = false;
    let upstreamClosed = false;
    const finish = (): void => {
      result.bytesIn = inward.bytes();
      result.bytesOut = outward.bytes();
      if (streamClosed && upstreamClosed) resolve(result);
    };
    const fail = (side: string, err: Error): void => {
      result.error ??= `${side}: ${(err as NodeJS.ErrnoException).code ?? err.message}`;
    };

    const inward = relayDirection(stream, upstream, { onEnd: () => upstream.end() });
    const outward = relayDirection(upstream, stream, { onEnd: () => stream.end() });
    stream.on('error', (err) => fail('stream', err));
    stream.on('aborted', () => {
      result.error ??= 'stream: aborted by peer';
      upstream.destroy();
    });
    stream.once('close', () => {
      streamClosed = true;
      if (stream.rstCode !== undefined && stream.rstCode !== ErrorCode.NO_ERROR) {
        result.error ??= `stream: reset with code ${stream.rstCode}`;
        upstream.destroy();
      }
      finish();
    });
    upstream.on('error', (err) => {
      fail('upstream', err);
      // RFC 9113 8.5: a failed TCP connection behind CONNECT is reported with CONNECT_ERROR.
      if (!stream.destroyed) stream.close(ErrorCode.CONNECT_ERROR);
    });
    upstream.once('close', () => {
      upstreamClosed = true;
      finish();
    });
  });
}
