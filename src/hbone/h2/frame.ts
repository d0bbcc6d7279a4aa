// HTTP/2 frames (RFC 9113 section 4 and 6): the constants, the writers, and a streaming reader.
//
// The reader hands DATA payloads over in the pieces they arrive in (a 16 KB frame spread over
// several TLS records is never reassembled) and every other frame whole. It checks only what the
// frame layer knows: the length against our SETTINGS_MAX_FRAME_SIZE and DATA padding. The meaning of
// frames is the session's (session.ts).

export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

/** Error codes (RFC 9113 section 7). */
export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

const ERROR_NAMES = new Map<number, string>(Object.entries(ErrorCode).map(([k, v]) => [v, k]));

/** `PROTOCOL_ERROR`, or `0x1f` for a code RFC 9113 does not name. */
export function errorName(code: number): string {
  return ERROR_NAMES.get(code) ?? `0x${code.toString(16)}`;
}

export const Setting = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
  ENABLE_CONNECT_PROTOCOL: 0x8,
} as const;

export const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const DEFAULT_MAX_FRAME_SIZE = 16_384;
export const MAX_ALLOWED_FRAME_SIZE = 16_777_215;
export const DEFAULT_WINDOW = 65_535;
export const MAX_WINDOW = 2 ** 31 - 1;
export const FRAME_HEADER = 9;

/** A connection error: the session answers GOAWAY with `code` and closes. */
export class H2ConnectionError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

export function frameHeader(length: number, type: number, flags: number, streamId: number): Buffer {
  const h = Buffer.allocUnsafe(FRAME_HEADER);
  h[0] = length >>> 16;
  h[1] = (length >>> 8) & 0xff;
  h[2] = length & 0xff;
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId & 0x7fffffff, 5);
  return h;
}

export function frame(type: number, flags: number, streamId: number, payload?: Buffer): Buffer {
  const len = payload?.length ?? 0;
  const out = Buffer.allocUnsafe(FRAME_HEADER + len);
  out[0] = len >>> 16;
  out[1] = (len >>> 8) & 0xff;
  out[2] = len & 0xff;
  out[3] = type;
  out[4] = flags;
  out.writeUInt32BE(streamId & 0x7fffffff, 5);
  if (payload !== undefined) payload.copy(out, FRAME_HEADER);
  return out;
}

export function settingsFrame(settings: ReadonlyArray<readonly [number, number]>): Buffer {
  const p = Buffer.allocUnsafe(6 * settings.length);
  settings.forEach(([id, value], i) => {
    p.writeUInt16BE(id, 6 * i);
    p.writeUInt32BE(value, 6 * i + 2);
  });
  return frame(FrameType.SETTINGS, 0, 0, p);
}

export function u32Frame(type: number, streamId: number, value: number): Buffer {
  const p = Buffer.allocUnsafe(4);
  p.writeUInt32BE(value >>> 0, 0);
  return frame(type, 0, streamId, p);
}

export function goawayFrame(lastStreamId: number, code: number, debug = ''): Buffer {
  const d = Buffer.from(debug.slice(0, 256), 'utf8');
  const p = Buffer.allocUnsafe(8 + d.length);
  p.writeUInt32BE(lastStreamId & 0x7fffffff, 0);
  p.writeUInt32BE(code >>> 0, 4);
  d.copy(p, 8);
  return frame(FrameType.GOAWAY, 0, 0, p);
}

/** What the reader calls. DATA comes as start, pieces, end; every other frame whole. */
export interface FrameHandler {
  /** `length` is the whole frame payload, padding included: what flow control counts. */
  dataStart(streamId: number, flags: number, length: number): void;
  dataPiece(streamId: number, piece: Buffer): void;
  dataEnd(streamId: number, flags: number): void;
  frame(type: number, flags: number, streamId: number, payload: Buffer): void;
}

const enum State { Header, Payload, DataPadLength, Data, DataPadding }

export class FrameReader {
  private state = State.Header;
  /** Partial bytes of a frame header, or of a non-DATA payload. */
  private held: Buffer[] = [];
  private heldLength = 0;
  private length = 0;
  private type = 0;
  private flags = 0;
  private streamId = 0;
  /** DATA bytes, then padding bytes, left in the current frame. */
  private dataLeft = 0;
  private padLeft = 0;

