// Joins two byte streams both ways with TCP half-close semantics and counts the bytes: when one
// side ends, the other side's write half is ended (not destroyed), so request/response protocols
// that close their send side first still get the answer.
import type { Duplex } from 'node:stream';
import { Socket } from 'node:net';

export interface PipeResult {
  /** Bytes from a to b, and from b to a. */
  aToB: number;
  bToA: number;
  error?: Error;
}

export function join(a: Duplex, b: Duplex): Promise<PipeResult> {
  // Relayed bytes go out at once: Nagle's algorithm on a relay adds its delay to every small reply.
  for (const s of [a, b]) if (s instanceof Socket) s.setNoDelay(true);
  return new Promise((resolve) => {
    const r: PipeResult = { aToB: 0, bToA: 0 };
    let ended = 0;
    let done = false;
    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      if (err) {
        r.error = err;
        a.destroy();
        b.destroy();
      }
      resolve(r);
    };
    const half = (from: Duplex, to: Duplex, count: (n: number) => void): void => {
      from.on('data', (chunk: Buffer) => {
        count(chunk.length);
        if (!to.write(chunk)) {
          from.pause();
          to.once('drain', () => from.resume());
        }
      });
      from.on('end', () => {
        to.end();
        if (++ended === 2) finish();
      });
      from.on('error', (err) => finish(err));
      from.on('close', () => {
        // A side closed without ending cleanly (reset): tear the other down too.
        if (!from.readableEnded) finish(new Error('connection reset'));
      });
    };
    half(a, b, (n) => (r.aToB += n));
    half(b, a, (n) => (r.bToA += n));
    // A side that closed while we were getting ready (waiting for an SVID, a tunnel) emits nothing more.
    for (const s of [a, b]) if (s.destroyed || (s.closed && !s.readableEnded)) finish(new Error('connection closed before it was joined'));
  });
}
