// The identity room's door: SPIFFE IDs, CSRs and the small DER/PEM toolkit the CA builds on.
export { parseSpiffeId, workloadId, trustDomainId, toPrincipal, principalOfUri, sameSpiffeId, SPIFFE_SCHEME, type SpiffeId } from './spiffe.js';
export { createCsr, parseCsr, describeSan, type CreatedCsr, type ParsedCsr } from './csr.js';
export { encodeUriSan, decodeSubjectAltNames, type SubjectAltName } from './subject-alt-name.js';
export { readCertificate, subjectKeyIdOf, type CertificateFields, type CertificateExtension } from './certificate.js';
export { toPem, pemBlocks, pemBlock, splitPemCertificates } from './pem.js';
export { OID } from './oids.js';
export { encodeIssuedTo, decodeIssuedTo, issuedToOf, type IssuedTo } from './issued-to.js';
export * as der from './der.js';
export * as derRead from './der-read.js';
export type { DerNode } from './der-read.js';
