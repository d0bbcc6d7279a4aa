// An HTTP/2 connection (RFC 9113) over an already-verified byte stream (the HBONE TLS socket),
// either end. Written for HBONE's shape of traffic: many long-lived CONNECT streams per connection,
// most of their frames DATA. It batches: every frame produced in one turn of the event loop goes to
// the socket in one write (so one TLS record carries many tunnels' frames), and DATA pieces are
// handed over as they arrive, never reassembled.
//
// Bounded everywhere a peer could make it grow: streams (MAX_CONCURRENT_STREAMS, refused beyond),
// header blocks (compressed and decoded sizes, and a deadline for CONTINUATION), flow control
// windows both ways, resets and empty frames (token buckets), unanswered PING/SETTINGS
// (ENHANCE_YOUR_CALM once too much of our output sits unread), and buffered unread DATA (the
// connection window is credited back only while it is below `maxBufferedBytes`).
//
// A connection error ends the session with GOAWAY and is reported once ('protocolError', code,
// message) before 'close'; a stream error resets that stream only ('streamError').
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import {
  CLIENT_PREFACE, DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW, ErrorCode, Flag, FrameReader, FrameType, H2ConnectionError,
  MAX_ALLOWED_FRAME_SIZE, MAX_WINDOW, Setting, errorName, frame, frameHeader, goawayFrame, settingsFrame, u32Frame, type FrameHandler,
} from './frame.js';
import { HpackDecoder, HpackError, encodeHeaders } from './hpack.js';
import { checkHeaders, type HeaderMap } from './headers.js';
import { H2Stream, type StreamOwner } from './stream.js';

export interface H2SessionOptions {
  /** Streams the peer may open at once (SETTINGS_MAX_CONCURRENT_STREAMS; a server's limit). */
  maxConcurrentStreams: number;
  /** Our receive window per stream (SETTINGS_INITIAL_WINDOW_SIZE) and for the connection. */
  initialWindowSize: number;
  /** Largest frame we accept (SETTINGS_MAX_FRAME_SIZE). */
  maxFrameSize: number;
  /** Decoded header list size above which a request or response is marked oversized. */
  maxHeaderListSize: number;
  /** Compressed header block (HEADERS + CONTINUATION) above which the connection is ended. */
  maxHeaderBlockBytes: number;
  /** A header block left unfinished this long ends the connection. */
  headerBlockTimeoutMs: number;
  /** Unread DATA across streams above which the connection window is no longer credited. */
  maxBufferedBytes: number;
  /** Our output left unread by the peer above which the connection is ended (it stopped reading). */
  maxUnreadOutputBytes: number;
}

export const DEFAULT_SESSION_OPTIONS: Readonly<H2SessionOptions> = Object.freeze({
  maxConcurrentStreams: 1000,
  initialWindowSize: 8 * 1024 * 1024,
  maxFrameSize: 256 * 1024,
  maxHeaderListSize: 16 * 1024,
  maxHeaderBlockBytes: 64 * 1024,
  headerBlockTimeoutMs: 2_000,
  maxBufferedBytes: 64 * 1024 * 1024,
  maxUnreadOutputBytes: 32 * 1024 * 1024,
});

/** A stream the peer opened, as the server sees it. */
export interface IncomingStream {
  stream: H2Stream;
  /** The request headers; fields beyond `maxHeaderListSize` are left out and `oversized` is set. */
  headers: HeaderMap;
  listSize: number;
  oversized: boolean;
}

/** Why a new stream cannot be opened now (client side). */
export class H2UnavailableError extends Error {}

const WRITE_NOW_BYTES = 64 * 1024;
const MAX_OUTSTANDING_PINGS = 10;

