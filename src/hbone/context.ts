// The one recipe for an HBONE TLS context: an SVID (leaf + intermediates, key) plus the mesh trust
// roots, TLS 1.3 only. Build it once per certificate and reuse it (FIELD-NOTES: a context per
// connection costs ~4 ms); pass the same object again until the certificate rotates.
import { createSecureContext, type SecureContext } from 'node:tls';
import { AmbitError, showValue } from '../errors.js';

export interface HboneCredentials {
  /** Leaf first, then intermediates. */
  chainPem: string[];
  keyPem: string;
  /** The mesh trust bundle: peers must chain to one of these. Never empty. */
  rootsPem: string[];
}

export function createHboneContext(creds: HboneCredentials): SecureContext {
  if (!Array.isArray(creds.rootsPem) || creds.rootsPem.length === 0) {
    // Without `ca`, Node would trust its bundled public web roots: never for the mesh.
    throw new AmbitError('HBONE_ROOTS_MISSING', `Cannot build HBONE TLS context: rootsPem must list at least one root, got ${showValue(creds.rootsPem)}`, {
      path: 'rootsPem', value: creds.rootsPem,
    });
  }
  if (!Array.isArray(creds.chainPem) || creds.chainPem.length === 0) {
    throw new AmbitError('HBONE_CERT_MISSING', `Cannot build HBONE TLS context: chainPem must hold the leaf certificate, got ${showValue(creds.chainPem)}`, {
      path: 'chainPem', value: creds.chainPem,
    });
  }
  try {
    return createSecureContext({ cert: creds.chainPem.join(''), key: creds.keyPem, ca: creds.rootsPem, minVersion: 'TLSv1.3' });
  } catch (err) {
    throw new AmbitError('HBONE_CREDENTIALS_INVALID', `Cannot build HBONE TLS context: ${(err as Error).message}`, { path: 'chainPem', cause: err });
  }
}
