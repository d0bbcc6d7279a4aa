// What the admin socket accepts, route by route: each request's body and query string is checked
// here, before the control plane sees it. Pure (no I/O); admin-server.ts calls it.
//
// Every field is required unless marked, typed, and no other field or query parameter is
// accepted: a request the control plane half understands (a `paused: "yes"` read as false, a
// missing pod name read as "undefined", a delete of kind "pods") must fail with the field named,
// not do something else. Meaning (a valid node name, a TTL in range, a resource's own fields) is
// checked where it always was; this is the shape.
import { AmbitError } from '../errors.js';
import { FieldError, checkFields, fail, idx, list, mapping, nonEmptyStr, oneOf, opt, req, str, type Obj, type Reader } from '../config/fields.js';
import { KINDS, type Kind, type PodStatus } from '../config/types.js';

export interface ResourceRef {
  kind: Kind;
  namespace?: string;
  name: string;
}

export type AdminRequest =
  | { route: 'apply'; resources: unknown[] }
  | { route: 'delete'; refs: ResourceRef[] }
  | { route: 'resources'; kind: Kind; namespace?: string; name?: string }
  | { route: 'pod-status'; namespace: string; name: string; status: PodStatus }
  | { route: 'node-tokens'; node: string; ttlSeconds: number }
  | { route: 'workload-tokens'; node: string; identity: string; ttlSeconds: number }
  | { route: 'trust-bundle' }
  | { route: 'status' }
  | { route: 'pause-delivery'; node: string; paused: boolean }
  | { route: 'node-revocations'; node: string; credential?: string }
  | { route: 'credentials'; node?: string }
  | { route: 'watch'; from: number };

const bool: Reader<boolean> = (v, path) => (typeof v === 'boolean' ? v : fail(path, 'must be true or false', v));
const num: Reader<number> = (v, path) => (typeof v === 'number' && Number.isFinite(v) ? v : fail(path, 'must be a number', v));

function body<T>(b: unknown, known: readonly string[], read: (o: Obj) => T): T {
  const o = mapping(b, 'body');
  checkFields(o, '', known);
  return read(o);
}

function ref(v: unknown, path: string): ResourceRef {
  const o = mapping(v, path);
  checkFields(o, path, ['kind', 'namespace', 'name']);
  const namespace = opt(o, 'namespace', path, nonEmptyStr);
  return { kind: req(o, 'kind', path, oneOf(KINDS)), ...(namespace !== undefined ? { namespace } : {}), name: req(o, 'name', path, nonEmptyStr) };
}

function podStatus(v: unknown, path: string): PodStatus {
  const o = mapping(v, path);
  checkFields(o, path, ['podIP', 'phase']);
  const podIP = opt(o, 'podIP', path, str);
  const phase = opt(o, 'phase', path, oneOf(['Pending', 'Running', 'Failed'] as const));
  return { ...(podIP !== undefined ? { podIP } : {}), ...(phase !== undefined ? { phase } : {}) };
}

/** The query parameters of `url` as one value each, only those in `known`; a repeated one is refused too. */
function query(url: URL, known: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of url.searchParams) {
    if (!known.includes(k)) fail(`query.${k}`, known.length ? `unknown parameter (known: ${known.join(', ')})` : 'unknown parameter (this route takes none)');
    if (Object.hasOwn(out, k)) fail(`query.${k}`, 'given more than once');
    out[k] = v;
  }
  return out;
}

