// Bytes a parser holds back until what it reads is whole, kept so that a client writing a byte
// at a time costs linear time, not quadratic.
/**
 * Bytes held back until a message (a request head, a chunk line, a ClientHello) is whole. Appending copies only the new bytes
 * (capacity doubles), so a client writing a byte at a time costs linear time, not quadratic.
 */
export class HeldBytes {
  #buf = Buffer.alloc(0);
  #len = 0;

  get length(): number {
    return this.#len;
  }

  view(): Buffer {
    return this.#buf.subarray(0, this.#len);
  }

  append(chunk: Buffer): void {
    if (this.#len + chunk.length > this.#buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#len + chunk.length, 4096));
      this.#buf.copy(bigger, 0, 0, this.#len);
      this.#buf = bigger;
    }
    chunk.copy(this.#buf, this.#len);
    this.#len += chunk.length;
  }

  /** Keeps only `rest` (a copy: it may be a view of this buffer). */
  replace(rest: Buffer): void {
    const keep = Buffer.from(rest);
    this.#buf = keep;
    this.#len = keep.length;
  }
}
