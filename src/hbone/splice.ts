// Joins an open HBONE stream to its upstream connection, both ways, keeping half-close: an
// END_STREAM from the peer ends the upstream's write side (TCP FIN) and the upstream's FIN ends
// the stream with END_STREAM. Resets (RST_STREAM) only on error: nghttp2 answers ~1,000 resets on
// one connection with GOAWAY, which would kill every other tunnel on it (FIELD-NOTES).
import { constants, type Http2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import { canPipeNatively, copyInJs, noteRelayRead, pipeNativelyWhenQuiet, relayGc, relaysBusy, smallReadRun, type JsCopy, type NativeHalf } from '../runtime/index.js';

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
      countBack();
      if (streamClosed && upstreamClosed) resolve(result);
    };
    const fail = (side: string, err: Error): void => {
      result.error ??= `${side}: ${(err as NodeJS.ErrnoException).code ?? err.message}`;
    };

    // In JS (runtime/copy.ts): C++ cannot copy out of an Http2Stream (runtime/native-pipe.ts).
    const inward = copyInJs(stream, upstream, (n) => {
      result.bytesIn += n;
      relayGc.note(n);
      noteRelayRead();
    });
    stream.on('end', () => {
      inward.flush();
      upstream.end();
    });
    // The way back starts in JS and, for a connection of small reads that keeps going, moves to
    // C++ where the process allows it (a plain TCP upstream; runtime/native-pipe.ts).
    let back: NativeHalf | undefined;
    const countBack = (): void => {
      if (back) result.bytesOut = back.written();
    };
    const smallRun = smallReadRun();
    let moving = false;
    const onBack = (n: number): void => {
      result.bytesOut += n;
      relayGc.note(n);
      noteRelayRead();
      if (!smallRun(n) || moving || !relaysBusy() || !canPipeNatively(upstream, stream)) return;
      moving = true;
      setImmediate(toCpp);
    };
    let outward: JsCopy | undefined;
    const endOutward = (): void => {
      outward?.flush();
      stream.end();
    };
    const backInJs = (): void => {
      outward = copyInJs(upstream, stream, onBack);
      upstream.on('end', endOutward);
    };
    const toCpp = (): void => {
      if (!canPipeNatively(upstream, stream)) return;
      outward?.stop();
      outward = undefined;
      upstream.off('end', endOutward);
      const endBack = (): void => {
        countBack();
        stream.end();
      };
      upstream.on('end', endBack);
      void pipeNativelyWhenQuiet(upstream, stream, (n) => {
        result.bytesOut += n;
        relayGc.note(n);
      }).then((h) => {
        if (h) return void (back = h);
        // Not possible after all (it ended meanwhile, say): JS from where things stand.
        upstream.off('end', endBack);
        if (!upstream.readableEnded) backInJs();
      });
    };
    backInJs();
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
      finish();
    });
  });
}
