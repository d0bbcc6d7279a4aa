// Table: ports, hosts, methods and paths with their not-forms, under both actions, plus the
// fail-safe reading of HTTP fields at L4 (ztunnel's behaviour): an ALLOW rule that needs them
// never matches at L4, a DENY rule with them applies to the whole connection.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PolicyOperation } from '../../../src/config/index.js';
import type { ConnectionAttributes, Layer } from '../../../src/policy/index.js';
import { allow, decide, deny, fromFront, sa } from './fixtures.js';

type Row = [name: string, operation: PolicyOperation, conn: ConnectionAttributes, layer: Layer, allowMatches: boolean, denyMatches: boolean];

const FW = sa('front', 'web');
const api: ConnectionAttributes = { principal: FW, port: 443, host: 'api.example.com' };
const noHost: ConnectionAttributes = { principal: FW, port: 443 };
const req = (method: string, path: string): ConnectionAttributes => ({ principal: FW, port: 8080, method, path });

const rows: Row[] = [
  // ports
  ['port listed', { ports: [8080] }, fromFront, 'L4', true, true],
  ['port in a list (OR)', { ports: [80, 8080] }, fromFront, 'L4', true, true],
  ['port not listed', { ports: [80] }, fromFront, 'L4', false, false],
  ['notPorts, port listed', { notPorts: [8080] }, fromFront, 'L4', false, false],
  ['notPorts, port not listed', { notPorts: [80] }, fromFront, 'L4', true, true],
  ['ports AND notPorts', { ports: [8080, 9090], notPorts: [9090] }, fromFront, 'L4', true, true],
  // hosts (SNI / Host at the egress gateway)
  ['exact host', { hosts: ['api.example.com'] }, api, 'L4', true, true],
  ['wildcard host', { hosts: ['*.example.com'] }, api, 'L4', true, true],
  ['wildcard does not cover the apex', { hosts: ['*.example.com'] }, { ...api, host: 'example.com' }, 'L4', false, false],
  ['other host', { hosts: ['www.example.com'] }, api, 'L4', false, false],
  ['host is case-insensitive, trailing dot ignored', { hosts: ['api.example.com'] }, { ...api, host: 'API.Example.COM.' }, 'L4', true, true],
  ['suffix lookalike is not covered', { hosts: ['*.example.com'] }, { ...api, host: 'api.example.com.evil.org' }, 'L4', false, false],
  ['hosts but no host given: ALLOW never, DENY always (Istio: hosts are L7)', { hosts: ['api.example.com'] }, noHost, 'L4', false, true],
  ['hosts AND other port, no host: the L4 part still decides a DENY', { hosts: ['api.example.com'], ports: [80] }, noHost, 'L4', false, false],
  ['hosts but host malformed', { hosts: ['*.example.com'] }, { ...api, host: 'a..example.com' }, 'L4', false, false],
  ['notHosts, host listed', { notHosts: ['*.example.com'] }, api, 'L4', false, false],
  ['notHosts, host not listed', { notHosts: ['evil.org'] }, api, 'L4', true, true],
  ['notHosts, no host given: ALLOW never, DENY always', { notHosts: ['evil.org'] }, noHost, 'L4', false, true],
  ['notHosts, host malformed: ALLOW no, DENY yes', { notHosts: ['evil.org'] }, { ...api, host: 'evil..org' }, 'L4', false, true],
  ['hosts AND ports', { hosts: ['api.example.com'], ports: [80] }, api, 'L4', false, false],
  // methods at L7
  ['method listed', { methods: ['GET', 'HEAD'] }, req('GET', '/'), 'L7', true, true],
  ['method not listed', { methods: ['GET'] }, req('POST', '/'), 'L7', false, false],
  ['notMethods, method listed', { notMethods: ['DELETE'] }, req('DELETE', '/'), 'L7', false, false],
  ['notMethods, method not listed', { notMethods: ['DELETE'] }, req('GET', '/'), 'L7', true, true],
  ['lower-case method is unreadable: ALLOW no, DENY yes', { methods: ['GET'] }, req('get', '/'), 'L7', false, true],
  ['lower-case method vs notMethods: ALLOW no, DENY yes', { notMethods: ['DELETE'] }, req('delete', '/'), 'L7', false, true],
  // paths at L7
  ['exact path', { paths: ['/api'] }, req('GET', '/api'), 'L7', true, true],
  ['exact path does not cover a sub-path', { paths: ['/api'] }, req('GET', '/api/v1'), 'L7', false, false],
  ['prefix path', { paths: ['/api/*'] }, req('GET', '/api/v1/users'), 'L7', true, true],
  ['prefix path needs the prefix', { paths: ['/api/*'] }, req('GET', '/apix'), 'L7', false, false],
  ['suffix path', { paths: ['*.js'] }, req('GET', '/static/app.js'), 'L7', true, true],
  ['suffix path, other type', { paths: ['*.js'] }, req('GET', '/static/app.css'), 'L7', false, false],
  ['"*" path matches any path', { paths: ['*'] }, req('GET', '/anything'), 'L7', true, true],
  ['query string is not part of the path', { paths: ['/api'] }, req('GET', '/api?admin=1'), 'L7', true, true],
  ['fragment is not part of the path', { paths: ['/api'] }, req('GET', '/api#x'), 'L7', true, true],
  ['notPaths, path listed', { notPaths: ['/admin/*'] }, req('GET', '/admin/users'), 'L7', false, false],
  ['notPaths, path not listed', { notPaths: ['/admin/*'] }, req('GET', '/public'), 'L7', true, true],
  ['dot segments are resolved before matching', { paths: ['/admin/*'] }, req('GET', '/public/../admin/users'), 'L7', true, true],
  ['encoded letters are decoded before matching', { paths: ['/admin/*'] }, req('GET', '/%61dmin/users'), 'L7', true, true],
  ['encoded slash and doubled slashes', { paths: ['/admin/users'] }, req('GET', '//admin%2Fusers'), 'L7', true, true],
  ['backslash is a slash', { paths: ['/admin/*'] }, req('GET', '/admin\\users'), 'L7', true, true],
  ['notPaths sees the normalized path', { notPaths: ['/admin/*'] }, req('GET', '/x/../admin/users'), 'L7', false, false],
  ['unreadable path (absolute-form): ALLOW no, DENY yes', { paths: ['/admin/*'] }, req('GET', 'http://h/admin/x'), 'L7', false, true],
  ['unreadable path (%00): ALLOW no, DENY yes', { notPaths: ['/admin/*'] }, req('GET', '/public%00'), 'L7', false, true],
  ['methods AND paths', { methods: ['GET'], paths: ['/api/*'] }, req('POST', '/api/x'), 'L7', false, false],
  // HTTP fields at L4
  ['methods at L4: ALLOW never, DENY always', { methods: ['GET'] }, fromFront, 'L4', false, true],
  ['notMethods at L4: ALLOW never, DENY always', { notMethods: ['GET'] }, fromFront, 'L4', false, true],
  ['paths at L4: ALLOW never, DENY always', { paths: ['/admin/*'] }, fromFront, 'L4', false, true],
  ['notPaths at L4: ALLOW never, DENY always', { notPaths: ['/public/*'] }, fromFront, 'L4', false, true],
  ['paths AND matching port at L4: ALLOW never, DENY yes', { ports: [8080], paths: ['/x'] }, fromFront, 'L4', false, true],
  ['paths AND other port at L4: the L4 part still decides a DENY', { ports: [9090], paths: ['/x'] }, fromFront, 'L4', false, false],
];

