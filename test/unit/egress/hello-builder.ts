// Handcrafted ClientHellos for the cases no real client sends: each piece is built from its
// lengths up, so a test can break exactly one thing and know the offset it broke.
export type Extension = [type: number, data: Buffer];

export const u8 = (n: number): Buffer => Buffer.from([n]);
export const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 255]);
export const vec8 = (b: Buffer): Buffer => Buffer.concat([u8(b.length), b]);
export const vec16 = (b: Buffer): Buffer => Buffer.concat([u16(b.length), b]);

export function serverName(...names: (string | Buffer)[]): Extension {
  const entries = names.map((n) => Buffer.concat([u8(0), vec16(typeof n === 'string' ? Buffer.from(n, 'latin1') : n)]));
  return [0, vec16(Buffer.concat(entries))];
}

export function alpn(...protocols: string[]): Extension {
  return [16, vec16(Buffer.concat(protocols.map((p) => vec8(Buffer.from(p)))))];
}

export function supportedVersions(...versions: number[]): Extension {
  return [43, vec8(Buffer.concat(versions.map(u16)))];
}

/** The ClientHello body: version, random, empty session id, one suite, null compression, extensions. */
export function helloBody(extensions: Extension[] | null, opts: { sessionId?: Buffer } = {}): Buffer {
  const fixed = Buffer.concat([u16(0x0303), Buffer.alloc(32, 7), vec8(opts.sessionId ?? Buffer.alloc(0)), vec16(u16(0x1301)), vec8(u8(0))]);
  if (extensions === null) return fixed;
  const block = Buffer.concat(extensions.map(([t, d]) => Buffer.concat([u16(t), vec16(d)])));
  return Buffer.concat([fixed, vec16(block)]);
}

/** The handshake message: type 1 and a 3-byte length. */
export function handshake(body: Buffer): Buffer {
  return Buffer.concat([u8(1), Buffer.from([body.length >> 16, (body.length >> 8) & 255, body.length & 255]), body]);
}

/** Wraps handshake bytes into TLS records of at most `size` payload bytes each. */
export function records(message: Buffer, size = 16384): Buffer {
  const out: Buffer[] = [];
  for (let i = 0; i < message.length; i += size) {
    const part = message.subarray(i, i + size);
    out.push(Buffer.concat([u8(22), u16(0x0301), u16(part.length), part]));
  }
  return Buffer.concat(out);
}

export const hello = (extensions: Extension[] | null, size?: number): Buffer => records(handshake(helloBody(extensions)), size);

/** The handshake message carried by the records of `wire` (record headers stripped). */
export function unwrap(wire: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < wire.length; ) {
    const len = wire.readUInt16BE(at + 3);
    parts.push(wire.subarray(at + 5, at + 5 + len));
    at += 5 + len;
  }
  return Buffer.concat(parts);
}
