// Bad input, with exact codes and messages: malformed wire policies (the stream only promises
// that spec is an object), and caller mistakes in the target, connection or options.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AmbitError } from '../../../src/errors.js';
import { authorize, compilePolicies } from '../../../src/policy/index.js';
import { ROOT, fromFront, sa, web } from './fixtures.js';

function policyError(spec: unknown, message: string, path?: string): () => void {
  return () => {
    const p = { name: 'p', namespace: 'shop', spec } as never;
    assert.throws(
      () => compilePolicies([p], { rootNamespace: ROOT }),
      (err: unknown) => {
        assert.ok(err instanceof AmbitError);
        assert.equal(err.code, 'INVALID_POLICY');
        assert.equal(err.message, `Cannot compile authorization policy shop/p: ${message}`);
        if (path !== undefined) assert.equal(err.path, path);
        return true;
      },
    );
  };
}

const rule = (r: unknown) => ({ action: 'ALLOW', rules: [r] });
const src = (s: unknown) => rule({ from: [{ source: s }] });
const op = (o: unknown) => rule({ to: [{ operation: o }] });

describe('malformed policies are refused, naming the field', () => {
  const cases: [string, unknown, string, string?][] = [
    ['CUSTOM action', { action: 'CUSTOM', rules: [] }, 'spec.action is not supported: external authorization (CUSTOM) is not implemented; use ALLOW or DENY, got "CUSTOM"', 'spec.action'],
    ['AUDIT action', { action: 'AUDIT' }, 'spec.action is not supported: AUDIT is not implemented; use ALLOW or DENY (every decision is logged anyway), got "AUDIT"'],
    ['lower-case action', { action: 'allow' }, 'spec.action must be "ALLOW" or "DENY", got "allow"'],
    ['spec not a mapping', [], 'spec must be a mapping, got []', 'spec'],
    ['unknown spec field', { provider: { name: 'x' } }, 'spec.provider is not a field ambit evaluates (known: selector, action, rules), got {"name":"x"}', 'spec.provider'],
    ['rules not a list', { rules: {} }, 'spec.rules must be a list, got {}'],
    ['rule not a mapping', { rules: ['x'] }, 'spec.rules[0] must be a mapping, got "x"'],
    ['unknown rule field', rule({ when: [] }), 'spec.rules[0].when is not a field ambit evaluates (known: from, to), got []'],
    ['from entry without source', rule({ from: [{}] }), 'spec.rules[0].from[0].source must be a mapping, got undefined'],
    ['ipBlocks', src({ ipBlocks: ['10.0.0.0/8'] }), 'spec.rules[0].from[0].source.ipBlocks is not a field ambit evaluates (known: principals, notPrincipals, namespaces, notNamespaces), got ["10.0.0.0/8"]'],
    ['empty source', src({}), 'spec.rules[0].from[0].source must set at least one of principals, notPrincipals, namespaces, notNamespaces, got {}'],
    ['empty principals', src({ principals: [] }), 'spec.rules[0].from[0].source.principals must be a non-empty list, got []', 'spec.rules[0].from[0].source.principals'],
    ['principal with scheme', src({ principals: ['spiffe://cluster.local/ns/a/sa/b'] }), 'spec.rules[0].from[0].source.principals[0] must not include the "spiffe://" scheme, got "spiffe://cluster.local/ns/a/sa/b"'],
    ['star in the middle', src({ notPrincipals: ['cluster.local/*/sa/b'] }), 'spec.rules[0].from[0].source.notPrincipals[0] may hold "*" only as the whole value, or once as the first or last character, got "cluster.local/*/sa/b"'],
    ['two stars', src({ namespaces: ['*a*'] }), 'spec.rules[0].from[0].source.namespaces[0] may hold "*" only as the whole value, or once as the first or last character, got "*a*"'],
    ['namespace not a string', src({ namespaces: [7] }), 'spec.rules[0].from[0].source.namespaces[0] must be a non-empty string, got 7'],
    ['empty operation', op({}), 'spec.rules[0].to[0].operation must set at least one of ports, notPorts, hosts, notHosts, methods, notMethods, paths, notPaths, got {}'],
    ['port 0', op({ ports: [0] }), 'spec.rules[0].to[0].operation.ports[0] must be a port number from 1 to 65535, got 0'],
    ['port as string', op({ notPorts: ['80'] }), 'spec.rules[0].to[0].operation.notPorts[0] must be a port number from 1 to 65535, got "80"'],
    ['host "*"', op({ hosts: ['*'] }), 'spec.rules[0].to[0].operation.hosts[0] must not be "*" alone: that matches every host; name a domain, as in "*.example.com", got "*"'],
    ['upper-case host', op({ notHosts: ['API.example.com'] }), 'spec.rules[0].to[0].operation.notHosts[0] host names must be lower case (write "api.example.com"), got "API.example.com"'],
    ['lower-case method', op({ methods: ['get'] }), 'spec.rules[0].to[0].operation.methods[0] must be an upper-case HTTP method like "GET", got "get"'],
    ['relative path', op({ paths: ['api'] }), 'spec.rules[0].to[0].operation.paths[0] must start with "/" or "*", got "api"'],
    ['unknown operation field', op({ headers: {} }), 'spec.rules[0].to[0].operation.headers is not a field ambit evaluates (known: ports, notPorts, hosts, notHosts, methods, notMethods, paths, notPaths), got {}'],
    ['selector without matchLabels', { selector: {} }, 'spec.selector.matchLabels must be a mapping, got undefined'],
    ['selector with matchExpressions', { selector: { matchExpressions: [] } }, 'spec.selector.matchExpressions is not a field ambit evaluates (known: matchLabels), got []'],
    ['empty matchLabels', { selector: { matchLabels: {} } }, 'spec.selector.matchLabels must select at least one label; omit the selector to select every workload, got {}'],
    ['label value not a string', { selector: { matchLabels: { app: 1 } } }, 'spec.selector.matchLabels["app"] must be a string, got 1'],
  ];
  for (const [name, spec, message, path] of cases) test(name, policyError(spec, message, path));

  test('a policy without a name', () => {
    assert.throws(() => compilePolicies([{ namespace: 'shop', spec: {} } as never], { rootNamespace: ROOT }), {
      code: 'INVALID_POLICY',
      message: 'Cannot compile authorization policy: name must be a non-empty string, got undefined',
    });
  });
  test('one bad policy fails the whole set (no half-applied policy set)', () => {
    const good = { name: 'good', namespace: 'shop', spec: { action: 'ALLOW', rules: [] } };
    const bad = { name: 'bad', namespace: 'shop', spec: { action: 'NOPE' } };
    assert.throws(() => authorize([good, bad] as never, web, fromFront, { rootNamespace: ROOT, layer: 'L4' }), { code: 'INVALID_POLICY' });
  });
});

