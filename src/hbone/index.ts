// The HBONE room's door: the tunnel wire format (HTTP/2 CONNECT over mTLS 1.3), its server and
// its client pool, and the one home of peer verification.
export { createHboneServer, type HboneServer, type HboneServerOptions, type TunnelRequest, type TunnelDecision, type TunnelRecord, type TunnelStatus, type RefusalCode, type RefusalContext } from './server.js';
export { HbonePool, type OpenTunnelRequest } from './client.js';
export { createHboneContext, type HboneCredentials } from './context.js';
export { peerIdentity, verifyServerIdentity, identityFromSubjectAltName, chainAnchoredIn } from './peer.js';
export { RevokedSvids, RevocationView, type SvidRevocationList, type PeerCertificateCheck } from './revoked.js';
export { parseAuthority, parseHostAuthority, formatAuthority, type TunnelAuthority } from './authority.js';
export { spliceTunnel, type SpliceResult } from './splice.js';
export { DEFAULT_SERVER_LIMITS, DEFAULT_POOL_LIMITS, type HboneServerLimits, type HbonePoolLimits } from './limits.js';

/** The in-pod HBONE port (Istio-compatible). */
export const HBONE_PORT = 15008;
