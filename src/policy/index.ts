// The public face of src/policy: authorization decisions as pure functions over plain data,
// for the node proxy (L4), the egress gateway (hosts/SNI) and the waypoint (L7).
export { authorize, policiesFor } from './authorize.js';
export { compilePolicies, PolicyEvaluator } from './evaluator.js';
export { normalizeRequestPath } from './request-path.js';
export type { AuthorizeOptions, ConnectionAttributes, Decision, DecidingAction, Layer, PolicyTarget } from './types.js';
