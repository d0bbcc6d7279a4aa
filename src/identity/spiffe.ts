// SPIFFE IDs: the one place that decides what a workload identity string is. Parsing is strict
// (SPIFFE ID spec, "SPIFFE-ID.md" section 2) because these strings end up in certificates and in
// authorization decisions, where two spellings of one identity would be a hole.
import { AmbitError, showValue } from '../errors.js';

export interface SpiffeId {
  readonly trustDomain: string;
  /** "" for a trust-domain ID, else "/seg/seg...". */
  readonly path: string;
  /** The canonical `spiffe://` form. */
  readonly uri: string;
  /** Set when the path is `/ns/<namespace>/sa/<serviceAccount>` (a workload identity). */
  readonly namespace?: string;
  readonly serviceAccount?: string;
}

export const SPIFFE_SCHEME = 'spiffe://';
const MAX_ID_BYTES = 2048;
const MAX_TRUST_DOMAIN = 255;
const TRUST_DOMAIN_CHAR = /^[a-z0-9._-]$/;
const PATH_CHAR = /^[a-zA-Z0-9._-]$/;

function invalid(s: unknown, reason: string): never {
  throw new AmbitError('SPIFFE_ID_INVALID', `Cannot parse SPIFFE ID ${showValue(s)}: ${reason}`, { value: s });
}

function checkTrustDomain(s: string, td: string): void {
  if (td.length === 0) invalid(s, 'trust domain is empty');
  if (td.includes('@')) invalid(s, 'user info ("@") is not allowed');
  if (td.includes(':')) invalid(s, 'a port is not allowed in the trust domain');
  if (td.length > MAX_TRUST_DOMAIN) invalid(s, `trust domain is longer than ${MAX_TRUST_DOMAIN} characters`);
  for (const ch of td) {
    if (TRUST_DOMAIN_CHAR.test(ch)) continue;
    if (/^[A-Z]$/.test(ch)) invalid(s, 'trust domain must be lower-case');
    invalid(s, `trust domain character ${showValue(ch)} is not allowed (only a-z 0-9 . - _)`);
  }
}

function checkPath(s: string, path: string): string[] {
  if (path === '') return [];
  const segments = path.slice(1).split('/');
  segments.forEach((seg, i) => {
    if (seg === '') invalid(s, i === segments.length - 1 ? 'path must not end with "/"' : 'path has an empty segment ("//")');
    if (seg === '.' || seg === '..') invalid(s, `path segment ${showValue(seg)} is not allowed`);
    for (const ch of seg) {
      if (!PATH_CHAR.test(ch)) invalid(s, `path character ${showValue(ch)} is not allowed (only a-z A-Z 0-9 . - _)`);
    }
  });
  return segments;
}

export function parseSpiffeId(s: string): SpiffeId {
  if (typeof s !== 'string') invalid(s, 'not a string');
  if (s.length === 0) invalid(s, 'is empty');
  if (Buffer.byteLength(s, 'utf8') > MAX_ID_BYTES) invalid(s, `is longer than ${MAX_ID_BYTES} bytes`);
  if (!s.startsWith(SPIFFE_SCHEME)) {
    if (s.toLowerCase().startsWith(SPIFFE_SCHEME)) invalid(s, 'scheme must be lower-case "spiffe://"');
    invalid(s, 'scheme must be "spiffe://"');
  }
  const rest = s.slice(SPIFFE_SCHEME.length);
  if (rest.includes('?')) invalid(s, 'a query ("?") is not allowed');
  if (rest.includes('#')) invalid(s, 'a fragment ("#") is not allowed');
  if (rest.includes('%')) invalid(s, 'percent-encoding ("%") is not allowed');
  const slash = rest.indexOf('/');
  const trustDomain = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash);
  checkTrustDomain(s, trustDomain);
  const segments = checkPath(s, path);
  const isWorkload = segments.length === 4 && segments[0] === 'ns' && segments[2] === 'sa';
  return isWorkload
    ? { trustDomain, path, uri: s, namespace: segments[1]!, serviceAccount: segments[3]! }
    : { trustDomain, path, uri: s };
}

/** The identity of a workload running as service account `sa` in namespace `ns`. */
export function workloadId(trustDomain: string, ns: string, sa: string): SpiffeId {
  const id = parseSpiffeId(`${SPIFFE_SCHEME}${trustDomain}/ns/${ns}/sa/${sa}`);
  if (id.namespace !== ns || id.serviceAccount !== sa) {
    invalid(id.uri, `namespace ${showValue(ns)} and service account ${showValue(sa)} must each be a single path segment`);
  }
  return id;
}

/** The ID of a trust domain itself (`spiffe://<td>`), as the mesh root carries it. */
export function trustDomainId(trustDomain: string): SpiffeId {
  return parseSpiffeId(`${SPIFFE_SCHEME}${trustDomain}`);
}

/** Istio's principal form: `<td>/ns/<ns>/sa/<sa>` (the URI without its scheme). */
export function toPrincipal(id: SpiffeId): string {
  return `${id.trustDomain}${id.path}`;
}

/**
 * The principal form of an identity already verified (from a certificate or the registry), on the
 * hot path: no re-parse, just the scheme dropped. Anything else is returned unchanged.
 */
export function principalOfUri(uri: string): string {
  return uri.startsWith(SPIFFE_SCHEME) ? uri.slice(SPIFFE_SCHEME.length) : uri;
}

export function sameSpiffeId(a: SpiffeId, b: SpiffeId): boolean {
  return a.uri === b.uri;
}
