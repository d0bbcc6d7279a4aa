// What the CA demands of a CSR before it signs: one pure function over the parsed request, so
// every refusal has its own code and a message that names what was asked for.
import { AmbitError, showValue } from '../errors.js';
import { describeSan, type ParsedCsr, type SpiffeId } from '../identity/index.js';

const ACCEPTED_SIGNATURES = new Set(['ecdsa-with-SHA256', 'ecdsa-with-SHA384']);

/** Throws the first CSR_* failure; returns nothing when `csr` may be signed for `spiffeId`. */
export function checkCsr(csr: ParsedCsr, spiffeId: SpiffeId, trustDomain: string): void {
  if (csr.keyAlgorithm !== 'ec' || csr.namedCurve !== 'P-256') {
    const key = csr.keyAlgorithm === 'ec' ? `EC ${csr.namedCurve}` : csr.keyAlgorithm;
    throw new AmbitError('CSR_KEY_UNSUPPORTED', `Cannot sign CSR: key ${showValue(key)} is not supported, only ECDSA P-256`, { path: 'csr.subjectPublicKeyInfo', value: key });
  }
  if (!ACCEPTED_SIGNATURES.has(csr.signatureAlgorithm)) {
    throw new AmbitError('CSR_KEY_UNSUPPORTED', `Cannot sign CSR: signature algorithm ${showValue(csr.signatureAlgorithm)} is not supported, only ecdsa-with-SHA256 or ecdsa-with-SHA384`, { path: 'csr.signatureAlgorithm', value: csr.signatureAlgorithm });
  }
  if (!csr.signatureValid) {
    throw new AmbitError('CSR_BAD_SIGNATURE', 'Cannot sign CSR: its signature does not verify with its own public key', { path: 'csr.signature' });
  }
  if (csr.subjectRdnCount > 0 || csr.commonName !== undefined) {
    const cn = csr.commonName === undefined ? '' : ` (CN ${showValue(csr.commonName)})`;
    throw new AmbitError('CSR_HAS_SUBJECT', `Cannot sign CSR: subject must be empty, found ${csr.subjectRdnCount} RDN(s)${cn}`, { path: 'csr.subject', value: csr.commonName ?? csr.subjectRdnCount });
  }
  const sans = csr.subjectAltNames;
  if (sans.length !== 1) {
    const found = sans.length === 0 ? 'none' : `several (${sans.length}): ${sans.map(describeSan).join(', ')}`;
    throw new AmbitError('CSR_SAN_COUNT', `Cannot sign CSR: exactly one SAN is required, found ${found}`, { path: 'csr.subjectAltName', value: sans.length });
  }
  if (spiffeId.trustDomain !== trustDomain) {
    throw new AmbitError('CSR_TRUST_DOMAIN', `Cannot sign CSR for ${showValue(spiffeId.uri)}: trust domain ${showValue(spiffeId.trustDomain)} is not this CA's trust domain ${showValue(trustDomain)}`, { path: 'spiffeId', value: spiffeId.uri });
  }
  const san = sans[0]!;
  if (san.type !== 'uri' || san.value !== spiffeId.uri) {
    throw new AmbitError('CSR_SAN_MISMATCH', `Cannot sign CSR: SAN ${describeSan(san)} does not match the requested identity ${showValue(spiffeId.uri)}`, { path: 'csr.subjectAltName', value: san.type === 'other' ? san.tag : san.value });
  }
}
