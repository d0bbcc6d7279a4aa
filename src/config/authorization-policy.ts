// AuthorizationPolicy (security.istio.io): who may talk to whom, by verified identity. ambit
// implements the identity- and operation-based subset; IP-based and JWT-based matching are
// refused outright because an authorization decision in ambit never reads an IP address.
import type {
  AuthorizationPolicyResource,
  Labels,
  ObjectMeta,
  PolicyAction,
  PolicyOperation,
  PolicyRule,
  PolicySource,
} from './types.js';
import { checkFields, fail, listOf, mapping, oneOf, opt, req, type Obj, type Reader } from './fields.js';
import { labels } from './metadata.js';
import { httpPath, method, namespacePattern, hostPattern, policyPort, principal } from './policy-values.js';

const NO_IP = 'ambit authorizes by verified workload identity, never by IP address; use principals or namespaces';
const NO_JWT = 'ambit has no request authentication (JWT); use principals';

const ACTIONS: readonly PolicyAction[] = ['ALLOW', 'DENY'];

/** `selector: { matchLabels: {...} }`, shared with PeerAuthentication. */
export const workloadSelector: Reader<{ matchLabels: Labels }> = (v, path) => {
  const s = mapping(v, path);
  checkFields(s, path, ['matchLabels'], { matchExpressions: 'use matchLabels' });
  const matchLabels = req(s, 'matchLabels', path, labels);
  if (Object.keys(matchLabels).length === 0) {
    fail(`${path}.matchLabels`, 'must select at least one label; omit the selector to select every workload');
  }
  return { matchLabels };
};

/** Reads the optional list fields of `o` listed in `keys` with `read`; lists must be non-empty. */
function fillLists<T extends object>(out: T, o: Obj, path: string, keys: readonly (keyof T & string)[], read: Reader<unknown>): void {
  for (const key of keys) {
    const values = opt(o, key, path, listOf(read, { nonEmpty: 'must not be empty; omit the field to match anything' }));
    if (values !== undefined) (out as Record<string, unknown>)[key] = values;
  }
}

const SOURCE_FIELDS = ['principals', 'notPrincipals', 'namespaces', 'notNamespaces'] as const;
const source: Reader<PolicySource> = (v, path) => {
  const s = mapping(v, path);
  checkFields(s, path, SOURCE_FIELDS, {
    ipBlocks: NO_IP,
    notIpBlocks: NO_IP,
    remoteIpBlocks: NO_IP,
    notRemoteIpBlocks: NO_IP,
    requestPrincipals: NO_JWT,
    notRequestPrincipals: NO_JWT,
  });
  const out: PolicySource = {};
  fillLists(out, s, path, ['principals', 'notPrincipals'], principal);
  fillLists(out, s, path, ['namespaces', 'notNamespaces'], namespacePattern);
  if (Object.keys(out).length === 0) fail(path, `must set at least one of ${SOURCE_FIELDS.join(', ')}`);
  return out;
};

const OPERATION_FIELDS = ['ports', 'notPorts', 'hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'] as const;
const operation: Reader<PolicyOperation> = (v, path) => {
  const o = mapping(v, path);
  checkFields(o, path, OPERATION_FIELDS);
  const out: PolicyOperation = {};
  fillLists(out, o, path, ['ports', 'notPorts'], policyPort);
  fillLists(out, o, path, ['hosts', 'notHosts'], hostPattern);
  fillLists(out, o, path, ['methods', 'notMethods'], method);
  fillLists(out, o, path, ['paths', 'notPaths'], httpPath);
  if (Object.keys(out).length === 0) fail(path, `must set at least one of ${OPERATION_FIELDS.join(', ')}`);
  return out;
};

const from: Reader<{ source: PolicySource }> = (v, path) => {
  const f = mapping(v, path);
  checkFields(f, path, ['source']);
  return { source: req(f, 'source', path, source) };
};

const to: Reader<{ operation: PolicyOperation }> = (v, path) => {
  const t = mapping(v, path);
  checkFields(t, path, ['operation']);
  return { operation: req(t, 'operation', path, operation) };
};

const rule: Reader<PolicyRule> = (v, path) => {
  const r = mapping(v, path);
  checkFields(r, path, ['from', 'to'], { when: 'conditions are not implemented; express the rule with from and to' });
  return { from: opt(r, 'from', path, listOf(from)) ?? [], to: opt(r, 'to', path, listOf(to)) ?? [] };
};

export function parseAuthorizationPolicy(doc: Obj, metadata: ObjectMeta): AuthorizationPolicyResource {
  const spec = req(doc, 'spec', '', mapping);
  checkFields(spec, 'spec', ['selector', 'action', 'rules'], {
    provider: 'CUSTOM authorization providers are not implemented',
    targetRef: 'use selector',
    targetRefs: 'use selector',
  });
  const action = opt(spec, 'action', 'spec', oneOf(ACTIONS, {
    CUSTOM: 'external authorization is not implemented; use ALLOW or DENY',
    AUDIT: 'use ALLOW or DENY; every decision is logged anyway',
  })) ?? 'ALLOW';
  const out: AuthorizationPolicyResource = {
    kind: 'AuthorizationPolicy',
    apiVersion: 'security.istio.io/v1',
    metadata,
    spec: { action, rules: opt(spec, 'rules', 'spec', listOf(rule)) ?? [] },
  };
  const selector = opt(spec, 'selector', 'spec', workloadSelector);
  if (selector !== undefined) out.spec.selector = selector;
  return out;
}
