// A bounds-checked cursor over the ClientHello body. Every read names the field it reads, so a
// length that overruns its container becomes a message that says which field, which length and
// where ("offset" counts from the start of the handshake message, its 4-byte header included,
// the way a packet capture tool shows it).
import { malformed, TLS_HANDSHAKE_HEADER_BYTES } from './tls-records.js';

export class HelloReader {
  readonly #buf: Buffer;
  #pos: number;
  readonly #end: number;
  /** What the bytes between pos and end are, for messages ("the ClientHello", "extension 16 (alpn)"). */
  readonly container: string;

  constructor(buf: Buffer, container: string, start = 0, end = buf.length) {
    this.#buf = buf;
    this.#pos = start;
    this.#end = end;
    this.container = container;
  }

  /** Offset of the cursor in the handshake message. */
  get offset(): number {
    return this.#pos + TLS_HANDSHAKE_HEADER_BYTES;
  }

  get remaining(): number {
    return this.#end - this.#pos;
  }

  #need(n: number, field: string): void {
    if (n > this.remaining) {
      throw malformed(`${field} (${n} bytes) overruns ${this.container} at offset ${this.offset}: only ${this.remaining} bytes remain`, n);
    }
  }

  u8(field: string): number {
    this.#need(1, field);
    return this.#buf[this.#pos++]!;
  }

  u16(field: string): number {
    this.#need(2, field);
    const v = this.#buf.readUInt16BE(this.#pos);
    this.#pos += 2;
    return v;
  }

  bytes(n: number, field: string): Buffer {
    this.#need(n, field);
    const out = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }

  /** All bytes left in this container. */
  rest(): Buffer {
    return this.bytes(this.remaining, 'rest');
  }

  /**
   * A length-prefixed vector (`lengthBytes` of 1 or 2) as a reader over its contents.
   * `min`/`max` are the TLS presentation bounds <min..max>.
   */
  vector(field: string, lengthBytes: 1 | 2, bounds: { min?: number; max?: number; unit?: number } = {}): HelloReader {
    const at = this.offset;
    const length = lengthBytes === 1 ? this.u8(`${field} length`) : this.u16(`${field} length`);
    if (length > this.remaining) {
      throw malformed(`${field} length ${length} overruns ${this.container} at offset ${at}: only ${this.remaining} bytes remain`, length);
    }
    const { min = 0, max = Infinity, unit = 1 } = bounds;
    if (length < min || length > max) {
      const range = max === Infinity ? `at least ${min}` : `from ${min} to ${max}`;
      throw malformed(`${field} length ${length} at offset ${at} must be ${range}`, length);
    }
    if (length % unit !== 0) throw malformed(`${field} length ${length} at offset ${at} must be a multiple of ${unit}`, length);
    const inner = new HelloReader(this.#buf, `the ${field} block`, this.#pos, this.#pos + length);
    this.#pos += length;
    return inner;
  }

  /** Fails when bytes are left over: they would be data that no field accounts for. */
  expectEnd(): void {
    if (this.remaining !== 0) {
      throw malformed(`${this.remaining} trailing bytes at the end of ${this.container} at offset ${this.offset}`, this.remaining);
    }
  }
}
