// The JS copy of one relay direction, from a readable side to a writable one, with back-pressure:
// the one place where a relay's bytes pass through JavaScript (nodeproxy/pipe.ts for the node
// proxy's own relays, hbone/splice.ts behind an HBONE server). Bulk stays here rather than in
// C++ (runtime/native-pipe.ts, NATIVE_MAX_READ), for two reasons below.
//
// Into an HBONE stream, a bulk copy gets a larger send buffer. Node gives an Http2Stream 16 KB
// (its writable high-water mark), so a relay reading 64 KB from a socket stopped and restarted
// the socket on every read, and the session wrote one read's frames per TLS write. A copy whose
// write fills that buffer takes TUNNEL_BUFFER_BYTES from a budget for the process
// (TUNNEL_BUFFER_BUDGET) until the stream's queue has drained: several reads then queue per
// event-loop turn and go out in one TLS write of up to ~1 MB. Queued bytes count toward the
// session's memory (maxSessionMemory), which the budget stays well under.
//
// Out of an HBONE stream the copy merges chunks. A DATA frame (9 + 16,384 bytes) never fits one
// TLS record (16,384 bytes of plaintext at most), so a bulk frame often reaches JS as two chunks
// (16,375 and 9 bytes, say); written as they come, the small one costs a write of its own: a
// system call, a packet, a wake-up of the reader. So a chunk of COALESCE_MIN or more (and the one
// right after it) is held until the event loop's turn ends (setImmediate), and whatever else
// arrives in that turn goes out in the same write. Smaller chunks (request/response traffic) go
// out at once, as before. Out of a socket nothing is held: its reads are whole already.
import { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';

/** A chunk out of an HBONE stream at least this long is held to the end of the turn. */
export const COALESCE_MIN = 8 * 1024;
/** Held bytes beyond this are written at once. */
export const COALESCE_MAX = 64 * 1024;

/** The send buffer a bulk copy into an HBONE stream gets (Node's default: 16 KB). */
export const TUNNEL_BUFFER_BYTES = 1024 * 1024;
/** What those larger send buffers may add up to in one process: 32 bulk copies at a time. */
export const TUNNEL_BUFFER_BUDGET = 32 * 1024 * 1024;

let granted = 0;

/** Bytes of TUNNEL_BUFFER_BUDGET held by running copies now. */
export function tunnelBuffersGranted(): number {
  return granted;
}

interface WritableState {
  highWaterMark: number;
}

/** An HBONE stream (Node's Http2Stream): the only kind of source that is merged, and of sink that grows. */
function isHttp2Stream(s: Readable | Writable): boolean {
  return 'rstCode' in s && 'session' in s;
}

/** The Writable's state, where its high-water mark can be changed; undefined if not of that shape. */
function writableState(s: Writable): WritableState | undefined {
  const w = (s as unknown as { _writableState?: Partial<WritableState> })._writableState;
  return typeof w?.highWaterMark === 'number' ? (w as WritableState) : undefined;
}

export interface JsCopy {
  /** Writes what the copy holds, now (before ending `to`). */
  flush(): void;
  /** Writes what it holds, then stops copying; `from` is left paused and `to` open. */
  stop(): void;
}

/**
 * Copies every chunk `from` emits to `to`, pausing `from` while `to` is full. `onChunk` sees each
 * chunk's length as it is read. The caller handles `from`'s end (calling flush() before it ends
 * `to`), its errors and its close.
 */
export function copyInJs(from: Readable, to: Writable, onChunk: (n: number) => void): JsCopy {
  let waiting = false;
  const resume = (): void => {
    waiting = false;
    from.resume();
  };
  // A larger send buffer for bulk into an HBONE stream (above), held while a backlog lasts: given
  // back when the stream's queue has drained, when the copy stops, or when the stream closes.
  const state = isHttp2Stream(to) ? writableState(to) : undefined;
  const defaultMark = state?.highWaterMark ?? 0;
  let grant = 0;
  const giveBack = (): void => {
    if (grant === 0) return;
    to.off('drain', giveBack);
    to.off('close', giveBack);
    granted -= grant;
    grant = 0;
    if (state) state.highWaterMark = defaultMark;
  };
  const grow = (): boolean => {
    if (!state || grant !== 0 || granted + TUNNEL_BUFFER_BYTES > TUNNEL_BUFFER_BUDGET || to.destroyed) return false;
    grant = TUNNEL_BUFFER_BYTES;
    granted += grant;
    state.highWaterMark = Math.max(defaultMark, grant);
    // The write that filled the 16 KB buffer set the stream's need for 'drain': it comes once the
    // queue is empty.
    to.once('drain', giveBack);
    to.once('close', giveBack);
    return to.writableLength < state.highWaterMark;
  };
  const write = (chunk: Buffer): void => {
    if (!to.write(chunk) && !grow() && !waiting) {
      waiting = true;
      from.pause();
      to.once('drain', resume);
    }
  };
  const coalesce = isHttp2Stream(from);
  let held: Buffer[] | undefined;
  let heldBytes = 0;
  const flush = (): void => {
    if (held === undefined) return;
    const chunks = held;
    held = undefined;
    // A side that went meanwhile (a reset, an error) takes its bytes with it, as a write would.
    if (to.destroyed || to.writableEnded) return;
    if (chunks.length === 1) return write(chunks[0]!);
    // A sink that may keep what it is given, or a socket already backed up (the write will be
    // queued): a buffer of its own, of the exact size.
    if (!(to instanceof Socket) || to.writableLength > 0) return write(Buffer.concat(chunks, heldBytes));
    write(merged(chunks, heldBytes));
    // A socket's write done at once is in the kernel; otherwise the buffer is still referenced
    // (by a pending write, or JS's queue) and the next merge takes a new one.
    if (to.writableLength > 0) scratch = undefined;
  };
  // Whether the last chunk was bulk: then the next one is held too, whatever its size. It may be
  // the rest of a frame whose start went out at the end of the last turn (a socket read ended
  // between the two), ahead of the next frame's start.
  let afterBulk = false;
  const onData = (chunk: Buffer): void => {
    onChunk(chunk.length);
    const bulk = chunk.length >= COALESCE_MIN;
    if (held !== undefined && heldBytes + chunk.length > COALESCE_MAX) flush();
    if (held !== undefined) {
      held.push(chunk);
      heldBytes += chunk.length;
    } else if (coalesce && (bulk || afterBulk)) {
      held = [chunk];
      heldBytes = chunk.length;
      setImmediate(flush);
    } else {
      write(chunk);
    }
    afterBulk = bulk;
  };
  from.on('data', onData);
  // Flowing from now on, also when the source was paused before (a copy started again after a
  // move to C++ that could not be made leaves it paused).
  from.resume();
  return {
    flush,
    stop: () => {
      flush();
      from.off('data', onData);
      to.off('drain', resume);
      waiting = false;
      giveBack();
      from.pause();
    },
  };
}

/**
 * Chunks merged for a socket are copied into one buffer kept for the process, used again while
 * the socket's writes complete at once (the kernel has the bytes then). A fresh buffer per merge
 * is external memory for V8 to collect: that doubled the receiving proxy's CPU in the single
 * stream (mark-compacts). Other sinks may keep what they are given, so they get fresh buffers.
 */
let scratch: Buffer | undefined;

function merged(chunks: readonly Buffer[], bytes: number): Buffer {
  scratch ??= Buffer.allocUnsafeSlow(COALESCE_MAX);
  let at = 0;
  for (const c of chunks) at += c.copy(scratch, at);
  return scratch.subarray(0, bytes);
}
