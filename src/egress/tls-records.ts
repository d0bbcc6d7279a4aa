// The TLS record layer, as far as the egress gateway needs it: collect the handshake bytes that
// the client's first records carry, across as many records as the sender chose to split them
// into, without ever reading past the first handshake message. The gateway decides on these
// bytes alone, so every length is checked before it is trusted and a limit caps what a client
// can make us buffer before we know its SNI.
import { AmbitError, showValue } from '../errors.js';

export const TLS_RECORD_HEADER_BYTES = 5;
export const TLS_HANDSHAKE_HEADER_BYTES = 4;
/** RFC 8446 5.1: a plaintext record carries at most 2^14 bytes. */
export const TLS_MAX_RECORD_PAYLOAD = 16384;
const CONTENT_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;

export type HandshakeAssembly =
  | { kind: 'complete'; /** The ClientHello body (after the 4-byte handshake header). */ body: Buffer; recordBytes: number }
  | { kind: 'incomplete'; /** At least this many more bytes are needed. */ need: number };

export function malformed(why: string, value?: unknown): AmbitError {
  return new AmbitError('TLS_CLIENT_HELLO_MALFORMED', `Cannot read ClientHello: ${why}`, value === undefined ? {} : { value });
}

/**
 * Reads records from the start of `buf` until the first handshake message is whole.
 * `maxHandshakeBytes` bounds the handshake message (header included).
 */
export function assembleClientHello(buf: Buffer, maxHandshakeBytes: number): HandshakeAssembly {
  if (buf.length >= 1 && buf[0] !== CONTENT_HANDSHAKE) {
    throw new AmbitError(
      'TLS_NOT_HANDSHAKE',
      `Cannot read ClientHello: the first byte is ${buf[0]} (${showByte(buf[0]!)}), not 22 (TLS handshake record); the client did not start TLS`,
      { path: 'record[0].type', value: buf[0] },
    );
  }
  const chunks: Buffer[] = [];
  let have = 0; // handshake bytes collected so far
  let want = -1; // total handshake message length once the header is known
  let at = 0; // offset of the next record in buf
  for (let index = 0; ; index++) {
    // `need` counts what is surely still to come: this record's missing bytes, and once the
    // message length is known, its missing bytes too (in one more record at the least), so that
    // a caller holding bytes parses again only when the message can be whole (a client cutting it
    // into 1-byte records gets a few parses, not one per record).
    // (Never more than that: a caller would wait for bytes a client need not send.)
    const left = want < 0 ? 0 : want - have;
    if (buf.length < at + TLS_RECORD_HEADER_BYTES) return { kind: 'incomplete', need: at + TLS_RECORD_HEADER_BYTES - buf.length + left };
    const type = buf[at]!;
    if (type !== CONTENT_HANDSHAKE) {
      throw malformed(`record ${index} at byte ${at} has content type ${type}, but the ClientHello is not complete (${have} of ${want} bytes)`, type);
    }
    const version = buf.readUInt16BE(at + 1);
    if (version >> 8 !== 3) throw malformed(`record ${index} at byte ${at} has version 0x${hex4(version)}, not 0x03xx`, version);
    const length = buf.readUInt16BE(at + 3);
    if (length === 0) throw malformed(`record ${index} at byte ${at} is empty (length 0), which TLS forbids for handshake records`, length);
    if (length > TLS_MAX_RECORD_PAYLOAD) {
      throw malformed(`record ${index} at byte ${at} has length ${length}, over the TLS maximum ${TLS_MAX_RECORD_PAYLOAD}`, length);
    }
    const end = at + TLS_RECORD_HEADER_BYTES + length;
    const payload = buf.subarray(at + TLS_RECORD_HEADER_BYTES, Math.min(end, buf.length));
    chunks.push(payload);
    have += payload.length;
    if (want < 0 && have >= TLS_HANDSHAKE_HEADER_BYTES) want = checkHeader(Buffer.concat(chunks), maxHandshakeBytes);
    if (want >= 0 && have > want) {
      throw malformed(`record ${index} at byte ${at} carries ${have - want} bytes after the ClientHello (${want} bytes); nothing may follow it in the first flight`, have - want);
    }
    if (buf.length < end) {
      const missing = end - buf.length;
      const after = want < 0 ? 0 : want - have - missing;
      return { kind: 'incomplete', need: missing + (after > 0 ? TLS_RECORD_HEADER_BYTES + after : 0) };
    }
    if (want >= 0 && have === want) {
      const hello = Buffer.concat(chunks);
      return { kind: 'complete', body: hello.subarray(TLS_HANDSHAKE_HEADER_BYTES), recordBytes: end };
    }
    at = end;
  }
}

/** Checks the 4-byte handshake header; returns the whole message length. */
function checkHeader(head: Buffer, max: number): number {
  const msgType = head[0]!;
  if (msgType !== HANDSHAKE_CLIENT_HELLO) {
    throw malformed(`handshake message type is ${msgType}, not 1 (client_hello)`, msgType);
  }
  const total = head.readUIntBE(1, 3) + TLS_HANDSHAKE_HEADER_BYTES;
  if (total > max) {
    throw new AmbitError(
      'TLS_CLIENT_HELLO_TOO_LARGE',
      `Cannot read ClientHello: handshake message of ${total} bytes is over the limit of ${max} bytes`,
      { path: 'handshake.length', value: total },
    );
  }
  return total;
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}

function showByte(b: number): string {
  return b >= 0x20 && b < 0x7f ? JSON.stringify(String.fromCharCode(b)) : `0x${b.toString(16).padStart(2, '0')}`;
}
