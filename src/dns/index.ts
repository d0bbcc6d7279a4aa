// The DNS room's door: wire codec, server, zones, a stub client, and the server config.
export { decodeMessage, encodeMessage } from './codec.js';
export { readName, nameLabels } from './name.js';
export {
  type DnsMessage,
  type DnsQuestion,
  type DnsRecord,
  type DecodedRecordType,
  RR_TYPE,
  RR_CLASS_IN,
  RCODE,
  OPCODE_QUERY,
  newQuery,
  responseTo,
  recordTypeCode,
} from './message.js';
export { type Zone, type ZoneAnswer, StaticZone, canonicalName } from './zone.js';
export { ClusterZone, type ClusterZoneOptions } from './cluster-zone.js';
export { DnsServer, type DnsServerOptions } from './server.js';
export { exchangeUdp, exchangeTcp, queryDns, type DnsTransport } from './client.js';
export { type DnsEndpoint, parseEndpoint, formatEndpoint } from './endpoint.js';
export { type DnsServerConfig, parseDnsServerConfig } from './config.js';
