// The egress gateway's HTTP/1.x front door: read the request head that an application sent to
// an external host, and report its method, target and Host. The gateway allows or refuses on
// that Host, so the parse is strict where lenient parsers disagree with each other (the ground
// request smuggling grows on): bare LF, obs-fold, whitespace before the colon, control bytes in
// values, two Host headers, a Host that disagrees with an absolute target, and ambiguous body
// framing are all errors.
import { AmbitError, showValue } from '../errors.js';
import { readAuthority, type Authority } from './authority.js';
import { checkFraming } from './http-framing.js';

export const DEFAULT_MAX_HEAD_BYTES = 32 * 1024;
export const DEFAULT_MAX_HEADERS = 100;

export interface RequestHeadOptions {
  /** Cap on the head in bytes, CRLFCRLF included (default 32 KiB). */
  maxBytes?: number;
  /** Cap on the number of header fields (default 100). */
  maxHeaders?: number;
}

export interface RequestHead {
  kind: 'complete';
  method: string;
  target: string;
  version: 'HTTP/1.0' | 'HTTP/1.1';
  /** Header fields in order, names as sent, values with surrounding whitespace trimmed. */
  headers: [string, string][];
  /** Canonical host from Host (or from an absolute-form target); undefined for HTTP/1.0 without either. */
  host: string | undefined;
  /** The port named by Host or the target, when one was named. */
  port: number | undefined;
  /** Bytes of the head, CRLFCRLF included: the body (if any) starts here. */
  headBytes: number;
}

