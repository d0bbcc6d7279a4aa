// The public face of src/egress: the pure pieces of the egress gateway. Parsers for the first
// bytes a client sends (TLS ClientHello, HTTP/1.x request head) and the allow/refuse decision
// (ServiceEntry registry, then per-source policy). No sockets here; the gateway wraps these.
export { parseClientHello, DEFAULT_MAX_CLIENT_HELLO_BYTES, type ClientHelloOptions, type ClientHelloResult } from './client-hello.js';
export {
  parseRequestHead,
  DEFAULT_MAX_HEAD_BYTES,
  DEFAULT_MAX_HEADERS,
  type RequestHead,
  type RequestHeadOptions,
  type RequestHeadResult,
} from './http-head.js';
export { requestBodyLength } from './http-framing.js';
export { chunkedBodyLength } from './chunked-body.js';
export { pipelinedHosts } from './pipelining.js';
export { readAuthority, type Authority } from './authority.js';
export {
  EgressRegistry,
  decideEgress,
  egressAuthorize,
  type EgressDecision,
  type EgressRequest,
  type EgressServiceEntry,
} from './decision.js';
export {
  createEgressGateway,
  DEFAULT_EGRESS_LIMITS,
  type EgressGatewayOptions,
  type EgressGatewayLimits,
  type OriginationSetting,
} from './gateway.js';
export { dnsResolver, type Resolver, type DnsResolverOptions } from './resolve.js';
export { forbiddenRanges, checkUpstreamAddresses, addressProblem, ALWAYS_FORBIDDEN, type ForbiddenRange, type AddressPolicyOptions } from './address-policy.js';
export { upstreamTarget, type UpstreamTarget, type UpstreamTargetRequest } from './upstream-target.js';
export type { Dialer } from './upstream.js';
export type { EgressRecord, EgressVerdict } from './gateway-audit.js';
export { parseEgressAuthority, type EgressAuthority } from './tunnel-authority.js';
export { RequestHostGuard } from './host-guard.js';
