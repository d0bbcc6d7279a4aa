// The value grammars inside AuthorizationPolicy rules: principals, namespace patterns, ports,
// hosts, methods and paths. A value that can never match what the author meant (a `spiffe://`
// principal, a `*` in the middle) is rejected here instead of silently matching nothing.
import { fail, str, type Reader } from './fields.js';
import { validateHost } from './hosts.js';
import { isDnsLabel, isDnsSubdomain } from './names.js';

const SPIFFE_SCHEME = 'spiffe://';
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;

/** Checks the `*` rule shared by principals and namespaces: whole value, or once at either end. */
function wildcardShapeProblem(s: string): string | null {
  const stars = s.split('*').length - 1;
  if (stars === 0 || s === '*') return null;
  if (stars === 1 && (s.startsWith('*') || s.endsWith('*'))) return null;
  return 'may hold "*" only as the whole value, or once as the first or last character';
}

/** `<trust-domain>/ns/<namespace>/sa/<service-account>`, Istio's form of a SPIFFE ID without the scheme. */
export const principal: Reader<string> = (v, path) => {
  const s = str(v, path);
  if (s === '') fail(path, 'must not be empty');
  if (s.toLowerCase().startsWith(SPIFFE_SCHEME)) {
    fail(path, `must not include the "spiffe://" scheme; write ${JSON.stringify(s.slice(SPIFFE_SCHEME.length))}`, s);
  }
  if (/\s/.test(s)) fail(path, 'must not contain spaces', s);
  const shape = wildcardShapeProblem(s);
  if (shape !== null) fail(path, shape, s);
  if (s.includes('*')) {
    if (!/^[*]?[a-z0-9._/-]*[*]?$/.test(s)) fail(path, 'may contain only lower-case letters, digits, ".", "_", "-", "/" and "*"', s);
    return s;
  }
  const parts = s.split('/');
  const ok =
    parts.length === 5 &&
    TRUST_DOMAIN.test(parts[0]!) &&
    parts[1] === 'ns' &&
    isDnsLabel(parts[2]!) &&
    parts[3] === 'sa' &&
    isDnsSubdomain(parts[4]!);
  if (!ok) fail(path, 'must be "<trust-domain>/ns/<namespace>/sa/<service-account>", like "cluster.local/ns/default/sa/web"', s);
  return s;
};

/** A namespace name, `*`, or a prefix/suffix pattern such as `team-*` or `*-prod`. */
export const namespacePattern: Reader<string> = (v, path) => {
  const s = str(v, path);
  const rule = 'must be a namespace name, "*", or a prefix or suffix pattern like "team-*"';
  if (s === '*') return s;
  const shape = wildcardShapeProblem(s);
  if (shape !== null) fail(path, shape, s);
  const bare = s.replace('*', '');
  if (s.includes('*') ? !/^[a-z0-9-]{1,62}$/.test(bare) : !isDnsLabel(s)) fail(path, rule, s);
  return s;
};

/** Istio accepts ports as numbers or numeric strings; both normalise to a number. */
export const policyPort: Reader<number> = (v, path) => {
  const n = typeof v === 'string' && /^[0-9]{1,5}$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) {
    fail(path, 'must be a port number from 1 to 65535', v);
  }
  return n;
};

/** An exact host or `*.suffix` wildcard (ServiceEntry hosts, policy hosts). */
export const hostPattern: Reader<string> = (v, path) => {
  const s = str(v, path);
  if (s === '') fail(path, 'must not be empty');
  const problem = validateHost(s);
  if (problem !== null) fail(path, problem, s);
  return s;
};

export const method: Reader<string> = (v, path) => {
  const s = str(v, path);
  if (!/^[A-Z][A-Z0-9_-]*$/.test(s)) fail(path, 'must be an upper-case HTTP method like "GET"', s);
  return s;
};

/** An exact path (`/api`), a prefix pattern (`/api/*`), a suffix pattern (`*.png`), or `*`. */
export const httpPath: Reader<string> = (v, path) => {
  const s = str(v, path);
  if (s === '') fail(path, 'must not be empty');
  if (/[\s]/.test(s)) fail(path, 'must not contain spaces', s);
  const shape = wildcardShapeProblem(s);
  if (shape !== null) fail(path, shape, s);
  if (!s.startsWith('/') && !s.startsWith('*')) fail(path, 'must start with "/" or be a "*" suffix pattern like "*.png"', s);
  return s;
};
