// Compiles one AuthorizationPolicy rule into a predicate over a Request. The action is known at
// compile time because it decides what an unknown attribute means: an ALLOW never matches on
// what it cannot see, a DENY does wherever that is the fail-safe reading (see docs/policy.md).
import { HostSet, validateHost } from '../config/index.js';
import { parsePattern, PatternSet } from './patterns.js';
import type { ShapeReader, Obj } from './policy-shape.js';
import type { Request } from './request.js';

export type Predicate = (req: Request) => boolean;

export interface CompiledRule {
  index: number;
  /** The rule reads methods or paths, which the node proxy (L4) cannot see. */
  usesHttp: boolean;
  /** The rule reads hosts or notHosts: unseen where the connection carries no host (the node proxy's tunnels). */
  usesHosts: boolean;
  matches: Predicate;
}

type Action = 'ALLOW' | 'DENY';
type Value = string | number | null | undefined;

/**
 * `positive`: list membership must hold; otherwise (a `notX` field) it must not.
 * `unknownMatches`: the answer when the attribute is absent or unreadable.
 */
function field(read: (r: Request) => Value, test: (v: never) => boolean, positive: boolean, unknownMatches: boolean): Predicate {
  return (r) => {
    const v = read(r);
    if (v === undefined || v === null) return unknownMatches;
    return test(v as never) === positive;
  };
}

const SOURCE_FIELDS = ['principals', 'notPrincipals', 'namespaces', 'notNamespaces'] as const;
const OPERATION_FIELDS = ['ports', 'notPorts', 'hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'] as const;
const HTTP_FIELDS: readonly string[] = ['methods', 'notMethods', 'paths', 'notPaths'];
const METHOD = /^[A-Z][A-Z0-9_-]*$/;

function patternProblem(x: unknown): string | null {
  if (typeof x !== 'string' || x === '') return 'must be a non-empty string';
  return parsePattern(x) === null ? 'may hold "*" only as the whole value, or once as the first or last character' : null;
}
const principalProblem = (x: unknown): string | null =>
  typeof x === 'string' && x.startsWith('spiffe://') ? 'must not include the "spiffe://" scheme' : patternProblem(x);
const pathProblem = (x: unknown): string | null =>
  patternProblem(x) ?? ((x as string).startsWith('/') || (x as string).startsWith('*') ? null : 'must start with "/" or "*"');
const portProblem = (x: unknown): string | null =>
  typeof x === 'number' && Number.isInteger(x) && x >= 1 && x <= 65535 ? null : 'must be a port number from 1 to 65535';
const methodProblem = (x: unknown): string | null =>
  typeof x === 'string' && METHOD.test(x) ? null : 'must be an upper-case HTTP method like "GET"';

function patterns(values: string[]): PatternSet {
  return new PatternSet(values.map((v) => parsePattern(v)!));
}

function compileSource(s: Obj, path: string, action: Action, rd: ShapeReader): Predicate {
  const deny = action === 'DENY';
  const preds: Predicate[] = [];
  for (const key of SOURCE_FIELDS) {
    if (s[key] === undefined) continue;
    const positive = !key.startsWith('not');
    const set = patterns(rd.values<string>(s[key], `${path}.${key}`, key.endsWith('rincipals') ? principalProblem : patternProblem));
    const read = key.endsWith('rincipals') ? (r: Request) => r.principal : (r: Request) => r.namespace;
    // Unauthenticated peer: principals/namespaces never match; notX matches only for DENY.
    preds.push(field(read, (v: string) => set.matches(v), positive, !positive && deny));
  }
  if (preds.length === 0) rd.fail(path, `must set at least one of ${SOURCE_FIELDS.join(', ')}`, s);
  return (r) => preds.every((p) => p(r));
}

function compileOperation(o: Obj, path: string, action: Action, rd: ShapeReader): Predicate {
  const deny = action === 'DENY';
  const preds: Predicate[] = [];
  for (const key of OPERATION_FIELDS) {
    if (o[key] === undefined) continue;
    const positive = !key.startsWith('not');
    const at = `${path}.${key}`;
    const base = positive ? key : key.charAt(3).toLowerCase() + key.slice(4);
    if (base === 'ports') {
      const set = new Set(rd.values<number>(o[key], at, portProblem));
      preds.push(field((r) => r.port, (v: number) => set.has(v), positive, false));
    } else if (base === 'hosts') {
      const hosts = new HostSet(rd.values<string>(o[key], at, (x) => (typeof x === 'string' ? validateHost(x) : 'must be a string')));
      // No host at all (a tunnel into a pod carries none): like an HTTP field at L4, it counts as
      // matched in a DENY (the rest of the rule decides) and the evaluator skips such an ALLOW
      // rule (usesHosts). A malformed host: `hosts` does not match; `notHosts` matches only for DENY.
      const known = field((r) => r.host, (v: string) => hosts.match(v) !== undefined, positive, !positive && deny);
      preds.push((r) => (r.host === undefined ? deny : known(r)));
    } else if (base === 'methods') {
      const set = new Set(rd.values<string>(o[key], at, methodProblem));
      // Unknown method (L4, or unreadable at L7): a DENY matches, an ALLOW does not.
      preds.push(field((r) => r.method, (v: string) => set.has(v), positive, deny));
    } else {
      const set = patterns(rd.values<string>(o[key], at, pathProblem));
      preds.push(field((r) => r.path, (v: string) => set.matches(v), positive, deny));
    }
  }
  if (preds.length === 0) rd.fail(path, `must set at least one of ${OPERATION_FIELDS.join(', ')}`, o);
  return (r) => preds.every((p) => p(r));
}

export function compileRule(v: unknown, index: number, action: Action, rd: ShapeReader): CompiledRule {
  const path = `spec.rules[${index}]`;
  const rule = rd.object(v, path, ['from', 'to']);
  const sources = rd.list(rule.from, `${path}.from`).map((f, i) => {
    const at = `${path}.from[${i}]`;
    return compileSource(rd.object(rd.object(f, at, ['source']).source, `${at}.source`, SOURCE_FIELDS), `${at}.source`, action, rd);
  });
  let usesHttp = false;
  let usesHosts = false;
  const operations = rd.list(rule.to, `${path}.to`).map((t, i) => {
    const at = `${path}.to[${i}]`;
    const op = rd.object(rd.object(t, at, ['operation']).operation, `${at}.operation`, OPERATION_FIELDS);
    if (HTTP_FIELDS.some((k) => op[k] !== undefined)) usesHttp = true;
    if (op.hosts !== undefined || op.notHosts !== undefined) usesHosts = true;
    return compileOperation(op, `${at}.operation`, action, rd);
  });
  const matches: Predicate = (r) =>
    (sources.length === 0 || sources.some((s) => s(r))) && (operations.length === 0 || operations.some((o) => o(r)));
  return { index, usesHttp, usesHosts, matches };
}