  /** @param maxFrameSize our SETTINGS_MAX_FRAME_SIZE: a longer frame is FRAME_SIZE_ERROR. */
  constructor(private readonly handler: FrameHandler, public maxFrameSize = DEFAULT_MAX_FRAME_SIZE) {}

  /** Feeds bytes; throws H2ConnectionError on a frame-layer violation (the session then ends). */
  push(chunk: Buffer): void {
    let off = 0;
    const n = chunk.length;
    while (off < n) {
      switch (this.state) {
        case State.Header: {
          let h: Buffer;
          if (this.heldLength === 0 && n - off >= FRAME_HEADER) {
            h = chunk.subarray(off, off + FRAME_HEADER);
            off += FRAME_HEADER;
          } else {
            const take = Math.min(FRAME_HEADER - this.heldLength, n - off);
            this.hold(chunk.subarray(off, off + take));
            off += take;
            if (this.heldLength < FRAME_HEADER) return;
            h = this.takeHeld();
          }
          this.length = (h[0]! << 16) | (h[1]! << 8) | h[2]!;
          this.type = h[3]!;
          this.flags = h[4]!;
          this.streamId = h.readUInt32BE(5) & 0x7fffffff;
          if (this.length > this.maxFrameSize) {
            throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `frame of ${this.length} bytes, above the ${this.maxFrameSize} allowed`);
          }
          if (this.type === FrameType.DATA) {
            this.handler.dataStart(this.streamId, this.flags, this.length);
            if (this.flags & Flag.PADDED) {
              if (this.length === 0) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'padded DATA frame without a pad length');
              this.state = State.DataPadLength;
            } else {
              this.dataLeft = this.length;
              this.padLeft = 0;
              this.state = State.Data;
              if (this.length === 0) this.endData();
            }
          } else if (this.length === 0) {
            this.handler.frame(this.type, this.flags, this.streamId, EMPTY);
          } else {
            this.state = State.Payload;
          }
          break;
        }
        case State.Payload: {
          const need = this.length - this.heldLength;
          if (this.heldLength === 0 && n - off >= need) {
            const p = chunk.subarray(off, off + need);
            off += need;
            this.state = State.Header;
            this.handler.frame(this.type, this.flags, this.streamId, p);
          } else {
            const take = Math.min(need, n - off);
            this.hold(chunk.subarray(off, off + take));
            off += take;
            if (this.heldLength < this.length) return;
            this.state = State.Header;
            this.handler.frame(this.type, this.flags, this.streamId, this.takeHeld());
          }
          break;
        }
        case State.DataPadLength: {
          const pad = chunk[off++]!;
          if (pad >= this.length) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `DATA padding of ${pad} bytes in a ${this.length}-byte frame`);
          this.dataLeft = this.length - 1 - pad;
          this.padLeft = pad;
          this.state = State.Data;
          if (this.dataLeft === 0 && this.padLeft === 0) this.endData();
          else if (this.dataLeft === 0) this.state = State.DataPadding;
          break;
        }
        case State.Data: {
          const take = Math.min(this.dataLeft, n - off);
          const piece = chunk.subarray(off, off + take);
          off += take;
          this.dataLeft -= take;
          this.handler.dataPiece(this.streamId, piece);
          if (this.dataLeft === 0) {
            if (this.padLeft === 0) this.endData();
            else this.state = State.DataPadding;
          }
          break;
        }
        case State.DataPadding: {
          const take = Math.min(this.padLeft, n - off);
          off += take;
          this.padLeft -= take;
          if (this.padLeft === 0) this.endData();
          break;
        }
      }
    }
  }

  private endData(): void {
    this.state = State.Header;
    this.handler.dataEnd(this.streamId, this.flags);
  }

  private hold(b: Buffer): void {
    // A copy: the chunk's memory may be reused by the socket after this call.
    this.held.push(Buffer.from(b));
    this.heldLength += b.length;
  }

  private takeHeld(): Buffer {
    const out = this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held, this.heldLength);
    this.held = [];
    this.heldLength = 0;
    return out;
  }
}

const EMPTY = Buffer.alloc(0);
