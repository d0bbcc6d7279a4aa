// Copies a socket's bytes into an HBONE stream inside Node's C++ (its StreamPipe, the machinery
// behind http2's respondWithFD), so that those bytes never pass through JavaScript.
//
// A JS relay pays Node's stream machinery for every chunk: a Readable push and a 'data' event on
// one side, a Writable write and its completion on the other. For 1 KB round trips that is a
// large share of a node proxy's CPU (docs/hbone.md, "Relays and the Node runtime"). StreamPipe
// reads the socket's handle and writes the Http2Stream's handle in C++; the stream's
// flow-control window sets the pace (it asks for data only when it has room), and on the
// socket's EOF StreamPipe ends the stream (END_STREAM).
//
// Only that one pairing, TCP into an Http2Stream (canPipeNatively says why), and it is internal to
// Node: reachable only with `--expose-internals` on the command line (the relaying daemons get it
// through RELAY_NODE_FLAGS). Where it is missing, switched off, or not of the shape this module
// was written against, callers keep their JS relay.
//
// What the caller still sees in JS: the socket's EOF ('end') and read errors ('error', 'close')
// reach the JS socket as before (StreamPipe hands them to the listener below it); only data is
// taken. The count of bytes copied comes from the stream's handle (`bytesWritten`).
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

interface StreamPipeHandle {
  start(): void;
  unpipe(): void;
  isClosed(): boolean;
  pendingWrites(): number;
  /** Called (from C++, in a later turn) once the pipe is unpiped. */
  onunpipe?: () => void;
  /** Called (from C++) when the last write still pending at the unpipe completes. */
  oncomplete?: () => void;
}
type StreamPipeCtor = new (source: object, sink: object) => StreamPipeHandle;

/** A C++ stream handle (TCPWrap, Http2Stream): what StreamPipe joins, and where the count is. */
interface NativeHandle {
  bytesWritten: number;
  /** net.Socket's own note of whether it has the handle reading (it starts reading when false). */
  reading?: boolean;
  readStart(): number;
  readStop(): number;
}

/** Whether node was started with --expose-internals (either spelling, as missingRelayFlags counts it). */
function exposesInternals(): boolean {
  return process.execArgv.some((a) => a.replace(/_/g, '-') === '--expose-internals');
}

let ctor: StreamPipeCtor | null | undefined;
const live = new Set<StreamPipeHandle>();
let enabled = process.env.AMBIT_NATIVE_RELAY !== 'off';

/** Node's StreamPipe, or null when the process was started without --expose-internals. */
function streamPipe(): StreamPipeCtor | null {
  if (ctor !== undefined) return ctor;
  ctor = null;
  if (!exposesInternals()) return ctor;
  const emitWarning = process.emitWarning;
  try {
    // The module warns once that it is for Node's own tests; this is a deliberate use.
    process.emitWarning = () => {};
    const req = createRequire(import.meta.url);
    const { internalBinding } = req('internal/test/binding') as { internalBinding: (name: string) => Record<string, unknown> };
    const c = internalBinding('stream_pipe').StreamPipe as StreamPipeCtor | undefined;
    const p = (c as { prototype?: Record<string, unknown> } | undefined)?.prototype;
    if (typeof c === 'function' && p && ['start', 'unpipe', 'isClosed', 'pendingWrites'].every((m) => typeof p[m] === 'function')) ctor = c;
  } catch {
    ctor = null;
  } finally {
    process.emitWarning = emitWarning;
  }
  return ctor;
}

/**
 * Whether relays in this process copy in C++: started with --expose-internals, on a Node that
 * has StreamPipe, and not switched off (AMBIT_NATIVE_RELAY=off in the environment, or
 * setNativePipeEnabled(false)).
 */
export function nativePipeAvailable(): boolean {
  return enabled && streamPipe() !== null;
}

/** Switches C++ relaying on or off for relays joined from now on (tests run both ways). */
export function setNativePipeEnabled(on: boolean): void {
  enabled = on;
}