/** A simple token bucket: `take()` fails once more than `burst` happen faster than `perSecond`. */
class Bucket {
  private tokens: number;
  private last = Date.now();
  constructor(private readonly burst: number, private readonly perSecond: number) {
    this.tokens = burst;
  }
  take(): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export class H2Session extends EventEmitter implements StreamOwner, FrameHandler {
  readonly streams = new Map<number, H2Stream>();
  /** The peer's SETTINGS as last applied. */
  readonly remote = {
    maxConcurrentStreams: Infinity,
    initialWindowSize: DEFAULT_WINDOW,
    maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
  };
  /** Highest stream ID the peer has opened (server side), for GOAWAY. */
  lastPeerStreamId = 0;
  /** Set once GOAWAY was sent or received: no new streams. */
  goingAway = false;
  closed = false;
  /** destroy() is under way (its GOAWAY is being written). */
  private ending = false;

  private readonly opts: H2SessionOptions;
  private readonly reader: FrameReader;
  private readonly hpack: HpackDecoder;
  private nextStreamId: number;
  private prefaceLeft: number;
  private settingsSeen = false;
  private sendWindow = DEFAULT_WINDOW;
  private recvWindow: number;
  private recvUncredited = 0;
  private buffered = 0;
  private out: Buffer[] = [];
  private outBytes = 0;
  private flushScheduled = false;
  /** Write callbacks to run once what they queued reached the socket (after 'drain' if it pushed back). */
  private afterFlush: Array<(err?: Error | null) => void> = [];
  private waitingDrain: Array<(err?: Error | null) => void> = [];
  /** Streams with writes waiting for window. */
  private readonly blocked = new Set<H2Stream>();
  private block: { streamId: number; flags: number; parts: Buffer[]; bytes: number; timer: NodeJS.Timeout } | undefined;
  private readonly pings: Array<{ payload: Buffer; sent: bigint; cb: (err: Error | null, ms: number) => void }> = [];
  private readonly resets = new Bucket(200, 100);
  private readonly empties = new Bucket(500, 250);
  private openedByPeer = 0;

  constructor(private readonly socket: Duplex, readonly role: 'client' | 'server', options: Partial<H2SessionOptions> = {}) {
    super();
    this.opts = { ...DEFAULT_SESSION_OPTIONS, ...options };
    this.reader = new FrameReader(this, this.opts.maxFrameSize);
    this.hpack = new HpackDecoder(4096);
    this.nextStreamId = role === 'client' ? 1 : 2;
    this.prefaceLeft = role === 'server' ? CLIENT_PREFACE.length : 0;
    this.recvWindow = this.opts.initialWindowSize;

    const settings: Array<readonly [number, number]> = [
      [Setting.ENABLE_PUSH, 0],
      [Setting.INITIAL_WINDOW_SIZE, this.opts.initialWindowSize],
      [Setting.MAX_FRAME_SIZE, this.opts.maxFrameSize],
      [Setting.MAX_HEADER_LIST_SIZE, this.opts.maxHeaderListSize],
    ];
    if (role === 'server') settings.push([Setting.MAX_CONCURRENT_STREAMS, this.opts.maxConcurrentStreams]);
    if (role === 'client') this.queue(CLIENT_PREFACE);
    this.queue(settingsFrame(settings));
    if (this.opts.initialWindowSize > DEFAULT_WINDOW) this.queue(u32Frame(FrameType.WINDOW_UPDATE, 0, this.opts.initialWindowSize - DEFAULT_WINDOW));

    // We batch frames per event-loop turn ourselves; Nagle's algorithm would only add its delay.
    (socket as Duplex & { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => this.onBytes(chunk));
    socket.on('drain', () => this.onDrain());
    socket.once('end', () => {
      this.terminate('peer closed the connection');
      socket.end();
    });
    socket.once('close', () => this.terminate('connection closed'));
    socket.on('error', (err: Error) => this.terminate(`connection error: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
  }

  // ---- public API ----

  /** Streams open now (both directions). */
  get streamCount(): number {
    return this.streams.size;
  }

  /** Client side: opens a stream with `fields` (pseudo-headers first). Throws H2UnavailableError when it cannot. */
  request(fields: ReadonlyArray<readonly [string, string]>, opts: { endStream?: boolean } = {}): H2Stream {
    if (this.role !== 'client') throw new Error('only a client opens streams');
    if (this.closed || this.goingAway) throw new H2UnavailableError('the connection is closing');
    if (this.streams.size >= this.remote.maxConcurrentStreams) throw new H2UnavailableError(`the peer allows ${this.remote.maxConcurrentStreams} streams at once`);
    if (this.nextStreamId > MAX_WINDOW) throw new H2UnavailableError('stream IDs are used up on this connection');
    const stream = this.newStream(this.nextStreamId);
    this.nextStreamId += 2;
    this.sendHeaders(stream, fields, opts.endStream === true);
    if (opts.endStream) stream.localEnded = true;
    return stream;
  }

  /** Sends a PING; `cb` gets the round trip in ms, or an error if the session ends first. */
  ping(cb: (err: Error | null, ms: number) => void): boolean {
    if (this.closed || this.pings.length >= MAX_OUTSTANDING_PINGS) return false;
    const payload = Buffer.allocUnsafe(8);
    payload.writeBigUInt64BE(process.hrtime.bigint());
    this.pings.push({ payload, sent: process.hrtime.bigint(), cb });
    this.queue(frame(FrameType.PING, 0, 0, payload));
    return true;
  }

  /** Stops new streams (GOAWAY NO_ERROR) and closes once the open ones have finished. */
  close(): void {
    if (this.closed) return;
    if (!this.goingAway) {
      this.goingAway = true;
      this.queue(goawayFrame(this.lastPeerStreamId, ErrorCode.NO_ERROR));
    }
    this.maybeFinish();
  }

  /** Ends the connection now: GOAWAY with `code`, then the socket is closed; every open stream aborts. */
  destroy(code: number = ErrorCode.NO_ERROR, message = ''): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    this.goingAway = true;
    this.queue(goawayFrame(this.lastPeerStreamId, code, message));
    this.flush();
    this.socket.end();
    // A peer that does not read gets no grace.
    setTimeout(() => this.socket.destroy(), 1_000).unref();
    this.terminate(message || 'closed');
  }

  // ---- StreamOwner ----

  sendData(stream: H2Stream, data: Buffer, done: (err?: Error | null) => void): void {
    if (this.closed) return done(new Error('connection closed'));
    stream.pending.push({ data, done });
    this.pump(stream);
  }

  sendEnd(stream: H2Stream, done: (err?: Error | null) => void): void {
    if (this.closed) return done(new Error('connection closed'));
    stream.pending.push({ data: null, done });
    this.pump(stream);
  }

  sendHeaders(stream: H2Stream, fields: ReadonlyArray<readonly [string, string]>, endStream: boolean): void {
    const block = encodeHeaders(fields);
    const max = this.remote.maxFrameSize;
    let flags = endStream ? Flag.END_STREAM : 0;
    if (block.length <= max) {
      this.queue(frame(FrameType.HEADERS, flags | Flag.END_HEADERS, stream.id, block));
      return;
    }
    for (let off = 0; off < block.length; off += max) {
      const last = off + max >= block.length;
      const type = off === 0 ? FrameType.HEADERS : FrameType.CONTINUATION;
      this.queue(frame(type, (off === 0 ? flags : 0) | (last ? Flag.END_HEADERS : 0), stream.id, block.subarray(off, off + max)));
      flags = 0;
    }
  }

  sendReset(stream: H2Stream, code: number): void {
    if (this.closed) return;
    this.queue(u32Frame(FrameType.RST_STREAM, stream.id, code));
  }

  consumed(stream: H2Stream, bytes: number): void {
    this.buffered -= bytes;
    this.creditStream(stream, bytes);
    this.creditConnection();
  }

  forget(stream: H2Stream): void {
    if (!this.streams.delete(stream.id)) return;
    this.blocked.delete(stream);
    if (stream.uncredited > 0) {
      this.buffered -= stream.uncredited;
      stream.uncredited = 0;
    }
    if ((stream.id & 1) === (this.role === 'server' ? 1 : 0)) this.openedByPeer--;
    this.emit('streamClosed', stream);
    this.maybeFinish();
  }

  // ---- FrameHandler ----

  dataStart(streamId: number, flags: number, length: number): void {
    if (streamId === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'DATA on stream 0');
    if (this.block) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'DATA inside a header block');
    if (length > this.recvWindow) throw new H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'DATA beyond the connection window');
    this.recvWindow -= length;
    this.recvUncredited += length;
    if (length === 0 && !(flags & Flag.END_STREAM) && !this.empties.take()) {
      throw new H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'too many empty DATA frames');
    }
    const stream = this.streams.get(streamId);
    if (stream === undefined || stream.remoteEnded) {
      // Closed (or never opened): the window is still spent; give it back to the connection.
      this.creditConnection();
      if (!this.wasOpened(streamId)) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `DATA on idle stream ${streamId}`);
      if (stream !== undefined) this.streamError(stream, ErrorCode.STREAM_CLOSED, 'DATA after END_STREAM');
      this.dropping = streamId;
      return;
    }
    if (stream.awaitingResponse && this.role === 'client') {
      this.streamError(stream, ErrorCode.PROTOCOL_ERROR, 'DATA before the response headers');
      this.dropping = streamId;
      return;
    }
    if (length > stream.recvWindow) {
      this.streamError(stream, ErrorCode.FLOW_CONTROL_ERROR, 'DATA beyond the stream window');
      this.dropping = streamId;
      return;
    }
    stream.recvWindow -= length;
    this.dropping = 0;
    // Padding counts against the window but is never read: credit it at once.
    this.padding = length;
  }

  dataPiece(streamId: number, piece: Buffer): void {
    if (this.dropping === streamId) return;
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    this.padding -= piece.length;
    this.buffered += piece.length;
    stream.deliver(piece);
  }

  dataEnd(streamId: number, flags: number): void {
    const dropped = this.dropping === streamId;
    this.dropping = 0;
    const stream = this.streams.get(streamId);
    if (dropped || stream === undefined) {
      this.creditConnection();
      return;
    }
    if (this.padding > 0) {
      this.creditStream(stream, this.padding);
      this.padding = 0;
    }
    if (flags & Flag.END_STREAM) {
      // The END_STREAM's stream window is not needed any more; the connection's still is.
      stream.deliverEnd();
    }
    this.creditConnection();
  }

  frame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.block && type !== FrameType.CONTINUATION) {
      throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `frame type ${type} inside a header block`);
    }
    if (!this.settingsSeen && type !== FrameType.SETTINGS) {
      throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'the first frame is not SETTINGS');
    }
    switch (type) {
      case FrameType.HEADERS: return this.onHeaders(flags, streamId, payload);
      case FrameType.CONTINUATION: return this.onContinuation(flags, streamId, payload);
      case FrameType.PRIORITY:
        if (streamId === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PRIORITY on stream 0');
        if (payload.length !== 5) this.streamErrorById(streamId, ErrorCode.FRAME_SIZE_ERROR, 'PRIORITY of the wrong length');
        return;
      case FrameType.RST_STREAM: return this.onReset(streamId, payload);
      case FrameType.SETTINGS: return this.onSettings(flags, streamId, payload);
      case FrameType.PUSH_PROMISE: throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE (push is disabled)');
      case FrameType.PING: return this.onPing(flags, streamId, payload);
      case FrameType.GOAWAY: return this.onGoaway(streamId, payload);
      case FrameType.WINDOW_UPDATE: return this.onWindowUpdate(streamId, payload);
      default:
        // RFC 9113 5.5: unknown frame types are ignored.
        return;
    }
  }

  // ---- receiving ----

  private dropping = 0;
  private padding = 0;

  private onBytes(chunk: Buffer): void {
    if (this.closed) return;
    try {
      if (this.prefaceLeft > 0) {
        const at = CLIENT_PREFACE.length - this.prefaceLeft;
        const take = Math.min(this.prefaceLeft, chunk.length);
        if (!chunk.subarray(0, take).equals(CLIENT_PREFACE.subarray(at, at + take))) {
          throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'not an HTTP/2 client preface');
        }
        this.prefaceLeft -= take;
        chunk = chunk.subarray(take);
        if (chunk.length === 0) return;
      }
      this.reader.push(chunk);
    } catch (err) {
      if (err instanceof H2ConnectionError) return this.connectionError(err.code, err.message);
      throw err;
    }
  }

  private onSettings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (flags & Flag.ACK) {
      if (payload.length !== 0) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      if (!this.settingsSeen) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'the first frame is not SETTINGS');
      return;
    }
    if (payload.length % 6 !== 0) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `SETTINGS of ${payload.length} bytes`);
    this.settingsSeen = true;
    for (let off = 0; off < payload.length; off += 6) {
      const id = payload.readUInt16BE(off);
      const value = payload.readUInt32BE(off + 2);
      switch (id) {
        case Setting.ENABLE_PUSH:
          if (value > 1) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `SETTINGS_ENABLE_PUSH ${value}`);
          if (value === 1 && this.role === 'client') throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'a server set SETTINGS_ENABLE_PUSH');
          break;
        case Setting.MAX_CONCURRENT_STREAMS:
          this.remote.maxConcurrentStreams = value;
          break;
        case Setting.INITIAL_WINDOW_SIZE: {
          if (value > MAX_WINDOW) throw new H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, `SETTINGS_INITIAL_WINDOW_SIZE ${value}`);
          const delta = value - this.remote.initialWindowSize;
          this.remote.initialWindowSize = value;
          for (const s of this.streams.values()) {
            s.sendWindow += delta;
            if (s.sendWindow > MAX_WINDOW) throw new H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'a stream window above 2^31-1');
          }
          if (delta > 0) for (const s of this.streams.values()) this.pump(s);
          break;
        }
        case Setting.MAX_FRAME_SIZE:
          if (value < DEFAULT_MAX_FRAME_SIZE || value > MAX_ALLOWED_FRAME_SIZE) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `SETTINGS_MAX_FRAME_SIZE ${value}`);
          this.remote.maxFrameSize = value;
          break;
        case Setting.ENABLE_CONNECT_PROTOCOL:
          if (value > 1) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `SETTINGS_ENABLE_CONNECT_PROTOCOL ${value}`);
          break;
        default:
          // HEADER_TABLE_SIZE (our encoder keeps no table), MAX_HEADER_LIST_SIZE (advisory) and
          // unknown settings (RFC 9113 6.5.2: ignored).
          break;
      }
    }
    this.queue(frame(FrameType.SETTINGS, Flag.ACK, 0));
    this.emit('remoteSettings', this.remote);
  }

  private onPing(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PING on a stream');
    if (payload.length !== 8) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `PING of ${payload.length} bytes`);
    if (flags & Flag.ACK) {
      const i = this.pings.findIndex((p) => p.payload.equals(payload));
      if (i < 0) return;
      const [p] = this.pings.splice(i, 1);
      p!.cb(null, Number(process.hrtime.bigint() - p!.sent) / 1e6);
      this.emit('pingAck');
      return;
    }
    this.queue(frame(FrameType.PING, Flag.ACK, 0, payload));
  }

  private onGoaway(streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'GOAWAY on a stream');
    if (payload.length < 8) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `GOAWAY of ${payload.length} bytes`);
    const last = payload.readUInt32BE(0) & 0x7fffffff;
    const code = payload.readUInt32BE(4);
    this.goingAway = true;
    // Our streams above `last` were never processed: they fail (and may be retried elsewhere).
    for (const s of [...this.streams.values()]) {
      if ((s.id & 1) === (this.role === 'client' ? 1 : 0) && s.id > last) s.abort(ErrorCode.REFUSED_STREAM);
    }
    this.emit('goaway', code, last);
    this.maybeFinish();
  }

  private onWindowUpdate(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `WINDOW_UPDATE of ${payload.length} bytes`);
    const inc = payload.readUInt32BE(0) & 0x7fffffff;
    if (streamId === 0) {
      if (inc === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
      this.sendWindow += inc;
      if (this.sendWindow > MAX_WINDOW) throw new H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'connection window above 2^31-1');
      for (const s of [...this.blocked]) this.pump(s);
      return;
    }
    const stream = this.streams.get(streamId);
    if (stream === undefined) {
      if (!this.wasOpened(streamId)) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `WINDOW_UPDATE on idle stream ${streamId}`);
      return;
    }
    if (inc === 0) return this.streamError(stream, ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
    stream.sendWindow += inc;
    if (stream.sendWindow > MAX_WINDOW) return this.streamError(stream, ErrorCode.FLOW_CONTROL_ERROR, 'stream window above 2^31-1');
    this.pump(stream);
  }

  private onReset(streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'RST_STREAM on stream 0');
    if (payload.length !== 4) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `RST_STREAM of ${payload.length} bytes`);
    if (!this.wasOpened(streamId)) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `RST_STREAM on idle stream ${streamId}`);
    if (!this.resets.take()) throw new H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'too many streams reset');
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    stream.rstCode = payload.readUInt32BE(0);
    stream.abort(stream.rstCode);
  }

  private onHeaders(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS on stream 0');
    let off = 0;
    let end = payload.length;
    if (flags & Flag.PADDED) {
      if (payload.length < 1) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'padded HEADERS without a pad length');
      const pad = payload[0]!;
      off = 1;
      end -= pad;
    }
    if (flags & Flag.PRIORITY) {
      if ((payload.readUInt32BE(off) & 0x7fffffff) === streamId && end - off >= 5) {
        throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'a stream depending on itself');
      }
      off += 5;
    }
    if (end < off) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS padding longer than the frame');
    const fragment = payload.subarray(off, end);
    this.startBlock(streamId, flags, fragment);
  }

  private startBlock(streamId: number, flags: number, fragment: Buffer): void {
    if (fragment.length > this.opts.maxHeaderBlockBytes) {
      throw new H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, `header block above ${this.opts.maxHeaderBlockBytes} bytes`);
    }
    if (flags & Flag.END_HEADERS) return this.onBlock(streamId, flags, fragment);
    const timer = setTimeout(() => this.connectionError(ErrorCode.PROTOCOL_ERROR, `header block not finished within ${this.opts.headerBlockTimeoutMs} ms`), this.opts.headerBlockTimeoutMs);
    timer.unref();
    this.block = { streamId, flags, parts: [Buffer.from(fragment)], bytes: fragment.length, timer };
  }

  private onContinuation(flags: number, streamId: number, payload: Buffer): void {
    const b = this.block;
    if (b === undefined || b.streamId !== streamId) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, 'CONTINUATION without a header block');
    b.bytes += payload.length;
    if (b.bytes > this.opts.maxHeaderBlockBytes) throw new H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, `header block above ${this.opts.maxHeaderBlockBytes} bytes`);
    b.parts.push(Buffer.from(payload));
    if (!(flags & Flag.END_HEADERS)) return;
    clearTimeout(b.timer);
    this.block = undefined;
    this.onBlock(streamId, b.flags, Buffer.concat(b.parts, b.bytes));
  }

  private onBlock(streamId: number, flags: number, block: Buffer): void {
    let decoded;
    try {
      decoded = this.hpack.decode(block, this.opts.maxHeaderListSize);
    } catch (err) {
      if (err instanceof HpackError) throw new H2ConnectionError(ErrorCode.COMPRESSION_ERROR, `header block: ${err.message}`);
      throw err;
    }
    const endStream = (flags & Flag.END_STREAM) !== 0;
    if (this.role === 'server') return this.onRequestBlock(streamId, endStream, decoded.fields, decoded.listSize, decoded.oversized);
    return this.onResponseBlock(streamId, endStream, decoded.fields);
  }

  private onRequestBlock(streamId: number, endStream: boolean, fields: ReturnType<HpackDecoder['decode']>['fields'], listSize: number, oversized: boolean): void {
    const existing = this.streams.get(streamId);
    if (existing !== undefined || streamId <= this.lastPeerStreamId) {
      // HEADERS again on an open stream: trailers, which a CONNECT stream must not carry (RFC 9113 8.5).
      if (existing !== undefined) return this.streamError(existing, ErrorCode.PROTOCOL_ERROR, 'a second HEADERS on a stream');
      throw new H2ConnectionError(ErrorCode.STREAM_CLOSED, `HEADERS on closed stream ${streamId}`);
    }
    if ((streamId & 1) === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `a client opened even stream ${streamId}`);
    this.lastPeerStreamId = streamId;
    if (this.goingAway) return; // RFC 9113 6.8: ignored once GOAWAY is sent
    if (this.openedByPeer >= this.opts.maxConcurrentStreams) {
      this.queue(u32Frame(FrameType.RST_STREAM, streamId, ErrorCode.REFUSED_STREAM));
      if (!this.resets.take()) throw new H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'too many streams refused');
      this.emit('streamRefused', streamId, `more than ${this.opts.maxConcurrentStreams} streams at once`);
      return;
    }
    const checked = oversized ? undefined : checkHeaders(fields, 'request');
    const stream = this.newStream(streamId);
    this.openedByPeer++;
    if (typeof checked === 'string') {
      this.streamError(stream, ErrorCode.PROTOCOL_ERROR, `malformed request: ${checked}`);
      return;
    }
    stream.headers = checked ?? (Object.create(null) as HeaderMap);
    const incoming: IncomingStream = { stream, headers: stream.headers, listSize, oversized };
    if (endStream) stream.deliverEnd();
    this.emit('stream', incoming);
  }

  private onResponseBlock(streamId: number, endStream: boolean, fields: ReturnType<HpackDecoder['decode']>['fields']): void {
    const stream = this.streams.get(streamId);
    if (stream === undefined) {
      if (!this.wasOpened(streamId) || (streamId & 1) === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `HEADERS on stream ${streamId} the client never opened`);
      return;
    }
    if (!stream.awaitingResponse) return this.streamError(stream, ErrorCode.PROTOCOL_ERROR, 'a second HEADERS on a stream');
    const checked = checkHeaders(fields, 'response');
    if (typeof checked === 'string') return this.streamError(stream, ErrorCode.PROTOCOL_ERROR, `malformed response: ${checked}`);
    if (checked[':status']!.startsWith('1')) return; // informational: the final answer follows
    stream.awaitingResponse = false;
    stream.headers = checked;
    stream.emit('response', checked);
    if (endStream) stream.deliverEnd();
  }

  private wasOpened(streamId: number): boolean {
    const ours = (streamId & 1) === (this.role === 'client' ? 1 : 0);
    return ours ? streamId < this.nextStreamId : streamId <= this.lastPeerStreamId;
  }

  private newStream(id: number): H2Stream {
    const s = new H2Stream(id, this, this.remote.initialWindowSize, this.opts.initialWindowSize);
    this.streams.set(id, s);
    return s;
  }

  /** The reader took `bytes` of the stream's window (or they were padding): announced in halves of the window, as nghttp2 does. */
  private creditStream(stream: H2Stream, bytes: number): void {
    if (!this.streams.has(stream.id) || stream.remoteEnded) return;
    stream.unannounced += bytes;
    if (stream.unannounced >= this.opts.initialWindowSize / 2) {
      this.queue(u32Frame(FrameType.WINDOW_UPDATE, stream.id, stream.unannounced));
      stream.recvWindow += stream.unannounced;
      stream.unannounced = 0;
    }
  }

  private creditConnection(): void {
    // Given back in halves of the window, and only while what sits unread is bounded.
    if (this.buffered > this.opts.maxBufferedBytes) return;
    if (this.recvUncredited >= this.opts.initialWindowSize / 2) {
      this.queue(u32Frame(FrameType.WINDOW_UPDATE, 0, this.recvUncredited));
      this.recvWindow += this.recvUncredited;
      this.recvUncredited = 0;
    }
  }

  // ---- sending ----

  /** Sends what the stream has queued, as far as both windows allow. */
  private pump(stream: H2Stream): void {
    while (stream.pending.length > 0) {
      const head = stream.pending[0]!;
      if (head.data === null) {
        stream.pending.shift();
        this.queue(frame(FrameType.DATA, Flag.END_STREAM, stream.id));
        stream.localEnded = true;
        this.afterFlush.push(head.done);
        continue;
      }
      const left = head.data.length - stream.pendingOffset;
      if (left === 0) {
        stream.pending.shift();
        stream.pendingOffset = 0;
        this.afterFlush.push(head.done);
        continue;
      }
      const n = Math.min(left, stream.sendWindow, this.sendWindow, this.remote.maxFrameSize);
      if (n <= 0) {
        this.blocked.add(stream);
        return;
      }
      const piece = head.data.subarray(stream.pendingOffset, stream.pendingOffset + n);
      stream.sendWindow -= n;
      this.sendWindow -= n;
      this.queue(frameHeader(n, FrameType.DATA, 0, stream.id));
      this.queue(piece);
      stream.pendingOffset += n;
      if (stream.pendingOffset === head.data.length) {
        stream.pending.shift();
        stream.pendingOffset = 0;
        this.afterFlush.push(head.done);
      }
    }
    this.blocked.delete(stream);
  }

  private queue(buf: Buffer): void {
    this.out.push(buf);
    this.outBytes += buf.length;
    if (this.outBytes >= WRITE_NOW_BYTES) {
      this.flush();
    } else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const callbacks = this.afterFlush;
    this.afterFlush = [];
    if (this.out.length > 0 && !this.socket.destroyed) {
      const out = this.out;
      this.out = [];
      this.outBytes = 0;
      if (out.length === 1) {
        this.socket.write(out[0]);
      } else {
        this.socket.cork();
        for (const b of out) this.socket.write(b);
        this.socket.uncork();
      }
      const unread = this.socket.writableLength;
      if (unread > this.opts.maxUnreadOutputBytes && !this.ending) {
        return this.connectionError(ErrorCode.ENHANCE_YOUR_CALM, `the peer left ${unread} bytes of our output unread`);
      }
    } else {
      this.out = [];
      this.outBytes = 0;
    }
    if (this.socket.writableNeedDrain) {
      this.waitingDrain.push(...callbacks);
      return;
    }
    for (const cb of callbacks) cb();
  }

  private onDrain(): void {
    const callbacks = this.waitingDrain;
    this.waitingDrain = [];
    for (const cb of callbacks) cb();
  }

  // ---- errors and the end ----

  private streamError(stream: H2Stream, code: number, message: string): void {
    this.emit('streamError', stream.id, code, message);
    stream.close(code);
  }

  private streamErrorById(streamId: number, code: number, message: string): void {
    const stream = this.streams.get(streamId);
    if (stream !== undefined) return this.streamError(stream, code, message);
    this.emit('streamError', streamId, code, message);
    this.queue(u32Frame(FrameType.RST_STREAM, streamId, code));
  }

  private connectionError(code: number, message: string): void {
    if (this.closed || this.ending) return;
    this.emit('protocolError', code, `${errorName(code)}: ${message}`);
    this.destroy(code, message);
  }

  private maybeFinish(): void {
    if (this.goingAway && this.streams.size === 0 && !this.closed) {
      this.flush();
      this.socket.end();
      this.terminate('closed');
    }
  }

  /** Once: every stream aborts, pending pings fail, 'close' is emitted. */
  private terminate(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.block) clearTimeout(this.block.timer);
    for (const s of [...this.streams.values()]) s.abort(ErrorCode.CANCEL);
    for (const p of this.pings.splice(0)) p.cb(new Error(`connection ended: ${reason}`), 0);
    for (const cb of this.waitingDrain.splice(0)) cb(new Error(`connection ended: ${reason}`));
    // As Node's own sessions do: 'close' comes after the call that caused it has returned.
    process.nextTick(() => this.emit('close', reason));
  }
}
