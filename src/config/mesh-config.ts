// MeshConfig (ambit.dev/v1alpha1): the mesh-wide settings singleton named "mesh". Every field
// is optional and defaults from DEFAULT_MESH_SETTINGS, the one home of these tunables.
import { DEFAULT_MESH_SETTINGS, type ForbiddenUpstream, type MeshConfigResource, type MeshSettings, type ObjectMeta, type OutboundTrafficMode } from './types.js';
import { checkFields, fail, intIn, list, listOf, mapping, noDuplicates, oneOf, opt, req, str, type Obj, type Reader } from './fields.js';
import { UNPRINTABLE } from '../errors.js';
import { dnsLabel } from './metadata.js';
import { ipv4Cidr } from './cluster.js';

// Short lifetimes are for exercising rotation (tests, drills); production meshes use hours.
export const MIN_CERTIFICATE_TTL_SECONDS = 5;
export const MAX_CERTIFICATE_TTL_SECONDS = 30 * 24 * 3600;
const MODES: readonly OutboundTrafficMode[] = ['REGISTRY_ONLY', 'ALLOW_ANY'];

export const trustDomain: Reader<string> = (v, path) => {
  const s = str(v, path);
  if (s.includes('://')) fail(path, `must not include a scheme; write ${JSON.stringify(s.slice(s.indexOf('://') + 3))}`, s);
  if (s === '' || s.length > 255 || !/^[a-z0-9._-]+$/.test(s)) {
    fail(path, 'must be 1-255 characters of lower-case letters, digits, ".", "_" and "-"', s);
  }
  return s;
};

const serviceCIDR: Reader<string> = (v, path) => {
  const s = ipv4Cidr(v, path);
  const prefix = Number(s.split('/')[1]);
  if (prefix < 8 || prefix > 28) fail(path, 'must have a prefix length from 8 to 28', s);
  return s;
};

/** Operator deny-list entries: enough for any real network plan, few enough to scan per dial. */
export const MAX_FORBIDDEN_UPSTREAMS = 256;
const MAX_REASON = 200;

const forbiddenUpstream: Reader<ForbiddenUpstream> = (v, path) => {
  const o = mapping(v, path);
  checkFields(o, path, ['cidr', 'reason']);
  const cidr = req(o, 'cidr', path, ipv4Cidr);
  const reason = opt(o, 'reason', path, (r, p) => {
    const t = str(r, p);
    if (t.trim() === '' || t.length > MAX_REASON || UNPRINTABLE.test(t)) fail(p, `must be 1-${MAX_REASON} printable characters`, t);
    return t;
  });
  return { cidr, ...(reason !== undefined ? { reason } : {}) };
};

const forbiddenUpstreams: Reader<ForbiddenUpstream[]> = (v, path) => {
  if (list(v, path).length > MAX_FORBIDDEN_UPSTREAMS) fail(path, `at most ${MAX_FORBIDDEN_UPSTREAMS} entries`);
  const items = listOf(forbiddenUpstream)(v, path);
  noDuplicates(items, path, (e) => e.cidr, 'cidr');
  return items;
};

export function parseMeshConfig(doc: Obj, metadata: ObjectMeta): MeshConfigResource {
  const d = DEFAULT_MESH_SETTINGS;
  const spec = Object.hasOwn(doc, 'spec') ? mapping(doc.spec, 'spec') : {};
  checkFields(spec, 'spec', ['trustDomain', 'outboundTrafficPolicy', 'certificateTTLSeconds', 'rootNamespace', 'serviceCIDR', 'egressForbiddenUpstreams']);
  const outbound = opt(spec, 'outboundTrafficPolicy', 'spec', (v, path) => {
    const o = mapping(v, path);
    checkFields(o, path, ['mode']);
    return { mode: req(o, 'mode', path, oneOf(MODES)) };
  });
  const settings: MeshSettings = {
    trustDomain: opt(spec, 'trustDomain', 'spec', trustDomain) ?? d.trustDomain,
    outboundTrafficPolicy: outbound ?? { ...d.outboundTrafficPolicy },
    certificateTTLSeconds:
      opt(spec, 'certificateTTLSeconds', 'spec', intIn(MIN_CERTIFICATE_TTL_SECONDS, MAX_CERTIFICATE_TTL_SECONDS)) ??
      d.certificateTTLSeconds,
    rootNamespace: opt(spec, 'rootNamespace', 'spec', dnsLabel) ?? d.rootNamespace,
    serviceCIDR: opt(spec, 'serviceCIDR', 'spec', serviceCIDR) ?? d.serviceCIDR,
    egressForbiddenUpstreams: opt(spec, 'egressForbiddenUpstreams', 'spec', forbiddenUpstreams) ?? [...d.egressForbiddenUpstreams],
  };
  return { kind: 'MeshConfig', apiVersion: 'ambit.dev/v1alpha1', metadata, spec: settings };
}
