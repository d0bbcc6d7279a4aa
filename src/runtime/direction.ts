// One relay direction, from -> to, for both relays (nodeproxy/pipe.ts and hbone/splice.ts): copied
// in JS (copy.ts), and moved to Node's C++ (native-pipe.ts) when it is a connection of small reads
// that keeps going on a busy proxy, where the pairing allows (a socket into an HBONE stream). If
// the move cannot be made, the JS copy goes on from where things stand. The direction owns its
// data, its end (flushed, then reported once) and its byte count; errors, resets and closes stay
// with the caller.
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { copyInJs, type JsCopy } from './copy.js';
import { canPipeNatively, noteRelayRead, pipeNativelyWhenQuiet, relaysBusy, smallReadRun, type NativeHalf } from './native-pipe.js';
import { relayGc } from './young-gc.js';

export interface RelayDirectionOptions {
  /** `from` ended and every byte before it went to `to`: the caller ends `to`. */
  onEnd: () => void;
  /** Whether the direction may move now (pipe.ts: joined and not finished); also asked when a move completes. Default: always. */
  mayMove?: () => boolean;
}

export interface RelayDirection {
  /** Bytes copied from -> to so far (once moved: what the sink's handle was given, JS's writes before included). */
  bytes(): number;
  /** Moves to C++ now if the run of small reads holds and the process is busy (the run may have begun before mayMove allowed it). */
  maybeMove(): void;
  /** Stops copying, in JS or C++, and reports no end; both streams stay open. */
  stop(): void;
}

export function relayDirection(from: Duplex, to: Duplex, opts: RelayDirectionOptions): RelayDirection {
  const mayMove = opts.mayMove ?? ((): boolean => true);
  // Only a socket's bytes can move (into an HBONE stream): the way out of a tunnel never asks.
  const movable = from instanceof Socket;
  const run = smallReadRun();
  let inRun = false;
  let count = 0;
  let js: JsCopy | undefined;
  let native: NativeHalf | undefined;
  let moving = false;
  let stopped = false;

  const bytes = (): number => (native ? native.written() : count);
  const maybeMove = (): void => {
    if (!inRun || moving || stopped || !mayMove() || !relaysBusy() || !canPipeNatively(from, to)) return;
    moving = true;
    setImmediate(toCpp);
  };
  const onChunk = (n: number): void => {
    count += n;
    relayGc.note(n);
    noteRelayRead();
    // Whether the last reads are a run of small ones: reset by every bulk read.
    inRun = movable && run(n);
    if (inRun) maybeMove();
  };
  const inJs = (): void => {
    js = copyInJs(from, to, onChunk);
  };
  const toCpp = (): void => {
    if (stopped || !mayMove() || !canPipeNatively(from, to)) return;
    js?.stop();
    js = undefined;
    void pipeNativelyWhenQuiet(from, to, (n) => {
      count += n;
      relayGc.note(n);
    }).then((h) => {
      if (h) {
        native = h;
        if (stopped || !mayMove()) h.stop();
        return;
      }
      // Not possible after all (a side ended meanwhile, say): JS from where things stand.
      if (!stopped && mayMove() && !from.readableEnded) inJs();
    });
  };

  const onEnd = (): void => {
    js?.flush();
    // A handle is gone once its stream closes: its count is taken now.
    if (native) count = native.written();
    opts.onEnd();
  };
  from.on('end', onEnd);
  inJs();
  return {
    bytes,
    maybeMove,
    stop: () => {
      stopped = true;
      from.off('end', onEnd);
      js?.stop();
      js = undefined;
      native?.stop();
    },
  };
}