/** What a relay says of itself at start: which copy it uses, and why not the C++ one. */
export function relayMode(): { mode: 'native' | 'js'; why?: string } {
  if (nativePipeAvailable()) return { mode: 'native' };
  if (!enabled) return { mode: 'js', why: 'switched off (AMBIT_NATIVE_RELAY=off)' };
  if (!exposesInternals()) return { mode: 'js', why: 'node was started without --expose-internals' };
  return { mode: 'js', why: `this Node (${process.version}) has no StreamPipe of the expected shape` };
}

type HandleKind = 'TCP' | 'Http2Stream';
let h2HandleKey: symbol | undefined;

/** The C++ handle under a connected plain-TCP net.Socket or an open Http2Stream, with its kind; undefined otherwise. */
function handleOf(s: Duplex): { h: NativeHandle; kind: HandleKind } | undefined {
  let h: NativeHandle | null | undefined;
  if (s instanceof Socket) {
    if (s.connecting) return undefined;
    h = (s as unknown as { _handle?: NativeHandle | null })._handle;
  } else {
    h2HandleKey ??= Object.getOwnPropertySymbols(s).find((k) => k.description === 'kHandle');
    h = h2HandleKey === undefined ? undefined : (s as unknown as Record<symbol, NativeHandle | undefined>)[h2HandleKey];
  }
  const kind = h?.constructor?.name;
  // TLSSocket (a TLSWrap), pipes and anything else keep the JS relay.
  if (!h || typeof h.bytesWritten !== 'number' || (kind !== 'TCP' && kind !== 'Http2Stream')) return undefined;
  if ((kind === 'TCP') !== s instanceof Socket) return undefined;
  return { h, kind };
}

/** The C++ handle of a stream a relay can use (a plain TCP socket, an Http2Stream); undefined otherwise. */
function nativeHandleOf(s: Duplex): NativeHandle | undefined {
  return handleOf(s)?.h;
}

/** Bytes written to a stream's handle; a destroyed socket keeps its handle's last count (Node's kBytesWritten). */
function bytesWrittenTo(s: Duplex): number {
  const h = nativeHandleOf(s);
  if (h) return h.bytesWritten;
  if (!(s instanceof Socket)) return 0;
  const key = Object.getOwnPropertySymbols(s).find((k) => k.description === 'kBytesWritten');
  const v = key === undefined ? undefined : (s as unknown as Record<symbol, unknown>)[key];
  return typeof v === 'number' ? v : 0;
}

/**
 * A relay direction that can be copied in C++ moves there after this many small reads in a row
 * (under NATIVE_MAX_READ each), only while the process is busy (relaysBusy). Moving costs ~30-50 us
 * of CPU per connection (the connect phase of bench/nodeproxy-phases.ts), more than a connection
 * with one request saves. In a row: a bulk stream's first reads can be small.
 */
export const NATIVE_AFTER_READS = 16;

/**
 * Reads this long or longer are bulk, which stays in JS. StreamPipe reads one DATA frame (16 KB)
 * at a time, with an event-loop turn, four epoll_ctl calls and a TLS write of its own each (~190k
 * system calls a second at 4 Gbit/s); JS reads 64 KB at a time and, with the HBONE stream's send
 * buffer raised (runtime/copy.ts), hands the session ~1 MB per TLS write (~14k system calls a
 * second). Single stream, 4-8 runs each in bench/nodeproxy-phases.ts: JS 4.2-4.8 Gbit/s (sending
 * proxy 1.3-1.5 s of CPU per GB, receiving 1.0-1.1), C++ 3.8-4.2 (1.4-1.5 and 1.3-1.4).
 */
export const NATIVE_MAX_READ = 16 * 1024;

let maxRead = NATIVE_MAX_READ;

/** Counts one direction's small reads in a row: true once there were NATIVE_AFTER_READS of them. */
export function smallReadRun(): (n: number) => boolean {
  let run = 0;
  return (n) => (run = n < maxRead ? run + 1 : 0) >= NATIVE_AFTER_READS;
}

/** For tests: every read counts as small (Infinity), so bulk moves too; or NATIVE_MAX_READ again (undefined). */
export function setNativeMaxRead(bytes: number | undefined): void {
  maxRead = bytes ?? NATIVE_MAX_READ;
}

