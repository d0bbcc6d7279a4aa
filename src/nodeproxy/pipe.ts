// Joins two byte streams both ways with TCP half-close semantics and counts the bytes: when one
// side ends, the other side's write half is ended (not destroyed), so request/response protocols
// that close their send side first still get the answer.
//
// A relay can start one direction early: outbound copies the app's first bytes onto an HBONE
// stream as soon as the CONNECT is sent, before the destination answers (docs/hbone.md, early
// data), and joins the way back once the answer is 200; on a refusal it aborts the copy.
//
// Each direction is a runtime/direction.ts: copied in JS, and once joined, a socket's bytes into
// an HBONE stream move to Node's C++ after a run of small reads, where the process allows it.
import type { Duplex } from 'node:stream';
import { Socket } from 'node:net';
import { relayDirection, type RelayDirection } from '../runtime/index.js';

export interface PipeResult {
  /** Bytes from a to b, and from b to a. */
  aToB: number;
  bToA: number;
  error?: Error;
}

export interface Relay {
  /** Starts the way back (b to a); resolves once both directions ended, or either failed. */
  join(): Promise<PipeResult>;
  /** Stops the a-to-b copy without touching either side (the caller closes them). Only before join(). */
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
    const r: PipeResult = { aToB: aToB.bytes(), bToA: bToA?.bytes() ?? 0 };
    if (err) {
      r.error = err;
      a.destroy();
      b.destroy();
    }
    resolve(r);
  };
  /** A direction of this relay (runtime/direction.ts): moves to C++ only once joined, never after it finished. */
  const direction = (from: Duplex, to: Duplex): RelayDirection => relayDirection(from, to, {
    onEnd: () => {
      to.end();
      if (++ended === 2) finish();
    },
    // Never before join(): abort() stops a JS copy.
    mayMove: () => resolve !== undefined && !done,
  });
  const unwatchA = watch(a, finish);
  const aToB = direction(a, b);
  let bToA: RelayDirection | undefined;
  return {
    join: () => new Promise<PipeResult>((res) => {
      resolve = res;
      if (early) return finish(early);
      // A side that closed while we were getting ready (waiting for an SVID, a tunnel) emits nothing more.
      for (const s of [a, b]) if (s.destroyed || (s.closed && !s.readableEnded)) return finish(new Error('connection closed before it was joined'));
      watch(b, finish);
      bToA = direction(b, a);
      // The way in's small reads before join() count toward its move.
      aToB.maybeMove();
    }),
    abort: () => {
      done = true;
      aToB.stop();
      unwatchA();
    },
  };
}

/**
 * The error and reset of `from` (its data and end are its direction's). Returns a detach function.
 * A side that closes before both its directions finished was reset (or its HBONE session went):
 * so is an HBONE stream that reports 'aborted' (it may still say 'end' first, as if the peer had
 * finished).
 */
function watch(from: Duplex, onError: (err: Error) => void): () => void {
  const onClose = (): void => {
    if (!from.readableEnded || !from.writableFinished) onError(new Error('connection reset'));
  };
  // Reported a turn later: destroying the stream inside its own 'aborted' (as onError does) while
  // writes are queued can send Node 20's HTTP/2 into an endless loop when the abort was local.
  const onAborted = (): void => void setImmediate(onError, new Error('tunnel aborted (reset by the peer, or its connection closed)'));
  from.on('error', onError);
  from.on('close', onClose);
  from.on('aborted', onAborted);
  return () => {
    from.off('error', onError);
    from.off('close', onClose);
    from.off('aborted', onAborted);
  };
}