export type RequestHeadResult = RequestHead | { kind: 'incomplete' };

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const TARGET = /^[\x21-\x7e]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const ABSOLUTE = /^(https?):\/\/([^/?#]*)/i;
const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443 };

export function httpError(code: string, why: string, path: string, value: unknown): AmbitError {
  return new AmbitError(code, `Cannot read HTTP request head: ${why}, got ${showValue(value)}`, { path, value });
}

/** Where the head ends (index after CRLFCRLF), -1 when not yet; throws on a bare LF. */
function headEnd(buf: Buffer, from: number, limit: number): number {
  const stop = Math.min(buf.length, from + limit);
  for (let i = from; i < stop; i++) {
    if (buf[i] !== 0x0a) continue;
    if (i === from || buf[i - 1] !== 0x0d) throw httpError('HTTP_MALFORMED', `bare LF at byte ${i - from} (lines must end with CRLF)`, 'head', '\n');
    if (i - from >= 3 && buf[i - 2] === 0x0a) return i + 1;
  }
  if (stop - from >= limit) throw httpError('HTTP_HEAD_TOO_LARGE', `no end of head within the limit of ${limit} bytes`, 'head', stop - from);
  return -1;
}

/**
 * Whether parsing `buf` again can say more than "incomplete": a head (and a bare LF, its error)
 * ends at an LF, so only an LF at or after `from` (where the last search stopped) or more bytes
 * than a head may hold can change the answer. For holders of bytes that arrive in pieces.
 */
export function headMayEnd(buf: Buffer, from: number, maxBytes = DEFAULT_MAX_HEAD_BYTES): boolean {
  return buf.length > maxBytes || buf.indexOf(0x0a, from) >= 0;
}

/** Reads one request head starting at `offset` of `buf`. Pure: call again with more bytes. */
export function parseRequestHead(buf: Buffer, opts: RequestHeadOptions & { offset?: number } = {}): RequestHeadResult {
  const from = opts.offset ?? 0;
  const end = headEnd(buf, from, opts.maxBytes ?? DEFAULT_MAX_HEAD_BYTES);
  if (end < 0) return { kind: 'incomplete' };
  const lines = buf.toString('latin1', from, end - 4).split('\r\n');
  const [method, target, version] = readRequestLine(lines[0]!);
  const maxHeaders = opts.maxHeaders ?? DEFAULT_MAX_HEADERS;
  if (lines.length - 1 > maxHeaders) {
    throw httpError('HTTP_HEAD_TOO_LARGE', `${lines.length - 1} header fields are over the limit of ${maxHeaders}`, 'headers', lines.length - 1);
  }
  const headers = lines.slice(1).map((line, i) => readField(line, i));
  checkFraming(headers, version);
  const { host, port } = readHost(method, target, version, headers);
  return { kind: 'complete', method, target, version, headers, host, port, headBytes: end - from };
}

function readRequestLine(line: string): [string, string, 'HTTP/1.0' | 'HTTP/1.1'] {
  const parts = line.split(' ');
  if (parts.length !== 3) throw httpError('HTTP_MALFORMED', 'request line must be "<method> <target> <version>" separated by single spaces', 'requestLine', line);
  const [method, target, version] = parts as [string, string, string];
  if (!TOKEN.test(method)) throw httpError('HTTP_MALFORMED', 'method must be a token', 'method', method);
  if (!TARGET.test(target)) throw httpError('HTTP_MALFORMED', 'target must be visible ASCII', 'target', target);
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') throw httpError('HTTP_MALFORMED', 'version must be HTTP/1.1 or HTTP/1.0', 'version', version);
  return [method, target, version];
}

function readField(line: string, index: number): [string, string] {
  const path = `headers[${index}]`;
  if (line.startsWith(' ') || line.startsWith('\t')) throw httpError('HTTP_MALFORMED', `${path} starts with whitespace (obs-fold line folding is refused)`, path, line);
  const colon = line.indexOf(':');
  if (colon < 0) throw httpError('HTTP_MALFORMED', `${path} has no ":"`, path, line);
  const name = line.slice(0, colon);
  if (!TOKEN.test(name)) throw httpError('HTTP_MALFORMED', `${path} name must be a token (no whitespace before ":")`, `${path}.name`, name);
  const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
  if (!FIELD_VALUE.test(value)) throw httpError('HTTP_MALFORMED', `${path} (${name}) value holds a control character (NUL, CR, LF or other)`, `${path}.value`, value);
  return [name, value];
}

function readHost(method: string, target: string, version: string, headers: [string, string][]): Partial<Authority> {
  const hosts = headers.filter(([n]) => n.toLowerCase() === 'host');
  if (hosts.length > 1) throw httpError('HTTP_HOST_DUPLICATE', `Host appears ${hosts.length} times`, 'headers.host', hosts.map(([, v]) => v));
  const fromTarget = targetAuthority(method, target);
  if (hosts.length === 0) {
    if (version === 'HTTP/1.1') throw httpError('HTTP_HOST_MISSING', 'an HTTP/1.1 request must carry a Host header', 'headers.host', undefined);
    return fromTarget === undefined ? { host: undefined, port: undefined } : fromTarget.authority;
  }
  const value = hosts[0]![1];
  const host = readAuthority(value);
  if (typeof host === 'string') throw httpError('HTTP_HOST_INVALID', `Host ${host}`, 'headers.host', value);
  if (fromTarget !== undefined) {
    const { authority, defaultPort } = fromTarget;
    const samePort = (host.port ?? defaultPort) === (authority.port ?? defaultPort);
    if (authority.host !== host.host || !samePort) {
      throw httpError('HTTP_HOST_MISMATCH', `target authority ${showValue(authorityText(authority))} disagrees with Host`, 'headers.host', value);
    }
  }
  return host;
}

/** The authority of an absolute-form or CONNECT (authority-form) target; undefined for origin-form. */
function targetAuthority(method: string, target: string): { authority: Authority; defaultPort: number | undefined } | undefined {
  if (method === 'CONNECT') {
    const a = readAuthority(target);
    if (typeof a === 'string') throw httpError('HTTP_HOST_INVALID', `CONNECT target ${a}`, 'target', target);
    if (a.port === undefined) throw httpError('HTTP_HOST_INVALID', 'CONNECT target must name a port', 'target', target);
    return { authority: a, defaultPort: undefined };
  }
  if (target.startsWith('/') || target === '*') return undefined;
  const m = ABSOLUTE.exec(target);
  if (m === null) throw httpError('HTTP_MALFORMED', 'target must be origin-form ("/path"), absolute-form ("http://host/path") or "*"', 'target', target);
  const a = readAuthority(m[2]!);
  if (typeof a === 'string') throw httpError('HTTP_HOST_INVALID', `target authority ${a}`, 'target', target);
  return { authority: a, defaultPort: DEFAULT_PORTS[m[1]!.toLowerCase()] };
}

function authorityText(a: Authority): string {
  return a.port === undefined ? a.host : `${a.host}:${a.port}`;
}