/**
 * Relay reads per second (over all connections) above which relays move to C++. StreamPipe stops
 * its source socket while each write into the stream is pending and starts it again when the
 * stream asks for more: two epoll_ctl calls and an extra event-loop turn per read. Under load
 * that is shared by many connections and the copy saves more (1 KB echoes at 50 connections:
 * 16-17 -> 13-14 us of CPU per round trip per proxy); at 1,000 round trips/s it cost ~20 us each
 * (0.084-0.094 -> 0.102-0.114 cores per proxy). 1,000 round trips/s is ~2,000 relay reads/s.
 */
export const NATIVE_MIN_READS_PER_SEC = 5000;

let readsInWindow = 0;
let windowStart = performance.now();
let busy = false;
let forced: boolean | undefined;

/**
 * Counts one relay read in JS for relaysBusy(). C++ copies are not seen; a relay moved there still
 * reads the way back (out of the tunnel) in JS, one read per round trip, which keeps a busy
 * proxy counted as busy.
 */
export function noteRelayRead(): void {
  if ((++readsInWindow & 63) !== 0) return;
  const now = performance.now();
  const ms = now - windowStart;
  if (ms < 250) return;
  busy = (readsInWindow * 1000) / ms >= NATIVE_MIN_READS_PER_SEC;
  readsInWindow = 0;
  windowStart = now;
}

/** Whether relays read at NATIVE_MIN_READS_PER_SEC or more over the last measured window (>= 250 ms). */
export function relaysBusy(): boolean {
  return forced ?? busy;
}

/** For tests: busy (true) or idle (false) whatever the rate, or measured again (undefined). */
export function setRelaysBusy(on: boolean | undefined): void {
  forced = on;
}

export interface NativeHalf {
  /** Bytes written to the sink's handle so far, JS writes before the pipe included (last known once it is gone). */
  written(): number;
  /** Stops the pipe (both streams stay open; the caller closes them). */
  stop(): void;
}

/**
 * Whether from -> to can be copied in C++: StreamPipe available, `from` a connected plain-TCP
 * socket, `to` an open Http2Stream. Only that pairing: in Node 20's StreamPipe,
 * - an Http2Stream source hands on every DATA frame it receives, reading or not, and a second
 *   write pending on a socket sink aborts the process (a CHECK);
 * - a write error on a socket sink (the peer reset it) dereferences a null write request;
 * so the way out of an Http2Stream, and TCP to TCP, stay in JS. Into an Http2Stream, writes
 * never fail at once and its flow-control window asks for data only when there is room.
 */
export function canPipeNatively(from: Duplex, to: Duplex): boolean {
  return nativePipeAvailable() && handleOf(from)?.kind === 'TCP' && handleOf(to)?.kind === 'Http2Stream';
}

/**
 * Pipes `from` into `to` in C++ (see canPipeNatively), or returns undefined (nothing changed).
 * The caller must have moved every byte JS holds for this direction: nothing in `from`'s read
 * buffer, nothing queued on `to`. Afterwards `from` flows in JS mode but receives only its EOF
 * and errors.
 */
export function pipeNatively(from: Duplex, to: Duplex): NativeHalf | undefined {
  const Pipe = streamPipe();
  if (!Pipe || !canPipeNatively(from, to)) return undefined;
  const src = handleOf(from)!.h;
  const sink = handleOf(to)!;
  const pipe = new Pipe(src, sink.h);
  // Kept alive here until it is unpiped and its last write completed: a StreamPipe is garbage
  // collected like any JS object, but a write still pending reports back to it from C++.
  live.add(pipe);
  pipe.onunpipe = () => void (pipe.pendingWrites() === 0 && live.delete(pipe));
  pipe.oncomplete = () => void live.delete(pipe);
  let last = 0;
  const written = (): number => {
    last = Math.max(last, bytesWrittenTo(to));
    return last;
  };
  const stop = (): void => {
    written();
    if (!pipe.isClosed()) pipe.unpipe();
  };
  // The pipe must be off both handles before either goes. Node 20's StreamPipe, told that its
  // source is being freed, calls into the half-destroyed handle (abort: "pure virtual method
  // called"); a socket emits 'close' from its handle's close callback, before the free. And a
  // write into a destroyed Http2Stream completes (and frees) its request before StreamPipe uses
  // it; so the pipe goes first whenever JS destroys the stream (a reset, a closing session).
  from.once('close', stop);
  const destroy = (to as unknown as { _destroy: (err: Error | null, cb: (e?: Error | null) => void) => void })._destroy;
  (to as unknown as { _destroy: typeof destroy })._destroy = function (this: Duplex, err, cb) {
    stop();
    destroy.call(this, err, cb);
  };
  pipe.start();
  // net.Socket would otherwise start reading its handle again when it flows (EALREADY).
  src.reading = true;
  from.resume();
  return { written, stop };
}

