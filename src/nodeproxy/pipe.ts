// Joins two byte streams both ways with TCP half-close semantics and counts the bytes: when one
// side ends, the other side's write half is ended (not destroyed), so request/response protocols
// that close their send side first still get the answer.
//
// A relay can start one direction early: outbound copies the app's first bytes onto an HBONE
// stream as soon as the CONNECT is sent, before the destination answers (docs/hbone.md, early
// data), and joins the way back once the answer is 200; on a refusal it aborts the copy.
import type { Duplex } from 'node:stream';
import { Socket } from 'node:net';
import { relayGc } from '../runtime/index.js';

export interface PipeResult {
  /** Bytes from a to b, and from b to a. */
  aToB: number;
  bToA: number;
  error?: Error;
}

export interface Relay {
  /** Starts the way back (b to a); resolves once both directions ended, or either failed. */
  join(): Promise<PipeResult>;
  /** Stops the a-to-b copy without touching either side (the caller closes them). */
  abort(): void;
}

export function join(a: Duplex, b: Duplex): Promise<PipeResult> {
  return relay(a, b).join();
}

/** Starts copying a to b now; the way back starts with join(). */
export function relay(a: Duplex, b: Duplex): Relay {
  // Relayed bytes go out at once: Nagle's algorithm on a relay adds its delay to every small reply.
  if (a instanceof Socket) a.setNoDelay(true);
  if (b instanceof Socket) b.setNoDelay(true);
  const r: PipeResult = { aToB: 0, bToA: 0 };
  let ended = 0;
  let done = false;
  let early: Error | undefined;
  let resolve: ((r: PipeResult) => void) | undefined;
  const finish = (err?: Error): void => {
    if (done) return;
    if (resolve === undefined) {
      // Before join(): only a failure can happen (b to a is not read yet); join() reports it.
      early ??= err;
      return;
    }
    done = true;
    if (err) {
      r.error = err;
      a.destroy();
      b.destroy();
    }
    resolve(r);
  };
  const forward = half(a, b, (n) => (r.aToB += n), () => ++ended === 2 && finish(), finish);
  return {
    join: () => new Promise<PipeResult>((res) => {
      resolve = res;
      half(b, a, (n) => (r.bToA += n), () => ++ended === 2 && finish(), finish);
      if (early) return finish(early);
      // A side that closed while we were getting ready (waiting for an SVID, a tunnel) emits nothing more.
      for (const s of [a, b]) if (s.destroyed || (s.closed && !s.readableEnded)) return finish(new Error('connection closed before it was joined'));
    }),
    abort: () => {
      done = true;
      forward();
    },
  };
}

/** Copies from -> to with back-pressure, ending `to` when `from` ends; returns a detach function. */
function half(from: Duplex, to: Duplex, count: (n: number) => void, onEnd: () => void, onError: (err: Error) => void): () => void {
  const resume = (): void => void from.resume();
  const onData = (chunk: Buffer): void => {
    count(chunk.length);
    relayGc.note(chunk.length);
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', resume);
    }
  };
  const end = (): void => {
    to.end();
    onEnd();
  };
  const onClose = (): void => {
    // A side closed without ending cleanly (reset): tear the other down too.
    if (!from.readableEnded) onError(new Error('connection reset'));
  };
  from.on('data', onData);
  from.on('end', end);
  from.on('error', onError);
  from.on('close', onClose);
  return () => {
    from.off('data', onData);
    from.off('end', end);
    from.off('error', onError);
    from.off('close', onClose);
    to.off('drain', resume);
    from.pause();
  };
}
