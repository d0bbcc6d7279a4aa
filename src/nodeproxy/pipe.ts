// Joins two byte streams both ways with TCP half-close semantics and counts the bytes: when one
// side ends, the other side's write half is ended (not destroyed), so request/response protocols
// that close their send side first still get the answer.
//
// A relay can start one direction early: outbound copies the app's first bytes onto an HBONE
// stream as soon as the CONNECT is sent, before the destination answers (docs/hbone.md, early
// data), and joins the way back once the answer is 200; on a refusal it aborts the copy.
//
// Once joined, a socket's bytes into an HBONE stream move to Node's C++ after a run of small
// reads, where the process allows it (runtime/native-pipe.ts): JS then sees only that side's end,
// errors and reset. Bulk stays in JS (runtime/copy.ts).
import type { Duplex } from 'node:stream';
import { Socket } from 'node:net';
import { canPipeNatively, copyInJs, noteRelayRead, pipeNativelyWhenQuiet, relayGc, relaysBusy, smallReadRun, type NativeHalf } from '../runtime/index.js';

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

type Direction = 'aToB' | 'bToA';

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
  const inCpp: Array<[Direction, NativeHalf]> = [];
  // A direction in C++ counts what its sink's handle was given (JS writes before included); taken
  // at every end too, as a handle is gone once its stream closes.
  const snapshot = (): void => {
    for (const [dir, h] of inCpp) r[dir] = h.written();
  };
  const finish = (err?: Error): void => {
    if (done) return;
    if (resolve === undefined) {
      // Before join(): only a failure can happen (b to a is not read yet); join() reports it.
      early ??= err;
      return;
    }
    snapshot();
    done = true;
    if (err) {
      r.error = err;
      a.destroy();
      b.destroy();
    }
    resolve(r);
  };
  const endOf = (to: Duplex) => (): void => {
    snapshot();
    to.end();
    if (++ended === 2) finish();
  };
  const ends: Record<Direction, [from: Duplex, to: Duplex]> = { aToB: [a, b], bToA: [b, a] };
  const smallRun: Record<Direction, (n: number) => boolean> = { aToB: smallReadRun(), bToA: smallReadRun() };
  // Only a socket's bytes can move (into an HBONE stream): the way out of a tunnel never asks.
  const movable: Record<Direction, boolean> = { aToB: a instanceof Socket, bToA: b instanceof Socket };
  let aToBReady = false;
  const inJs: Partial<Record<Direction, () => void>> = {};
  const moving: Record<Direction, boolean> = { aToB: false, bToA: false };
  /** A connection of small reads that keeps going, on a busy proxy, moves to C++ (never before join(): abort() stops a JS copy). */
  const maybeToCpp = (dir: Direction): void => {
    if (moving[dir] || resolve === undefined || !relaysBusy() || !canPipeNatively(...ends[dir])) return;
    moving[dir] = true;
    setImmediate(() => toCpp(dir));
  };
  const count = (dir: Direction) => (n: number): void => {
    r[dir] += n;
    noteRelayRead();
    const small = movable[dir] && smallRun[dir](n);
    // Whether the way in may move at join(): only while its run of small reads holds.
    if (dir === 'aToB') aToBReady = small;
    if (small) maybeToCpp(dir);
  };
  /** One direction in JS; its detach function is kept for a move to C++. */
  const copyInJs = (dir: Direction): void => {
    const [from, to] = ends[dir];
    inJs[dir] = half(from, to, count(dir), endOf(to), finish);
  };
  /** Moves a direction's running JS copy to C++, where it can go (runtime/native-pipe.ts). */
  const toCpp = (dir: Direction): void => {
    const [from, to] = ends[dir];
    if (done || !canPipeNatively(from, to)) return;
    inJs[dir]?.();
    inJs[dir] = undefined;
    const unwatch = watch(from, endOf(to), finish);
    const moved = (n: number): void => {
      relayGc.note(n);
      r[dir] += n;
    };
    void pipeNativelyWhenQuiet(from, to, moved).then((h) => {
      if (h) {
        inCpp.push([dir, h]);
        if (done) h.stop();
        return;
      }
      if (done) return;
      // Not possible after all (a side ended meanwhile, say): JS from where things stand.
      unwatch();
      copyInJs(dir);
      from.resume();
    });
  };

  copyInJs('aToB');
  return {
    join: () => new Promise<PipeResult>((res) => {
      resolve = res;
      if (early) return finish(early);
      // A side that closed while we were getting ready (waiting for an SVID, a tunnel) emits nothing more.
      for (const s of [a, b]) if (s.destroyed || (s.closed && !s.readableEnded)) return finish(new Error('connection closed before it was joined'));
      copyInJs('bToA');
      if (aToBReady) maybeToCpp('aToB');
    }),
    abort: () => {
      done = true;
      inJs.aToB?.();
    },
  };
}

/**
 * The end, error and reset of `from`, without its data. Returns a detach function. A side that
 * closes before both its directions finished was reset (or its HBONE session went): so is an
 * HBONE stream that reports 'aborted' (it may still say 'end' first, as if the peer had finished).
 */
function watch(from: Duplex, onEnd: () => void, onError: (err: Error) => void): () => void {
  const onClose = (): void => {
    if (!from.readableEnded || !from.writableFinished) onError(new Error('connection reset'));
  };
  // Reported a turn later: destroying the stream inside its own 'aborted' (as onError does) while
  // writes are queued can send Node 20's HTTP/2 into an endless loop when the abort was local.
  const onAborted = (): void => void setImmediate(onError, new Error('tunnel aborted (reset by the peer, or its connection closed)'));
  from.on('end', onEnd);
  from.on('error', onError);
  from.on('close', onClose);
  from.on('aborted', onAborted);
  return () => {
    from.off('end', onEnd);
    from.off('error', onError);
    from.off('close', onClose);
    from.off('aborted', onAborted);
  };
}

/** Copies from -> to in JS (runtime/copy.ts); `onEnd` when `from` ends. Returns a detach function. */
function half(from: Duplex, to: Duplex, count: (n: number) => void, onEnd: () => void, onError: (err: Error) => void): () => void {
  const copy = copyInJs(from, to, (n) => {
    count(n);
    relayGc.note(n);
  });
  const unwatch = watch(from, () => {
    copy.flush();
    onEnd();
  }, onError);
  return () => {
    copy.stop();
    unwatch();
  };
}