/** A source JS has not seen the end of (no EOF received, not destroyed). */
function readableOpen(s: Duplex): boolean {
  const r = (s as unknown as { _readableState?: { ended?: boolean } })._readableState;
  return !s.destroyed && s.readable && r?.ended !== true;
}

/** A sink whose write side is still open (not ended, not destroyed). */
function writableOpen(s: Duplex): boolean {
  return !s.destroyed && s.writable;
}

/** Writes what `from` holds in its JS read buffer to `to`, in order. */
function moveBuffered(from: Duplex, to: Duplex, note: (n: number) => void): void {
  for (let c = from.read() as Buffer | null; c !== null; c = from.read() as Buffer | null) {
    note(c.length);
    to.write(c);
  }
}

const moves = { moved: 0, gaveUp: 0 };

/** Moves to C++ made, and moves given up (JS kept holding bytes too long, a side went), so far in this process. */
export function nativeMoveCounts(): { moved: number; gaveUp: number } {
  return { ...moves };
}

/**
 * Stops `from` reading, moves the bytes JS already holds for from -> to (its read buffer, `to`'s
 * write queue) and then pipes them in C++ (pipeNatively). Resolves with undefined, every byte still in
 * order and `from` paused, when that cannot be done (canPipeNatively says no, either side ended
 * or closed, or JS kept holding bytes too long). The caller must have its 'end',
 * 'error' and 'close' listeners on `from` before calling: they may come meanwhile.
 */
export async function pipeNativelyWhenQuiet(from: Duplex, to: Duplex, note: (n: number) => void = () => {}): Promise<NativeHalf | undefined> {
  const source = canPipeNatively(from, to) ? handleOf(from)?.h : undefined;
  if (!source) return undefined;
  // No more reads into JS meanwhile: the socket's handle stops, and net.Socket is told it still
  // reads (or the next read() would start it again). StreamPipe starts it when it takes over.
  from.pause();
  source.readStop();
  source.reading = true;
  for (let round = 0; round < QUIET_ROUNDS; round++) {
    if (!readableOpen(from) || !writableOpen(to) || !canPipeNatively(from, to)) break;
    moveBuffered(from, to, note);
    if (to.writableLength === 0) {
      const h = pipeNatively(from, to);
      if (h) moves.moved++;
      else moves.gaveUp++;
      return h;
    }
    // A JS write is still in flight (an Http2Stream completes writes asynchronously, and a full
    // flow-control window holds them back): C++ writes issued now could overtake it. Wait for the
    // queue to drain (or a few ms, for writes that complete without a 'drain'), then look again.
    await new Promise<void>((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        to.off('drain', wake);
        to.off('close', wake);
        from.off('close', wake);
        resolve();
      };
      const timer = setTimeout(wake, round === 0 ? 0 : 5);
      to.on('drain', wake);
      to.on('close', wake);
      from.on('close', wake);
    });
  }
  // Staying in JS: the handle reads again for net.Socket. Its own state may say a read is already
  // under way (the last read() asked for one), so it would not start the handle itself.
  if (nativeHandleOf(from) === source) source.readStart();
  moves.gaveUp++;
  return undefined;
}

/** Looks (with a wait of <= 5 ms between) for at most ~1 s for JS to hold no bytes; then stays in JS. */
const QUIET_ROUNDS = 200;
