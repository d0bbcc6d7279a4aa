// One HTTP/2 stream as a Node Duplex: what is written goes out as DATA (flow-controlled by the
// session), what the peer sends comes out as readable bytes. The stream's receive window is given
// back to the peer only as the reader takes the bytes, so a slow reader slows its own sender and no
// one else's.
//
// Ends: end() sends END_STREAM; the peer's END_STREAM ends the readable side. A stream whose both
// sides ended closes cleanly once its reader has taken everything (Node's autoDestroy). Destroying it earlier resets it (RST_STREAM(CANCEL), or the code given
// to close()); a reset from the peer, or the session's end, marks it aborted ('aborted', then 'close').
import { Duplex } from 'node:stream';
import { ErrorCode } from './frame.js';
import type { HeaderMap } from './headers.js';

/** What a stream needs of its session (session.ts). */
export interface StreamOwner {
  /** Queues DATA for the stream; `done` runs once it is all handed to the socket. */
  sendData(stream: H2Stream, data: Buffer, done: (err?: Error | null) => void): void;
  sendEnd(stream: H2Stream, done: (err?: Error | null) => void): void;
  sendHeaders(stream: H2Stream, fields: ReadonlyArray<readonly [string, string]>, endStream: boolean): void;
  sendReset(stream: H2Stream, code: number): void;
  /** The reader took `bytes`: they may be credited back to the peer. */
  consumed(stream: H2Stream, bytes: number): void;
  forget(stream: H2Stream): void;
}

export class H2Stream extends Duplex {
  /** The request headers (server side) or the response headers (client side), once received. */
  headers: HeaderMap | undefined;
  /** The RST_STREAM code sent or received, if the stream was reset. */
  rstCode: number | undefined;
  /** Bytes pushed to the reader and not yet taken by it. */
  uncredited = 0;
  /** Bytes taken by the reader and not yet announced to the peer in a WINDOW_UPDATE. */
  unannounced = 0;
  /** Flow control: what we may still send on this stream. */
  sendWindow: number;
  /** What the peer may still send on this stream. */
  recvWindow: number;
  /** Queued writes waiting for window: each a buffer (sent from `offset`) and its callback, or END_STREAM. */
  readonly pending: Array<{ data: Buffer | null; done: (err?: Error | null) => void }> = [];
  pendingOffset = 0;
  localEnded = false;
  remoteEnded = false;
  /** Client side: HEADERS sent but no final response yet. Server side: no response sent yet. */
  awaitingResponse = true;
  private flowing = true;

  constructor(readonly id: number, private readonly owner: StreamOwner, sendWindow: number, recvWindow: number) {
    super({ allowHalfOpen: true, readableHighWaterMark: 256 * 1024, writableHighWaterMark: 64 * 1024 });
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
  }

  /** Server side: answers the request. */
  respond(status: number, extra: Record<string, string> = {}, opts: { endStream?: boolean } = {}): void {
    if (!this.awaitingResponse) throw new Error(`stream ${this.id} has already responded`);
    this.awaitingResponse = false;
    const fields: Array<readonly [string, string]> = [[':status', String(status)]];
    for (const [k, v] of Object.entries(extra)) fields.push([k.toLowerCase(), v]);
    this.owner.sendHeaders(this, fields, opts.endStream === true);
    if (opts.endStream) {
      this.localEnded = true;
      // Nothing more will be written; the readable side still ends on its own (or by reset).
      this.end();
    }
  }

  /** Resets the stream with `code` (RST_STREAM) and destroys it. */
  close(code: number = ErrorCode.CANCEL): void {
    if (this.rstCode === undefined && !(this.localEnded && this.remoteEnded)) {
      this.rstCode = code;
      this.owner.sendReset(this, code);
    }
    this.destroy();
  }

  /** Session side: the peer's bytes. */
  deliver(piece: Buffer): void {
    if (this.destroyed) return;
    this.uncredited += piece.length;
    if (!this.push(piece)) this.flowing = false;
    else if (this.flowing) this.credit();
  }

  /** Session side: the peer's END_STREAM. */
  deliverEnd(): void {
    this.remoteEnded = true;
    this.push(null);
  }

  /** Session side: the peer reset the stream, or the session ended under it. */
  abort(code: number): void {
    if (this.destroyed) return;
    this.rstCode ??= code;
    this.emit('aborted');
    this.destroy();
  }

  private credit(): void {
    const n = this.uncredited;
    if (n === 0) return;
    this.uncredited = 0;
    this.owner.consumed(this, n);
  }

  override _read(): void {
    this.flowing = true;
    this.credit();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.owner.sendData(this, chunk, cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    const data = chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk));
    this.owner.sendData(this, data, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.localEnded) return cb();
    this.owner.sendEnd(this, (err) => {
      this.localEnded = true;
      cb(err);
    });
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.rstCode === undefined && !(this.localEnded && this.remoteEnded)) {
      this.rstCode = ErrorCode.CANCEL;
      this.owner.sendReset(this, ErrorCode.CANCEL);
    }
    for (const p of this.pending.splice(0)) p.done(err ?? new Error('stream closed'));
    this.owner.forget(this);
    cb(err);
  }
}