describe('operation matching', () => {
  for (const [name, operation, conn, layer, allowMatches, denyMatches] of rows) {
    test(`${layer} ${name}: ALLOW ${allowMatches ? 'matches' : 'does not match'}, DENY ${denyMatches ? 'matches' : 'does not match'}`, () => {
      const a = decide([allow('shop', 'a', [{ to: [{ operation }] }])], conn, { layer });
      assert.equal(a.allowed, allowMatches, `ALLOW: ${a.reason}`);
      const d = decide([deny('shop', 'd', [{ to: [{ operation }] }])], conn, { layer });
      assert.equal(d.allowed, !denyMatches, `DENY: ${d.reason}`);
    });
  }
  test('any one of several to entries is enough (OR across operations)', () => {
    const p = [allow('shop', 'a', [{ to: [{ operation: { ports: [80] } }, { operation: { ports: [8080] } }] }])];
    assert.equal(decide(p, fromFront).allowed, true);
    assert.equal(decide(p, { ...fromFront, port: 81 }).allowed, false);
  });
  test('a rule needs both its from and its to', () => {
    const rule = { from: [{ source: { namespaces: ['front'] } }], to: [{ operation: { ports: [8080] } }] };
    const p = [allow('shop', 'a', [rule])];
    assert.equal(decide(p, fromFront).allowed, true);
    assert.equal(decide(p, { ...fromFront, port: 80 }).allowed, false);
    assert.equal(decide(p, { principal: sa('back', 'x'), port: 8080 }).allowed, false);
  });
});