const BODY_ROUTES: Record<string, (b: unknown) => AdminRequest> = {
  'POST /v1/apply': (b) => body(b, ['resources'], (o) => ({ route: 'apply', resources: req(o, 'resources', '', list) })),
  'POST /v1/delete': (b) => body(b, ['refs'], (o) => ({ route: 'delete', refs: req(o, 'refs', '', list).map((r, i) => ref(r, idx('refs', i))) })),
  'POST /v1/pod-status': (b) => body(b, ['namespace', 'name', 'status'], (o) => ({
    route: 'pod-status', namespace: req(o, 'namespace', '', nonEmptyStr), name: req(o, 'name', '', nonEmptyStr), status: req(o, 'status', '', podStatus),
  })),
  'POST /v1/node-tokens': (b) => body(b, ['node', 'ttlSeconds'], (o) => ({ route: 'node-tokens', node: req(o, 'node', '', str), ttlSeconds: req(o, 'ttlSeconds', '', num) })),
  'POST /v1/workload-tokens': (b) => body(b, ['node', 'identity', 'ttlSeconds'], (o) => ({
    route: 'workload-tokens', node: req(o, 'node', '', str), identity: req(o, 'identity', '', str), ttlSeconds: req(o, 'ttlSeconds', '', num),
  })),
  'POST /v1/node-revocations': (b) => body(b, ['node', 'credential'], (o) => {
    // Any string: what is a credential ID is the revocation's to say (NODE_REVOCATION_INVALID).
    const credential = opt(o, 'credential', '', str);
    return { route: 'node-revocations', node: req(o, 'node', '', str), ...(credential !== undefined ? { credential } : {}) };
  }),
  'POST /v1/faults/pause-delivery': (b) => body(b, ['node', 'paused'], (o) => ({ route: 'pause-delivery', node: req(o, 'node', '', str), paused: req(o, 'paused', '', bool) })),
};

const QUERY_ROUTES: Record<string, (url: URL) => AdminRequest> = {
  'GET /v1/resources': (url) => {
    const q = query(url, ['kind', 'namespace', 'name']);
    if (!Object.hasOwn(q, 'kind')) fail('query.kind', 'required');
    const kind = oneOf(KINDS)(q.kind, 'query.kind');
    for (const k of ['namespace', 'name'] as const) if (q[k] === '') fail(`query.${k}`, 'must not be empty');
    return { route: 'resources', kind, ...(q.namespace !== undefined ? { namespace: q.namespace } : {}), ...(q.name !== undefined ? { name: q.name } : {}) };
  },
  'GET /v1/credentials': (url) => {
    const q = query(url, ['node']);
    if (q.node === '') fail('query.node', 'must not be empty');
    return { route: 'credentials', ...(q.node !== undefined ? { node: q.node } : {}) };
  },
  'GET /v1/trust-bundle': (url) => (query(url, []), { route: 'trust-bundle' }),
  'GET /v1/status': (url) => (query(url, []), { route: 'status' }),
  'GET /v1/watch': (url) => {
    const q = query(url, ['from']);
    const from = q.from === undefined ? 0 : /^(0|[1-9][0-9]{0,15})$/.test(q.from) ? Number(q.from) : fail('query.from', 'must be a store revision (a whole number, 0 or more)', q.from);
    return { route: 'watch', from };
  },
};

/** The routes the socket serves, `METHOD /path`, for the not-found message. */
export const ADMIN_ROUTES: readonly string[] = [...Object.keys(BODY_ROUTES), ...Object.keys(QUERY_ROUTES)];

/** Whether `route` (`METHOD /path`) takes a JSON body. */
export function takesBody(route: string): boolean {
  return Object.hasOwn(BODY_ROUTES, route);
}

/**
 * Checks one request: `route` is `METHOD /path`, `decoded` its JSON body (routes that take one).
 * Throws AmbitError REQUEST_INVALID naming the field (`refs[0].kind`, `query.from`), or NOT_FOUND.
 */
export function parseAdminRequest(route: string, url: URL, decoded?: unknown): AdminRequest {
  try {
    if (Object.hasOwn(BODY_ROUTES, route)) {
      query(url, []);
      return BODY_ROUTES[route]!(decoded);
    }
    if (Object.hasOwn(QUERY_ROUTES, route)) return QUERY_ROUTES[route]!(url);
  } catch (err) {
    if (!(err instanceof FieldError)) throw err;
    throw new AmbitError('REQUEST_INVALID', `Cannot serve ${route}: ${err.message}`, err.hasValue ? { path: err.path, value: err.value } : { path: err.path });
  }
  throw new AmbitError('NOT_FOUND', `Cannot serve ${route}: no such admin API route (routes: ${ADMIN_ROUTES.join(', ')})`);
}
