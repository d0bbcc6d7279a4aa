// Table tests: every rejected AuthorizationPolicy and PeerAuthentication input, exact messages.
// A half-understood security policy is a hole, so each refusal is pinned here.
import { describe, test } from 'node:test';
import { authz, edit, peerAuthn, runBadCases, type Doc } from './fixtures.js';

const SRC = 'spec.rules[0].from[0].source';
const OP = 'spec.rules[0].to[0].operation';
const withSource = (source: Doc): Doc => edit(authz, (d) => (d.spec.rules[0].from[0].source = source));
const withOperation = (operation: Doc): Doc => edit(authz, (d) => (d.spec.rules[0].to[0].operation = operation));
const principal = (p: unknown): Doc => withSource({ principals: [p] });
const NO_IP = 'not supported by ambit: ambit authorizes by verified workload identity, never by IP address; use principals or namespaces';
const PRINCIPAL_FORM = 'must be "<trust-domain>/ns/<namespace>/sa/<service-account>", like "cluster.local/ns/default/sa/web"';
const STAR_RULE = 'may hold "*" only as the whole value, or once as the first or last character';

describe('AuthorizationPolicy', () => {
  runBadCases(test, 'AuthorizationPolicy "shop/allow-web"', [
    { name: 'missing spec', doc: edit(authz, (d) => delete d.spec), error: 'spec: required' },
    {
      name: 'CUSTOM action',
      doc: edit(authz, (d) => (d.spec.action = 'CUSTOM')),
      error: 'spec.action: "CUSTOM" is not supported by ambit: external authorization is not implemented; use ALLOW or DENY',
    },
    {
      name: 'AUDIT action',
      doc: edit(authz, (d) => (d.spec.action = 'AUDIT')),
      error: 'spec.action: "AUDIT" is not supported by ambit: use ALLOW or DENY; every decision is logged anyway',
    },
    { name: 'lower-case action', doc: edit(authz, (d) => (d.spec.action = 'allow')), error: 'spec.action: must be one of ALLOW, DENY, got "allow"' },
    {
      name: 'provider',
      doc: edit(authz, (d) => (d.spec.provider = { name: 'ext' })),
      error: 'spec.provider: not supported by ambit: CUSTOM authorization providers are not implemented',
    },
    {
      name: 'when conditions',
      doc: edit(authz, (d) => (d.spec.rules[0].when = [{ key: 'request.headers[x]', values: ['1'] }])),
      error: 'spec.rules[0].when: not supported by ambit: conditions are not implemented; express the rule with from and to',
    },
    { name: 'rules as a mapping', doc: edit(authz, (d) => (d.spec.rules = {})), error: 'spec.rules: must be a list, got {}' },
    { name: 'empty selector', doc: edit(authz, (d) => (d.spec.selector = { matchLabels: {} })), error: 'spec.selector.matchLabels: must select at least one label; omit the selector to select every workload' },
    { name: 'selector without matchLabels', doc: edit(authz, (d) => (d.spec.selector = {})), error: 'spec.selector.matchLabels: required' },
    { name: 'unknown rule field', doc: edit(authz, (d) => (d.spec.rules[0].form = [])), error: 'spec.rules[0].form: unknown field' },
    { name: 'from without source', doc: edit(authz, (d) => (d.spec.rules[0].from = [{}])), error: 'spec.rules[0].from[0].source: required' },
    { name: 'to without operation', doc: edit(authz, (d) => (d.spec.rules[0].to = [{}])), error: 'spec.rules[0].to[0].operation: required' },
    { name: 'empty source', doc: withSource({}), error: `${SRC}: must set at least one of principals, notPrincipals, namespaces, notNamespaces` },
    { name: 'empty operation', doc: withOperation({}), error: `${OP}: must set at least one of ports, notPorts, hosts, notHosts, methods, notMethods, paths, notPaths` },
    { name: 'misspelt principals', doc: withSource({ principalz: ['cluster.local/ns/a/sa/b'] }), error: `${SRC}.principalz: unknown field` },
    { name: 'ipBlocks', doc: withSource({ ipBlocks: ['10.0.0.0/8'] }), error: `${SRC}.ipBlocks: ${NO_IP}` },
    { name: 'remoteIpBlocks', doc: withSource({ remoteIpBlocks: ['10.0.0.0/8'] }), error: `${SRC}.remoteIpBlocks: ${NO_IP}` },
    { name: 'notIpBlocks', doc: withSource({ notIpBlocks: ['10.0.0.0/8'] }), error: `${SRC}.notIpBlocks: ${NO_IP}` },
    {
      name: 'requestPrincipals',
      doc: withSource({ requestPrincipals: ['*'] }),
      error: `${SRC}.requestPrincipals: not supported by ambit: ambit has no request authentication (JWT); use principals`,
    },
    { name: 'empty principals list', doc: withSource({ principals: [] }), error: `${SRC}.principals: must not be empty; omit the field to match anything` },
    { name: 'principals as a string', doc: withSource({ principals: 'cluster.local/ns/a/sa/b' }), error: `${SRC}.principals: must be a list, got "cluster.local/ns/a/sa/b"` },
    {
      name: 'principal with a spiffe:// scheme',
      doc: principal('spiffe://cluster.local/ns/foo/sa/bar'),
      error: `${SRC}.principals[0]: must not include the "spiffe://" scheme; write "cluster.local/ns/foo/sa/bar", got "spiffe://cluster.local/ns/foo/sa/bar"`,
    },
    { name: 'empty principal', doc: principal(''), error: `${SRC}.principals[0]: must not be empty` },
    { name: 'principal with a space', doc: principal('cluster.local/ns/foo/sa/ bar'), error: `${SRC}.principals[0]: must not contain spaces, got "cluster.local/ns/foo/sa/ bar"` },
    { name: 'principal with * in the middle', doc: principal('cluster.local/ns/*/sa/bar'), error: `${SRC}.principals[0]: ${STAR_RULE}, got "cluster.local/ns/*/sa/bar"` },
    { name: 'principal with two *', doc: principal('*/ns/foo/*'), error: `${SRC}.principals[0]: ${STAR_RULE}, got "*/ns/foo/*"` },
    { name: 'principal without /ns/', doc: principal('cluster.local/foo/sa/bar'), error: `${SRC}.principals[0]: ${PRINCIPAL_FORM}, got "cluster.local/foo/sa/bar"` },
    { name: 'principal that is a bare name', doc: principal('frontend'), error: `${SRC}.principals[0]: ${PRINCIPAL_FORM}, got "frontend"` },
    { name: 'principal not a string', doc: principal(7), error: `${SRC}.principals[0]: must be a string, got 7` },
    {
      name: 'wildcard principal with upper case',
      doc: principal('cluster.local/ns/Foo/*'),
      error: `${SRC}.principals[0]: may contain only lower-case letters, digits, ".", "_", "-", "/" and "*", got "cluster.local/ns/Foo/*"`,
    },
    {
      name: 'upper-case namespace',
      doc: withSource({ namespaces: ['Shop'] }),
      error: `${SRC}.namespaces[0]: must be a namespace name, "*", or a prefix or suffix pattern like "team-*", got "Shop"`,
    },
    { name: 'namespace with * in the middle', doc: withSource({ notNamespaces: ['a*b'] }), error: `${SRC}.notNamespaces[0]: ${STAR_RULE}, got "a*b"` },
    { name: 'port zero', doc: withOperation({ ports: [0] }), error: `${OP}.ports[0]: must be a port number from 1 to 65535, got 0` },
    { name: 'port string out of range', doc: withOperation({ ports: ['70000'] }), error: `${OP}.ports[0]: must be a port number from 1 to 65535, got "70000"` },
    { name: 'named port', doc: withOperation({ notPorts: ['http'] }), error: `${OP}.notPorts[0]: must be a port number from 1 to 65535, got "http"` },
    { name: 'fractional port', doc: withOperation({ ports: [80.5] }), error: `${OP}.ports[0]: must be a port number from 1 to 65535, got 80.5` },
    {
      name: 'upper-case host',
      doc: withOperation({ hosts: ['API.example.com'] }),
      error: `${OP}.hosts[0]: host names must be lower case (write "api.example.com"), got "API.example.com"`,
    },
    { name: 'bare * host', doc: withOperation({ notHosts: ['*'] }), error: `${OP}.notHosts[0]: must not be "*" alone: that matches every host; name a domain, as in "*.example.com", got "*"` },
    { name: 'lower-case method', doc: withOperation({ methods: ['get'] }), error: `${OP}.methods[0]: must be an upper-case HTTP method like "GET", got "get"` },
    { name: 'relative path', doc: withOperation({ paths: ['api/v1'] }), error: `${OP}.paths[0]: must start with "/" or be a "*" suffix pattern like "*.png", got "api/v1"` },
    { name: 'path with * in the middle', doc: withOperation({ notPaths: ['/a/*/b'] }), error: `${OP}.notPaths[0]: ${STAR_RULE}, got "/a/*/b"` },
    { name: 'empty path', doc: withOperation({ paths: [''] }), error: `${OP}.paths[0]: must not be empty` },
    { name: 'unknown operation field', doc: withOperation({ port: [80] }), error: `${OP}.port: unknown field` },
  ]);
  runBadCases(test, 'AuthorizationPolicy "default/p"', [
    {
      name: 'v1alpha1 is not an accepted version',
      doc: { apiVersion: 'security.istio.io/v1alpha1', kind: 'AuthorizationPolicy', metadata: { name: 'p' }, spec: {} },
      error: 'apiVersion: must be "security.istio.io/v1" for AuthorizationPolicy (also accepted: "security.istio.io/v1beta1"), got "security.istio.io/v1alpha1"',
    },
  ]);
});

