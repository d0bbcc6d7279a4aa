// The egress gateway's TLS front door: read the ClientHello that an application sent to an
// external host and report the name it asked for (SNI), its ALPN offer and TLS versions. The
// gateway allows or refuses on this name, never on the IP the application dialed, so the parse
// is strict: any length that does not add up, any duplicate extension or leftover byte, and any
// server name that is not a plain DNS host name is an error, never a best guess. A hello that
// carries encrypted_client_hello is refused: its SNI is only the outer (public) name, and the name
// the client really asks for is encrypted inside, where no policy can see it.
import { AmbitError, showValue } from '../errors.js';
import { canonicalHost } from '../config/index.js';
import { hostProblem } from './authority.js';
import { HelloReader } from './hello-reader.js';
import { assembleClientHello, malformed } from './tls-records.js';

/** Default cap on the ClientHello handshake message (header included). */
export const DEFAULT_MAX_CLIENT_HELLO_BYTES = 16 * 1024;

const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const EXT_SUPPORTED_VERSIONS = 43;
/** draft-ietf-tls-esni (ECH), the code point clients send. */
export const EXT_ENCRYPTED_CLIENT_HELLO = 0xfe0d;
const EXTENSION_NAMES: Record<number, string> = {
  [EXT_SERVER_NAME]: 'server_name', [EXT_ALPN]: 'alpn', [EXT_SUPPORTED_VERSIONS]: 'supported_versions', [EXT_ENCRYPTED_CLIENT_HELLO]: 'encrypted_client_hello',
};
const NAME_TYPE_HOST_NAME = 0;

export interface ClientHelloOptions {
  /** Cap on the handshake message in bytes (default 16 KiB); over it: TLS_CLIENT_HELLO_TOO_LARGE. */
  maxBytes?: number;
}

export type ClientHelloResult =
  | {
      kind: 'complete';
      /** Canonical server name (lower case, no trailing dot); undefined when the client sent no server_name. */
      sni: string | undefined;
      /** ALPN protocols in the client's order; empty when no ALPN extension. */
      alpn: string[];
      /** TLS versions offered: supported_versions without GREASE values, else [legacy_version]. 0x0304 is TLS 1.3. */
      tlsVersions: number[];
      /** Bytes of `buf` that the ClientHello's records take; anything after belongs to later records. */
      recordBytes: number;
    }
  | { kind: 'incomplete'; /** At least this many more bytes are needed. */ need: number };

/** Reads a ClientHello from the first bytes of a connection. Pure: call again with more bytes. */
export function parseClientHello(buf: Buffer, opts: ClientHelloOptions = {}): ClientHelloResult {
  const max = opts.maxBytes ?? DEFAULT_MAX_CLIENT_HELLO_BYTES;
  const assembled = assembleClientHello(buf, max);
  if (assembled.kind === 'incomplete') return assembled;
  const hello = new HelloReader(assembled.body, 'the ClientHello');
  const legacyVersion = hello.u16('legacy_version');
  hello.bytes(32, 'random');
  hello.vector('legacy_session_id', 1, { max: 32 });
  hello.vector('cipher_suites', 2, { min: 2, unit: 2 });
  hello.vector('legacy_compression_methods', 1, { min: 1 });
  const out: ClientHelloResult = { kind: 'complete', sni: undefined, alpn: [], tlsVersions: [legacyVersion], recordBytes: assembled.recordBytes };
  if (hello.remaining === 0) return out; // a TLS 1.2 hello may carry no extensions at all
  const extensions = hello.vector('extensions', 2);
  hello.expectEnd();
  const seen = new Set<number>();
  while (extensions.remaining > 0) {
    const at = extensions.offset;
    const type = extensions.u16('extension type');
    const label = `extension ${type}${EXTENSION_NAMES[type] === undefined ? '' : ` (${EXTENSION_NAMES[type]})`}`;
    if (seen.has(type)) throw malformed(`${label} at offset ${at} appears twice`, type);
    seen.add(type);
    const data = extensions.vector(label, 2);
    if (type === EXT_SERVER_NAME) out.sni = readServerName(data, label);
    else if (type === EXT_ALPN) out.alpn = readAlpn(data, label);
    else if (type === EXT_SUPPORTED_VERSIONS) out.tlsVersions = readSupportedVersions(data, label);
    else if (type === EXT_ENCRYPTED_CLIENT_HELLO) {
      // Refused even as GREASE (ECH clients send a fake one when they hold no ECH config for the name):
      // the two cannot be told apart from the outside, by design.
      throw new AmbitError('TLS_ECH_REFUSED', `Cannot read ClientHello: ${label} at offset ${at} hides the real server name (the SNI is only the outer name); disable ECH for egress`, { path: 'extensions.encrypted_client_hello', value: type });
    }
  }
  return out;
}

function readServerName(data: HelloReader, label: string): string {
  const list = data.vector(`${label} server_name_list`, 2);
  data.expectEnd();
  if (list.remaining === 0) throw sniInvalid(`${label} has an empty server_name_list`, '');
  let name: string | undefined;
  while (list.remaining > 0) {
    const at = list.offset;
    const nameType = list.u8('name_type');
    if (nameType !== NAME_TYPE_HOST_NAME) throw sniInvalid(`${label} entry at offset ${at} has name_type ${nameType}, not 0 (host_name)`, nameType);
    const raw = list.vector(`${label} host_name`, 2).rest();
    if (name !== undefined) throw sniInvalid(`${label} holds several host_name entries (second at offset ${at})`, raw.toString('latin1'));
    name = checkHostName(raw, label);
  }
  return name!;
}

function checkHostName(raw: Buffer, label: string): string {
  const text = raw.toString('latin1');
  const bad = raw.findIndex((b) => b <= 0x20 || b >= 0x7f);
  if (bad >= 0) {
    throw sniInvalid(`${label} host_name has byte 0x${raw[bad]!.toString(16).padStart(2, '0')} at position ${bad}; only printable ASCII is allowed`, text);
  }
  const host = canonicalHost(text);
  if (host === null) {
    throw sniInvalid(`${label} host_name ${hostProblem(text)}`, text);
  }
  return host;
}

function readAlpn(data: HelloReader, label: string): string[] {
  const list = data.vector(`${label} protocol_name_list`, 2, { min: 2 });
  data.expectEnd();
  const out: string[] = [];
  while (list.remaining > 0) out.push(list.vector(`${label} protocol name`, 1, { min: 1 }).rest().toString('latin1'));
  return out;
}

function readSupportedVersions(data: HelloReader, label: string): number[] {
  const list = data.vector(`${label} versions`, 1, { min: 2, max: 254, unit: 2 });
  data.expectEnd();
  const out: number[] = [];
  while (list.remaining > 0) {
    const v = list.u16('version');
    if ((v & 0x0f0f) !== 0x0a0a || v >> 8 !== (v & 0xff)) out.push(v); // drop GREASE (RFC 8701): 0x0a0a, 0x1a1a, ...
  }
  return out;
}

function sniInvalid(why: string, value: unknown): AmbitError {
  return new AmbitError('TLS_SNI_INVALID', `Cannot read ClientHello: ${why}, got ${showValue(value)}`, { path: 'extensions.server_name', value });
}