describe('caller mistakes are refused', () => {
  const decideWith = (conn: unknown, layer: unknown = 'L4', target: unknown = web) => () =>
    authorize([], target as never, conn as never, { rootNamespace: ROOT, layer: layer as never });
  const cases: [string, () => unknown, string, string][] = [
    ['port 0', decideWith({ port: 0 }), 'INVALID_CONNECTION_ATTRIBUTES', 'Cannot authorize connection: conn.port must be a port number from 1 to 65535, got 0'],
    ['port 65536', decideWith({ port: 65536 }), 'INVALID_CONNECTION_ATTRIBUTES', 'Cannot authorize connection: conn.port must be a port number from 1 to 65535, got 65536'],
    ['principal with scheme', decideWith({ port: 1, principal: 'spiffe://cluster.local/ns/a/sa/b' }), 'INVALID_CONNECTION_ATTRIBUTES', 'Cannot authorize connection: conn.principal must not include the "spiffe://" scheme, got "spiffe://cluster.local/ns/a/sa/b"'],
    ['principal of another shape', decideWith({ port: 1, principal: 'web' }), 'INVALID_CONNECTION_ATTRIBUTES', 'Cannot authorize connection: conn.principal must be "<trust-domain>/ns/<namespace>/sa/<service-account>", got "web"'],
    ['empty principal', decideWith({ port: 1, principal: '' }), 'INVALID_CONNECTION_ATTRIBUTES', 'Cannot authorize connection: conn.principal must be a non-empty string, got ""'],
    ['namespace that contradicts the principal', decideWith({ port: 1, principal: sa('a', 'b'), namespace: 'c' }), 'INVALID_CONNECTION_ATTRIBUTES', 'Cannot authorize connection: conn.namespace must be the namespace of the verified principal ("a"), got "c"'],
    ['namespace without identity', decideWith({ port: 1, namespace: 'front' }), 'INVALID_CONNECTION_ATTRIBUTES', 'Cannot authorize connection: conn.namespace must come from a verified identity, but conn.principal is absent, got "front"'],
    ['L7 without method', decideWith({ port: 1, path: '/' }, 'L7'), 'INVALID_CONNECTION_ATTRIBUTES', 'Cannot authorize connection: conn.method is required at layer L7, got undefined'],
    ['L7 without path', decideWith({ port: 1, method: 'GET' }, 'L7'), 'INVALID_CONNECTION_ATTRIBUTES', 'Cannot authorize connection: conn.path is required at layer L7, got undefined'],
    ['unknown layer', decideWith({ port: 1 }, 'L5'), 'INVALID_CONNECTION_ATTRIBUTES', 'Cannot authorize connection: opts.layer must be "L4" or "L7", got "L5"'],
    ['target without namespace', decideWith({ port: 1 }, 'L4', { labels: {} }), 'INVALID_CONNECTION_ATTRIBUTES', 'Cannot authorize connection: target.namespace must be a non-empty string, got undefined'],
    ['target labels not a mapping', decideWith({ port: 1 }, 'L4', { namespace: 'shop', labels: null }), 'INVALID_CONNECTION_ATTRIBUTES', 'Cannot authorize connection: target.labels must be a mapping of label names to values, got null'],
    ['empty root namespace', () => compilePolicies([], { rootNamespace: '' }), 'INVALID_POLICY_OPTIONS', 'Cannot compile authorization policies: opts.rootNamespace must be a non-empty string, got ""'],
  ];
  for (const [name, fn, code, message] of cases) {
    test(name, () => assert.throws(fn, (err: unknown) => err instanceof AmbitError && err.code === code && err.message === message));
  }
});