describe('PeerAuthentication', () => {
  runBadCases(test, 'PeerAuthentication "default/strict"', [
    {
      name: 'DISABLE',
      doc: edit(peerAuthn, (d) => (d.spec.mtls.mode = 'DISABLE')),
      error:
        'spec.mtls.mode: "DISABLE" is not supported by ambit: plaintext between mesh workloads is never allowed; use PERMISSIVE to also accept plaintext clients from outside the mesh',
    },
    {
      name: 'UNSET',
      doc: edit(peerAuthn, (d) => (d.spec.mtls.mode = 'UNSET')),
      error: 'spec.mtls.mode: "UNSET" is not supported by ambit: ambit does not inherit modes; write STRICT or PERMISSIVE',
    },
    { name: 'lower-case mode', doc: edit(peerAuthn, (d) => (d.spec.mtls.mode = 'strict')), error: 'spec.mtls.mode: must be one of STRICT, PERMISSIVE, got "strict"' },
    { name: 'missing mtls', doc: edit(peerAuthn, (d) => delete d.spec.mtls), error: 'spec.mtls: required' },
    { name: 'missing mode', doc: edit(peerAuthn, (d) => (d.spec.mtls = {})), error: 'spec.mtls.mode: required' },
    {
      name: 'portLevelMtls',
      doc: edit(peerAuthn, (d) => (d.spec.portLevelMtls = { 8080: { mode: 'PERMISSIVE' } })),
      error: 'spec.portLevelMtls: not supported by ambit: set one mode for the whole workload',
    },
    { name: 'empty selector', doc: edit(peerAuthn, (d) => (d.spec.selector = { matchLabels: {} })), error: 'spec.selector.matchLabels: must select at least one label; omit the selector to select every workload' },
  ]);
});
