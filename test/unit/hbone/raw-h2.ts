// A minimal raw HTTP/2 client over mTLS, for attacks a well-behaved client (nghttp2) would never
// send, such as more concurrent streams than the server allows. HPACK: literal fields without
// indexing and without Huffman coding, which every decoder must accept (RFC 7541 6.2.2).
import { once } from 'node:events';
import { connect, type SecureContext, type TLSSocket } from 'node:tls';

export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8 } as const;

export interface Frame { type: number; flags: number; streamId: number; payload: Buffer }

function hpackInt(value: number, prefixBits: number, firstByte: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstByte | value]);
  const out = [firstByte | max];
  let v = value - max;
  while (v >= 128) { out.push((v % 128) + 128); v = Math.floor(v / 128); }
  out.push(v);
  return Buffer.from(out);
}

function hpackString(s: string): Buffer {
  const b = Buffer.from(s);
  return Buffer.concat([hpackInt(b.length, 7, 0), b]);
}

export function hpackBlock(fields: [string, string][]): Buffer {
  return Buffer.concat(fields.flatMap(([n, v]) => [Buffer.from([0]), hpackString(n), hpackString(v)]));
}

export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId, 5);
  return Buffer.concat([h, payload]);
}

export class RawH2 {
  readonly frames: Frame[] = [];
  private buf = Buffer.alloc(0);
  closed = false;
  /** Whether PINGs get their ACK; a test playing a silent peer sets it false. */
  ackPings = true;

  private constructor(readonly socket: TLSSocket) {
    socket.on('data', (d: Buffer) => this.parse(d));
    socket.on('close', () => { this.closed = true; });
    socket.on('error', () => undefined);
  }

  static async connect(port: number, secureContext: SecureContext, host = '127.0.0.1'): Promise<RawH2> {
    const socket = connect({ host, port, secureContext, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined });
    await once(socket, 'secureConnect');
    const raw = new RawH2(socket);
    socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(FRAME.SETTINGS, 0, 0)]));
    return raw;
  }

  private parse(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    while (this.buf.length >= 9) {
      const len = this.buf.readUIntBE(0, 3);
      if (this.buf.length < 9 + len) return;
      const f: Frame = { type: this.buf[3]!, flags: this.buf[4]!, streamId: this.buf.readUInt32BE(5) & 0x7fffffff, payload: this.buf.subarray(9, 9 + len) };
      this.buf = this.buf.subarray(9 + len);
      if (f.type === FRAME.SETTINGS && !(f.flags & 1)) this.socket.write(frame(FRAME.SETTINGS, 1, 0));
      // Like any HTTP/2 stack, answer PINGs (the server's keepalive), unless a test plays a peer that does not.
      if (f.type === FRAME.PING && !(f.flags & 1) && this.ackPings) this.socket.write(frame(FRAME.PING, 1, 0, f.payload));
      this.frames.push(f);
    }
  }

  /** HEADERS with END_HEADERS for a CONNECT to `authority` on `streamId`. */
  connectFrame(streamId: number, authority: string): Buffer {
    return frame(FRAME.HEADERS, 0x4, streamId, hpackBlock([[':method', 'CONNECT'], [':authority', authority]]));
  }

  async waitFor(pred: (frames: Frame[]) => boolean, ms = 3000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred(this.frames)) {
      if (Date.now() > deadline || this.closed) {
        if (pred(this.frames)) return;
        throw new Error(`raw h2: condition not met within ${ms} ms (closed=${this.closed}, ${this.frames.length} frames)`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
