// One resource object (already decoded from YAML or JSON) to a validated domain object: kind
// and apiVersion dispatch, top-level fields, metadata, then the kind's own spec parser. Every
// failure becomes one AmbitError CONFIG_INVALID naming the resource, where it came from, the
// field path and the value.
import { AmbitError } from '../errors.js';
import { CLUSTER_SCOPED, KINDS, type Kind, type ObjectMeta, type Resource } from './types.js';
import { checkFields, fail, FieldError, mapping, req, str, type Obj } from './fields.js';
import { DEFAULT_NAMESPACE, parseMetadata } from './metadata.js';
import { parseNamespace, parseNode, parseServiceAccount } from './cluster.js';
import { parsePod } from './pod.js';
import { parseService } from './service.js';
import { parseAuthorizationPolicy } from './authorization-policy.js';
import { parsePeerAuthentication } from './peer-authentication.js';
import { parseServiceEntry } from './service-entry.js';
import { parseDestinationRule } from './destination-rule.js';
import { parseMeshConfig } from './mesh-config.js';

interface KindRules {
  /** The normalised apiVersion, then older ones accepted and rewritten to it. */
  apiVersions: readonly string[];
  hasSpec: boolean;
  parse: (doc: Obj, metadata: ObjectMeta) => Resource;
}

const RULES: Record<Kind, KindRules> = {
  Namespace: { apiVersions: ['v1'], hasSpec: false, parse: parseNamespace },
  Node: { apiVersions: ['v1'], hasSpec: true, parse: parseNode },
  ServiceAccount: { apiVersions: ['v1'], hasSpec: false, parse: parseServiceAccount },
  Pod: { apiVersions: ['v1'], hasSpec: true, parse: parsePod },
  Service: { apiVersions: ['v1'], hasSpec: true, parse: parseService },
  AuthorizationPolicy: {
    apiVersions: ['security.istio.io/v1', 'security.istio.io/v1beta1'],
    hasSpec: true,
    parse: parseAuthorizationPolicy,
  },
  PeerAuthentication: {
    apiVersions: ['security.istio.io/v1', 'security.istio.io/v1beta1'],
    hasSpec: true,
    parse: parsePeerAuthentication,
  },
  ServiceEntry: {
    apiVersions: ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'],
    hasSpec: true,
    parse: parseServiceEntry,
  },
  DestinationRule: {
    apiVersions: ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'],
    hasSpec: true,
    parse: parseDestinationRule,
  },
  MeshConfig: { apiVersions: ['ambit.dev/v1alpha1'], hasSpec: true, parse: parseMeshConfig },
};

export function isKind(k: unknown): k is Kind {
  return typeof k === 'string' && (KINDS as readonly string[]).includes(k);
}

function parseUnchecked(obj: unknown): Resource {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    fail('', 'a resource must be a mapping with apiVersion, kind and metadata', obj);
  }
  const doc = mapping(obj, '');
  const kind = req(doc, 'kind', '', str);
  if (!isKind(kind)) fail('kind', `unknown kind ${JSON.stringify(kind)}; ambit supports ${KINDS.join(', ')}`);
  const rules = RULES[kind];
  const apiVersion = req(doc, 'apiVersion', '', str);
  if (!rules.apiVersions.includes(apiVersion)) {
    const [canonical, ...older] = rules.apiVersions;
    const alsoOk = older.length > 0 ? ` (also accepted: ${older.map((v) => JSON.stringify(v)).join(', ')})` : '';
    fail('apiVersion', `must be ${JSON.stringify(canonical)} for ${kind}${alsoOk}`, apiVersion);
  }
  if (Object.hasOwn(doc, 'status')) fail('status', 'set by the control plane; remove it');
  checkFields(doc, '', ['apiVersion', 'kind', 'metadata', ...(rules.hasSpec ? ['spec'] : [])]);
  const metadata = req(doc, 'metadata', '', (v) => parseMetadata(v, kind));
  return rules.parse(doc, metadata);
}

/** `Pod "default/web"`, as far as the raw object tells; just `resource` when it tells nothing. */
export function describeRaw(obj: unknown): string {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return 'resource';
  const o = obj as Obj;
  const kind = isKind(o.kind) ? o.kind : 'resource';
  const meta = o.metadata;
  if (typeof meta !== 'object' || meta === null || typeof (meta as Obj).name !== 'string') return kind;
  const name = (meta as Obj).name as string;
  const ns = (meta as Obj).namespace;
  if (kind === 'resource' || CLUSTER_SCOPED.has(kind)) return `${kind} ${JSON.stringify(name)}`;
  if (ns !== undefined && typeof ns !== 'string') return `${kind} ${JSON.stringify(name)}`;
  return `${kind} ${JSON.stringify(`${ns ?? DEFAULT_NAMESPACE}/${name}`)}`;
}

/**
 * Validates and normalises one decoded resource. `where` says where it came from, for the
 * message (`web.yaml, document 2`, `admin API request`). Throws AmbitError CONFIG_INVALID.
 */
export function parseResource(obj: unknown, where: string): Resource {
  try {
    return parseUnchecked(obj);
  } catch (err) {
    if (!(err instanceof FieldError)) throw err;
    const opts = err.hasValue ? { path: err.path, value: err.value } : { path: err.path };
    throw new AmbitError('CONFIG_INVALID', `Cannot apply ${describeRaw(obj)} (${where}): ${err.message}`, opts);
  }
}
