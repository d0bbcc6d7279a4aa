// The configuration stream's framing and messages. One long-lived TLS
// connection on which the proxy authenticates with its node credential in `hello`; then both ends
// exchange length-prefixed JSON frames (4-byte big-endian length, then UTF-8 JSON).
//
// Versions are the control plane's view revisions. A delta carries every resource that changed
// after `baseVersion` (or everything, with `reset`), the proxy ACKs the version once applied or
// NACKs it with a reason and keeps what it had.

import type { Duplex } from 'node:stream';
import { AmbitError, showValue } from '../errors.js';
import { parseSpiffeId } from '../identity/index.js';
import { unknownField } from '../config/fields.js';

export const MAX_FRAME_BYTES = 256 * 1024 * 1024;
export const PROTOCOL_VERSION = 1;

/**
 * The SPIFFE ID the control plane serves the stream with; every proxy checks it. Deliberately not
 * of the workload form (`/ns/<ns>/sa/<sa>`): node-scoped issuance refuses non-workload IDs, so no
 * pod, whatever its namespace and service account, can obtain the control plane's identity.
 */
export function controlPlaneIdentity(trustDomain: string): string {
  return parseSpiffeId(`spiffe://${trustDomain}/ambit/control-plane`).uri;
}

export interface Hello {
  type: 'hello';
  protocol: number;
  node: string;
  token: string;
  /** The version the proxy holds (0: nothing) and the store it came from. */
  version: number;
  storeId: string | null;
}
export interface Ack {
  type: 'ack';
  version: number;
}
export interface Nack {
  type: 'nack';
  version: number;
  error: string;
}
export interface CsrRequest {
  type: 'csr';
  id: number;
  identity: string;
  csr: string;
}
export type ClientMessage = Hello | Ack | Nack | CsrRequest;

/** Limits on what a proxy may send the control plane (a CSR is ~0.5 KB, a hello ~1-2 KB). */
export const CLIENT_LIMITS = { helloFrameBytes: 16 * 1024, csrBytes: 16 * 1024, identityChars: 2048, nackErrorChars: 4096 } as const;

type FieldCheck = [ok: (v: unknown) => boolean, what: string];
const whole: FieldCheck = [(v) => Number.isSafeInteger(v) && (v as number) >= 0, 'a whole number'];
const text = (max: number, what = 'a string'): FieldCheck => [(v) => typeof v === 'string' && v.length <= max, `${what} of at most ${max} characters`];
const CLIENT_SHAPES: Record<ClientMessage['type'], Record<string, FieldCheck>> = {
  hello: {
    protocol: whole,
    node: text(253),
    token: text(8192),
    version: whole,
    storeId: [(v) => v === null || text(256)[0](v), 'null or a string of at most 256 characters'],
  },
  ack: { version: whole },
  nack: { version: whole, error: text(CLIENT_LIMITS.nackErrorChars) },
  csr: { id: whole, identity: text(CLIENT_LIMITS.identityChars), csr: text(CLIENT_LIMITS.csrBytes, 'a PEM string') },
};

/**
 * What is wrong with a message from a proxy (its type, a field's type or size, a field too many),
 * or undefined: the control plane reads nothing a proxy sends before this passes.
 */
export function clientMessageProblem(msg: Record<string, unknown>): string | undefined {
  const shape = Object.hasOwn(CLIENT_SHAPES, msg.type as string) ? CLIENT_SHAPES[msg.type as ClientMessage['type']] : undefined;
  if (!shape) return `unknown message type ${showValue(msg.type)} (expected ${Object.keys(CLIENT_SHAPES).join(', ')})`;
  for (const [field, [ok, what]] of Object.entries(shape)) {
    if (!ok(msg[field])) return `${msg.type as string}.${field} must be ${what}, got ${showValue(msg[field])}`;
  }
  const extra = unknownField(msg, ['type', ...Object.keys(shape)]);
  if (extra !== undefined) return `${msg.type as string}.${showValue(extra).slice(1, -1)} is not a known field`;
  return undefined;
}

export interface Welcome {
  type: 'welcome';
  node: string;
  storeId: string;
}
export interface Delta {
  type: 'delta';
  version: number;
  baseVersion: number;
  reset: boolean;
  storeId: string;
  upserts: { key: string; value: unknown }[];
  removes: string[];
}
export interface SvidResponse {
  type: 'svid';
  id: number;
  chain: string[];
  serial: string;
  notAfter: string;
}
export interface SvidError {
  type: 'svid-error';
  id: number;
  code: string;
  message: string;
}
export interface StreamError {
  type: 'error';
  code: string;
  message: string;
}
export type ServerMessage = Welcome | Delta | SvidResponse | SvidError | StreamError;

/** Writes one frame; `json` may be a pre-serialised string (the control plane caches them). */
export function writeFrame(sock: Duplex, msg: object | string): boolean {
  // One write per frame: two small writes would meet Nagle's algorithm and delayed ACKs.
  const text = typeof msg === 'string' ? msg : JSON.stringify(msg);
  const len = Buffer.byteLength(text, 'utf8');
  const frame = Buffer.allocUnsafe(4 + len);
  frame.writeUInt32BE(len, 0);
  frame.write(text, 4, 'utf8');
  return sock.write(frame);
}

/**
 * Reads frames from a socket and hands each parsed message to `onMessage`. A frame over the
 * limit or that is not a JSON object ends the connection with an error (the caller logs it).
 */
export function readFrames(sock: Duplex, onMessage: (msg: Record<string, unknown>) => void, onBad: (err: AmbitError) => void, limit: number | (() => number) = MAX_FRAME_BYTES): void {
  let chunks: Buffer[] = [];
  let have = 0;
  let need = -1;
  sock.on('data', (data: Buffer) => {
    chunks.push(data);
    have += data.length;
    for (;;) {
      if (need < 0) {
        if (have < 4) return;
        const buf = take(4);
        need = buf.readUInt32BE(0);
        const maxBytes = typeof limit === 'number' ? limit : limit();
        if (need > maxBytes) {
          onBad(new AmbitError('STREAM_FRAME_TOO_LARGE', `Cannot read a config-stream frame: ${need} bytes is over the limit of ${maxBytes}`));
          sock.destroy();
          return;
        }
      }
      if (have < need) return;
      const body = take(need);
      need = -1;
      let msg: unknown;
      try {
        msg = JSON.parse(body.toString('utf8'));
      } catch {
        onBad(new AmbitError('STREAM_FRAME_INVALID', 'Cannot read a config-stream frame: it is not valid JSON'));
        sock.destroy();
        return;
      }
      if (typeof msg !== 'object' || msg === null || Array.isArray(msg) || typeof (msg as { type?: unknown }).type !== 'string') {
        onBad(new AmbitError('STREAM_FRAME_INVALID', 'Cannot read a config-stream frame: not an object with a "type"'));
        sock.destroy();
        return;
      }
      onMessage(msg as Record<string, unknown>);
      if (sock.destroyed) return;
    }
  });

  function take(n: number): Buffer {
    const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, have);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    chunks = rest.length ? [rest] : [];
    have = rest.length;
    return out;
  }
}
