// The CA room's door: the signer, the trust bundle, node tokens and the issuance decision.
// Data-plane folders must not import this; they use ../identity for CSRs and SPIFFE IDs.
export { CertificateAuthority, CA_FILES, type IssuedSvid, type SignRequest, type CaFiles } from './authority.js';
export { TrustBundle, normalizeFingerprint, type VerifiedChain } from './trust-bundle.js';
export { checkCsr } from './csr-checks.js';
export { NodeTokenIssuer, NODE_TOKEN_AUDIENCE, NODE_TOKEN_KEY_FILE, type NodeTokenClaims, type VerifiedNodeToken } from './node-token.js';
export { authorizeIssuance, type PodPlacementLookup, type PlacedPod, type IssuanceDecision } from './issuance.js';
export { NodeRevocations, NODE_REVOCATIONS_FILE, checkCredentialId, MAX_CREDENTIAL_TTL_SECONDS, CREDENTIAL_REVOCATION_MARGIN_SECONDS, parseRevocations, type NodeRevocation, type CredentialRevocation } from './revocations.js';
export { CredentialRegistry, ISSUED_CREDENTIALS_FILE, KEPT_AFTER_EXPIRY_SECONDS, parseIssuedCredentials, type IssuedCredential } from './credential-registry.js';
