export { ConfigStreamClient, type ConfigState, type Svid, type ConfigStreamClientOptions } from './client.js';
export { decodeResource, decodeResourceValue, resourcesByType, wireTypeOf, WIRE_TYPES, type ResourcesByType, type WireType, type WireTypes, type WireWorkload, type WireService, type WirePolicy, type WireServiceEntry, type WireDestinationRule } from './resources.js';
export { PROTOCOL_VERSION, controlPlaneIdentity } from './protocol.js';
