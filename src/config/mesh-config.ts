// MeshConfig (ambit.dev/v1alpha1): the mesh-wide settings singleton named "mesh". Every field
// is optional and defaults from DEFAULT_MESH_SETTINGS, the one home of these tunables.
import { DEFAULT_MESH_SETTINGS, type MeshConfigResource, type MeshSettings, type ObjectMeta, type OutboundTrafficMode } from './types.js';
import { checkFields, fail, intIn, mapping, oneOf, opt, req, str, type Obj, type Reader } from './fields.js';
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

export function parseMeshConfig(doc: Obj, metadata: ObjectMeta): MeshConfigResource {
  const d = DEFAULT_MESH_SETTINGS;
  const spec = Object.hasOwn(doc, 'spec') ? mapping(doc.spec, 'spec') : {};
  checkFields(spec, 'spec', ['trustDomain', 'outboundTrafficPolicy', 'certificateTTLSeconds', 'rootNamespace', 'serviceCIDR']);
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
  };
  return { kind: 'MeshConfig', apiVersion: 'ambit.dev/v1alpha1', metadata, spec: settings };
}
