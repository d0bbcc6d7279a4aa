// The public face of src/config: the domain types of every resource kind, the parsers that
// turn YAML/JSON into them, and the host and IPv4 helpers other folders share.
export * from './types.js';
export { parseDocuments, loadFiles, parseResource, CONFIG_EXTENSIONS } from './parse.js';
export { describeRaw, isKind } from './resource.js';
export { unknownField } from './fields.js';
export { IGNORED_METADATA, DEFAULT_NAMESPACE } from './metadata.js';
export { DEFAULT_SERVICE_ACCOUNT } from './pod.js';
export { DEFAULT_RESOLUTION, DEFAULT_LOCATION } from './service-entry.js';
export { MIN_CERTIFICATE_TTL_SECONDS, MAX_CERTIFICATE_TTL_SECONDS } from './mesh-config.js';
export { validateHost, hostMatches, canonicalHost, isWildcardHost, HostSet, MAX_HOST_LENGTH, type HostRules } from './hosts.js';
export {
  parseIPv4,
  formatIPv4,
  isIPv4,
  ipv4Problem,
  parseCIDR,
  formatCIDR,
  cidrProblem,
  cidrContains,
  cidrAddress,
  cidrIndexOf,
  type Cidr,
} from './net.js';
export { isDnsLabel, isDnsSubdomain, labelKeyProblem, labelValueProblem } from './names.js';
export { EGRESS_GATEWAY, egressGatewayIdentity, EGRESS_VIP_CIDR } from './egress-gateway.js';
