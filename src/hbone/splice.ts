// Joins an open HBONE stream to its upstream connection, both ways, keeping half-close: an
// END_STREAM from the peer ends the upstream's write side (TCP FIN) and the upstream's FIN ends
// the stream with END_STREAM. Resets (RST_STREAM) only on error: nghttp2 answers ~1,000 resets on
// one connection with GOAWAY, which would kill every other tunnel on it (FIELD-NOTES).
import { constants, type Http2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import { relayDirection } from '../runtime/index.js';

export interface SpliceResult {
  /** Bytes from the HBONE peer to the upstream. */
  bytesIn: number;
  /** Bytes from the upstream to the HBONE peer. */
  bytesOut: number;
  /** Set when either side failed instead of closing cleanly. */
  error?: string;
}

export function spliceTunnel(stream: Http2Stream, upstream: Duplex): Promise<SpliceResult> {
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

    // Each way a runtime/direction.ts. In: JS only (C++ cannot copy out of an Http2Stream). Back:
    // JS, and for a connection of small reads that keeps going, C++ where the process allows it (a
    // plain TCP upstream).
    const inward = relayDirection(stream, upstream, { onEnd: () => upstream.end() });
    const outward = relayDirection(upstream, stream, { onEnd: () => stream.end() });
    stream.on('error', (err) => fail('stream', err));
    stream.on('aborted', () => {
      result.error ??= 'stream: aborted by peer';
      upstream.destroy();
    });
    stream.once('close', () => {
      streamClosed = true;
      if (stream.rstCode !== undefined && stream.rstCode !== constants.NGHTTP2_NO_ERROR) {
        result.error ??= `stream: reset with code ${stream.rstCode}`;
        upstream.destroy();
      }
      finish();
    });
    upstream.on('error', (err) => {
      fail('upstream', err);
      // RFC 9113 8.5: a failed TCP connection behind CONNECT is reported with CONNECT_ERROR.
      if (!stream.closed) stream.close(constants.NGHTTP2_CONNECT_ERROR);
    });
    upstream.once('close', () => {
      upstreamClosed = true;
      // Closed without its end (destroyed here, say: a policy that denies the tunnel now): the
      // peer must learn that the tunnel is gone, not wait on a stream that stays open.
      if (!upstream.readableEnded && !stream.closed) {
        result.error ??= 'upstream: closed before its end';
        stream.close(constants.NGHTTP2_CONNECT_ERROR);
      }
      finish();
    });
  });
}