describe('HTTP attributes at L4', () => {
  const getOnly = allow('shop', 'allow-get', [{ to: [{ operation: { methods: ['GET'] } }] }]);
  const blockDelete = deny('shop', 'block-delete', [{ from: [{ source: { principals: [FW] } }], to: [{ operation: { methods: ['DELETE'] } }] }]);

  test('an ALLOW rule with HTTP fields is skipped at L4, and the reason says why', () => {
    assert.deepEqual(decide([getOnly], fromFront), {
      allowed: false,
      reason: 'no ALLOW policy matched (policies: shop/allow-get); not evaluated at L4 because the rule uses HTTP attributes that L4 cannot see: shop/allow-get rules[0]',
    });
  });
  test('the same ALLOW policy works at L7', () => {
    assert.equal(decide([getOnly], req('GET', '/'), { layer: 'L7' }).reason, 'allowed by ALLOW policy shop/allow-get');
    assert.equal(decide([getOnly], req('PUT', '/'), { layer: 'L7' }).allowed, false);
  });
  test('another rule of the same ALLOW policy without HTTP fields can still allow at L4', () => {
    const p = allow('shop', 'mixed', [{ to: [{ operation: { paths: ['/x'] } }] }, { from: [{ source: { namespaces: ['front'] } }] }]);
    assert.equal(decide([p], fromFront).reason, 'allowed by ALLOW policy shop/mixed');
  });
  test('a DENY rule with HTTP fields applies to the whole connection at L4, and the reason says why', () => {
    assert.deepEqual(decide([blockDelete], fromFront), {
      allowed: false,
      policy: 'shop/block-delete',
      action: 'DENY',
      reason: 'denied by DENY policy shop/block-delete: rules[0] uses HTTP attributes that L4 cannot see, so it applies to the whole connection',
    });
  });
  test('that DENY still needs its L4 part: another principal passes', () => {
    assert.equal(decide([blockDelete], { principal: sa('back', 'x'), port: 8080 }).allowed, true);
  });
  test('at L7 the DENY only blocks DELETE', () => {
    assert.equal(decide([blockDelete], req('GET', '/'), { layer: 'L7' }).allowed, true);
    assert.equal(decide([blockDelete], req('DELETE', '/'), { layer: 'L7' }).reason, 'denied by DENY policy shop/block-delete');
  });
});

describe('hosts on a connection that carries none (a tunnel into a pod)', () => {
  const guest = { principal: sa('guest', 'x'), port: 8080 };
  test('a DENY on hosts applies to the whole connection; the reason says why', () => {
    const p = deny('shop', 'deny-guest-admin', [{ from: [{ source: { namespaces: ['guest'] } }], to: [{ operation: { hosts: ['admin.shop.svc.cluster.local'] } }] }]);
    assert.deepEqual(decide([p], guest), {
      allowed: false,
      policy: 'shop/deny-guest-admin',
      action: 'DENY',
      reason: 'denied by DENY policy shop/deny-guest-admin: rules[0] uses hosts, and this connection carries no host, so it applies to the whole connection',
    });
    assert.equal(decide([p], fromFront).allowed, true, 'its source part still decides: front passes');
  });
  test('an ALLOW rule on hosts is skipped whole, even when another of its operations would match', () => {
    const p = allow('shop', 'by-host', [{ to: [{ operation: { hosts: ['a.example.com'] } }, { operation: { ports: [8080] } }] }]);
    assert.deepEqual(decide([p], fromFront), {
      allowed: false,
      reason: 'no ALLOW policy matched (policies: shop/by-host); not evaluated because the rule uses hosts, and this connection carries no host: shop/by-host rules[0]',
    });
    assert.equal(decide([p], { ...fromFront, host: 'a.example.com' }).allowed, true, 'with a host (the egress gateway) it is evaluated');
  });
  test('both kinds of skipped ALLOW rule are named', () => {
    const p = allow('shop', 'both', [{ to: [{ operation: { hosts: ['a.example.com'] } }] }, { to: [{ operation: { methods: ['GET'] } }] }]);
    assert.equal(decide([p], fromFront).reason,
      'no ALLOW policy matched (policies: shop/both); not evaluated because the rule uses hosts, and this connection carries no host: shop/both rules[0]; not evaluated at L4 because the rule uses HTTP attributes that L4 cannot see: shop/both rules[1]');
  });
});
