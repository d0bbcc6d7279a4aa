// What makes a header list well formed (RFC 9113 section 8.2 and 8.3): checked by the session on
// every block it receives, before anyone acts on it. A malformed request or response is a stream
// error (PROTOCOL_ERROR); what the fields *mean* (CONNECT or not, which authority) is the HBONE
// server's to decide.
import type { HeaderField } from './hpack.js';

const REQUEST_PSEUDO = new Set([':method', ':scheme', ':authority', ':path', ':protocol']);
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);
// RFC 9110 5.1 token characters, lower case only (RFC 9113 8.2.1: upper case is malformed).
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
// RFC 9113 8.2.1: no NUL, CR or LF, and no leading or trailing space or tab.
const BAD_VALUE = /[\0\r\n]|^[ \t]|[ \t]$/;

/** Header fields by name; a repeated regular field keeps every value, joined as HTTP does (", "). */
export type HeaderMap = Record<string, string>;

/** Returns the headers as a map, or a reason the list is malformed. */
export function checkHeaders(fields: readonly HeaderField[], kind: 'request' | 'response'): HeaderMap | string {
  const map: HeaderMap = Object.create(null) as HeaderMap;
  let regularSeen = false;
  for (const [name, value] of fields) {
    if (BAD_VALUE.test(value)) return `header ${JSON.stringify(name)} has a value with a forbidden character or edge space`;
    if (name.startsWith(':')) {
      if (regularSeen) return `pseudo-header ${name} after a regular header`;
      const known = kind === 'request' ? REQUEST_PSEUDO.has(name) : name === ':status';
      if (!known) return `pseudo-header ${JSON.stringify(name)} not allowed in a ${kind}`;
      if (name in map) return `pseudo-header ${name} given twice`;
      map[name] = value;
      continue;
    }
    regularSeen = true;
    if (!FIELD_NAME.test(name)) return `header name ${JSON.stringify(name)} is not a lower-case token`;
    if (CONNECTION_SPECIFIC.has(name)) return `connection-specific header ${name} is not allowed in HTTP/2`;
    if (name === 'te' && value !== 'trailers') return 'header te other than "trailers"';
    map[name] = name in map ? `${map[name]}, ${value}` : value;
  }
  if (kind === 'response') {
    if (!/^[1-9][0-9]{2}$/.test(map[':status'] ?? '')) return 'response without a valid :status';
    return map;
  }
  const method = map[':method'];
  if (method === undefined || method === '') return 'request without :method';
  if (method === 'CONNECT' && map[':protocol'] === undefined) {
    // RFC 9113 8.5: CONNECT names only the authority.
    if (!map[':authority']) return 'CONNECT without :authority';
    if (':scheme' in map || ':path' in map) return 'CONNECT with :scheme or :path';
    return map;
  }
  if (':protocol' in map && method !== 'CONNECT') return ':protocol on a request other than CONNECT';
  if (!map[':scheme'] || !map[':path']) return 'request without :scheme or :path';
  return map;
}
