// Turns the caller's ConnectionAttributes into the canonical Request that compiled rules read:
// validated once, namespace derived from the verified principal, host canonicalized, method and
// path normalized. A value that is present but unreadable becomes null ("unknown"), which the
// matchers treat fail-safe; a caller bug (bad port, namespace without identity) throws.
import { AmbitError, showValue } from '../errors.js';
import { canonicalHost } from '../config/index.js';
import { normalizeRequestPath } from './request-path.js';
import type { ConnectionAttributes, Layer, PolicyTarget } from './types.js';

export interface Request {
  layer: Layer;
  /** Undefined: the peer proved no identity. */
  principal: string | undefined;
  namespace: string | undefined;
  port: number;
  /** Canonical host; undefined when not known, null when given but malformed. */
  host: string | null | undefined;
  /** Undefined at L4; null when unreadable (not an upper-case token / not a normalizable path). */
  method: string | null | undefined;
  path: string | null | undefined;
}

const METHOD = /^[A-Z][A-Z0-9_-]*$/;
const SPIFFE_SCHEME = 'spiffe://';

function invalid(path: string, why: string, value: unknown): never {
  throw new AmbitError('INVALID_CONNECTION_ATTRIBUTES', `Cannot authorize connection: ${path} ${why}, got ${showValue(value)}`, {
    path,
    value,
  });
}

/** The namespace inside `td/ns/<ns>/sa/<sa>`, or undefined when the principal has another shape. */
export function principalNamespace(principal: string): string | undefined {
  const parts = principal.split('/');
  return parts.length === 5 && parts[1] === 'ns' && parts[3] === 'sa' && parts[2] !== '' ? parts[2] : undefined;
}

export function checkTarget(target: PolicyTarget): void {
  if (typeof target !== 'object' || target === null) invalid('target', 'must be an object', target);
  if (typeof target.namespace !== 'string' || target.namespace === '') invalid('target.namespace', 'must be a non-empty string', target.namespace);
  if (typeof target.labels !== 'object' || target.labels === null || Array.isArray(target.labels)) {
    invalid('target.labels', 'must be a mapping of label names to values', target.labels);
  }
}

export function toRequest(conn: ConnectionAttributes, layer: Layer): Request {
  if (layer !== 'L4' && layer !== 'L7') invalid('opts.layer', 'must be "L4" or "L7"', layer);
  if (typeof conn !== 'object' || conn === null) invalid('conn', 'must be an object', conn);
  const { port, principal } = conn;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    invalid('conn.port', 'must be a port number from 1 to 65535', port);
  }
  let namespace: string | undefined;
  if (principal !== undefined) {
    if (typeof principal !== 'string' || principal === '') invalid('conn.principal', 'must be a non-empty string', principal);
    if (principal.startsWith(SPIFFE_SCHEME)) invalid('conn.principal', 'must not include the "spiffe://" scheme', principal);
    namespace = principalNamespace(principal);
    if (namespace === undefined) invalid('conn.principal', 'must be "<trust-domain>/ns/<namespace>/sa/<service-account>"', principal);
    if (conn.namespace !== undefined && conn.namespace !== namespace) {
      invalid('conn.namespace', `must be the namespace of the verified principal (${showValue(namespace)})`, conn.namespace);
    }
  } else if (conn.namespace !== undefined) {
    invalid('conn.namespace', 'must come from a verified identity, but conn.principal is absent', conn.namespace);
  }
  let method: string | null | undefined;
  let path: string | null | undefined;
  if (layer === 'L7') {
    if (typeof conn.method !== 'string') invalid('conn.method', 'is required at layer L7', conn.method);
    if (typeof conn.path !== 'string') invalid('conn.path', 'is required at layer L7', conn.path);
    method = METHOD.test(conn.method) ? conn.method : null;
    path = normalizeRequestPath(conn.path);
  }
  let host: string | null | undefined;
  if (conn.host !== undefined) host = typeof conn.host === 'string' ? canonicalHost(conn.host) : null;
  return { layer, principal, namespace, port, host, method, path };
}
