// HPACK (RFC 7541): the header compression of HTTP/2, both directions.
//
// The decoder is complete: static and dynamic table, size updates, Huffman strings. It is bounded:
// the dynamic table by the size we advertise (SETTINGS_HEADER_TABLE_SIZE), the decoded list by
// `maxListSize` (RFC 9113 size: name + value + 32 per field), integers to 2^28. Any violation is
// an HpackError, a connection error (COMPRESSION_ERROR), since the table state is then unknown.
//
// The encoder never indexes: each field is a static-table index or a literal without indexing, so it
// keeps no state and needs no table size updates, and every peer can read it.
import { HuffmanError, huffmanDecode } from './huffman.js';

/** A decoded header field, name and value as latin1 strings (HPACK strings are octets). */
export type HeaderField = readonly [name: string, value: string];

const STATIC: readonly HeaderField[] = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''], ['etag', ''],
  ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''],
  ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''],
  ['referer', ''], ['refresh', ''], ['retry-after', ''], ['server', ''], ['set-cookie', ''],
  ['strict-transport-security', ''], ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''],
  ['www-authenticate', ''],
];

/** The static table, for tests (index 1 is element 0). */
export const STATIC_TABLE: readonly HeaderField[] = STATIC;

export class HpackError extends Error {}

/** Header-list size as RFC 9113 section 6.5.2 counts it. */
export function fieldSize(name: string, value: string): number {
  return name.length + value.length + 32;
}

export class HpackDecoder {
  /** Newest first. */
  private readonly dynamic: HeaderField[] = [];
  private size = 0;
  private capacity: number;

  /** @param maxTableSize the SETTINGS_HEADER_TABLE_SIZE we advertise: the most a size update may ask for. */
  constructor(private readonly maxTableSize = 4096) {
    this.capacity = maxTableSize;
  }

  /**
   * Decodes one complete header block. Fields beyond `maxListSize` are still decoded (the table
   * must stay in step with the peer's) but not returned: `oversized` says so and gives the size.
   */
  decode(block: Buffer, maxListSize: number): { fields: HeaderField[]; listSize: number; oversized: boolean } {
    const fields: HeaderField[] = [];
    let listSize = 0;
    let pos = 0;
    let mayResize = true;
    const int = (prefixBits: number): number => {
      const r = decodeInt(block, pos, prefixBits);
      pos = r.next;
      return r.value;
    };
    const str = (): string => {
      if (pos >= block.length) throw new HpackError('header block ends inside a string');
      const huffman = (block[pos]! & 0x80) !== 0;
      const len = int(7);
      if (pos + len > block.length) throw new HpackError('string length runs past the header block');
      const raw = block.subarray(pos, pos + len);
      pos += len;
      if (!huffman) return raw.toString('latin1');
      try {
        return huffmanDecode(raw).toString('latin1');
      } catch (err) {
        throw new HpackError((err as HuffmanError).message);
      }
    };
    const emit = (f: HeaderField): void => {
      listSize += fieldSize(f[0], f[1]);
      if (listSize <= maxListSize) fields.push(f);
    };
    while (pos < block.length) {
      const b = block[pos]!;
      if (b & 0x80) {
        emit(this.entry(int(7)));
      } else if (b & 0x40) {
        const index = int(6);
        const name = index === 0 ? str() : this.entry(index)[0];
        const f: HeaderField = [name, str()];
        this.insert(f);
        emit(f);
      } else if (b & 0x20) {
        if (!mayResize) throw new HpackError('dynamic table size update after the first field');
        const size = int(5);
        if (size > this.maxTableSize) throw new HpackError(`dynamic table size update to ${size}, above the ${this.maxTableSize} allowed`);
        this.capacity = size;
        this.evict();
        continue;
      } else {
        // Literal without indexing (0000) or never indexed (0001): not added to the table.
        const index = int(4);
        const name = index === 0 ? str() : this.entry(index)[0];
        emit([name, str()]);
      }
      mayResize = false;
    }
    return { fields, listSize, oversized: listSize > maxListSize };
  }

  private entry(index: number): HeaderField {
    if (index === 0) throw new HpackError('header index 0');
    if (index <= STATIC.length) return STATIC[index - 1]!;
    const f = this.dynamic[index - STATIC.length - 1];
    if (f === undefined) throw new HpackError(`header index ${index} is beyond the table`);
    return f;
  }

  private insert(f: HeaderField): void {
    const size = fieldSize(f[0], f[1]);
    if (size > this.capacity) {
      // RFC 7541 4.4: an entry larger than the table empties it.
      this.dynamic.length = 0;
      this.size = 0;
      return;
    }
    this.dynamic.unshift(f);
    this.size += size;
    this.evict();
  }

  private evict(): void {
    while (this.size > this.capacity) {
      const f = this.dynamic.pop()!;
      this.size -= fieldSize(f[0], f[1]);
    }
  }
}

/** RFC 7541 5.1, bounded to 2^28 so a hostile block cannot build huge numbers. */
function decodeInt(buf: Buffer, pos: number, prefixBits: number): { value: number; next: number } {
  if (pos >= buf.length) throw new HpackError('header block ends inside an integer');
  const max = (1 << prefixBits) - 1;
  let value = buf[pos++]! & max;
  if (value < max) return { value, next: pos };
  let shift = 0;
  for (;;) {
    if (pos >= buf.length) throw new HpackError('header block ends inside an integer');
    const b = buf[pos++]!;
    value += (b & 0x7f) * 2 ** shift;
    if (value > 2 ** 28) throw new HpackError('integer too large in header block');
    if ((b & 0x80) === 0) return { value, next: pos };
    shift += 7;
  }
}

const STATIC_EXACT = new Map<string, number>();
const STATIC_NAME = new Map<string, number>();
STATIC.forEach(([name, value], i) => {
  STATIC_EXACT.set(`${name}\0${value}`, i + 1);
  if (!STATIC_NAME.has(name)) STATIC_NAME.set(name, i + 1);
});

/** Encodes fields (names already lower case) statelessly: static indexes and literals without indexing. */
export function encodeHeaders(fields: readonly HeaderField[]): Buffer {
  const parts: number[] = [];
  const int = (value: number, prefixBits: number, first: number): void => {
    const max = (1 << prefixBits) - 1;
    if (value < max) {
      parts.push(first | value);
      return;
    }
    parts.push(first | max);
    value -= max;
    while (value >= 128) {
      parts.push((value % 128) | 0x80);
      value = Math.floor(value / 128);
    }
    parts.push(value);
  };
  const str = (s: string): void => {
    const bytes = Buffer.from(s, 'latin1');
    int(bytes.length, 7, 0);
    for (const b of bytes) parts.push(b);
  };
  for (const [name, value] of fields) {
    const exact = STATIC_EXACT.get(`${name}\0${value}`);
    if (exact !== undefined) {
      int(exact, 7, 0x80);
      continue;
    }
    const nameIndex = STATIC_NAME.get(name);
    if (nameIndex !== undefined) {
      int(nameIndex, 4, 0);
    } else {
      parts.push(0);
      str(name);
    }
    str(value);
  }
  return Buffer.from(parts);
}
