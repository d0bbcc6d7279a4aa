// Peer verification, in one home: which SPIFFE identity a TLS peer proved, whether its verified
// chain ends in the mesh trust roots, and the client's check of the destination's identity
// (Node's default hostname check rejects SPIFFE certificates, FIELD-NOTES).
import { X509Certificate } from 'node:crypto';
import type { DetailedPeerCertificate, PeerCertificate, TLSSocket } from 'node:tls';
import { AmbitError, showValue } from '../errors.js';
import { parseSpiffeId } from '../identity/index.js';
import type { PeerCertificateCheck } from './revoked.js';

/** The one SPIFFE URI in a certificate's `subjectaltname` string (as Node renders it). */
export function identityFromSubjectAltName(san: string | undefined): string {
  const uris = (san ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('URI:'))
    .map((entry) => entry.slice(4))
    .map((v) => (v.startsWith('"') ? String(JSON.parse(v)) : v));
  if (uris.length !== 1) {
    throw new AmbitError('HBONE_PEER_IDENTITY_INVALID', `Cannot read peer identity: the certificate must hold exactly one URI SAN, found ${uris.length} in ${showValue(san ?? '')}`, {
      path: 'subjectaltname', value: san,
    });
  }
  try {
    return parseSpiffeId(uris[0]!).uri;
  } catch (err) {
    throw new AmbitError('HBONE_PEER_IDENTITY_INVALID', `Cannot read peer identity: URI SAN ${showValue(uris[0])} is not a SPIFFE ID`, {
      path: 'subjectaltname', value: uris[0], cause: err,
    });
  }
}

/** The SPIFFE ID the peer of a finished TLS handshake proved with its certificate. */
export function peerIdentity(socket: TLSSocket): string {
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) {
    throw new AmbitError('HBONE_PEER_NO_CERTIFICATE', 'Cannot read peer identity: the peer presented no certificate');
  }
  return identityFromSubjectAltName(cert.subjectaltname);
}

const rootPrints = new WeakMap<readonly string[], Set<string>>();

function fingerprintsOf(rootsPem: readonly string[]): Set<string> {
  let prints = rootPrints.get(rootsPem);
  if (!prints) {
    prints = new Set(rootsPem.map((pem) => new X509Certificate(pem).fingerprint256));
    rootPrints.set(rootsPem, prints);
  }
  return prints;
}

/**
 * Whether the verified chain of `cert` (as from getPeerCertificate(true)) contains one of
 * `rootsPem`. OpenSSL already verified the chain against the context's store; this makes the
 * caller's current trust bundle the authority, whatever store the context was built with.
 */
export function chainAnchoredIn(cert: PeerCertificate, rootsPem: readonly string[]): boolean {
  const prints = fingerprintsOf(rootsPem);
  let c: PeerCertificate | undefined = cert;
  for (let depth = 0; c && depth < 10; depth++) {
    if (prints.has(c.fingerprint256)) return true;
    const next: DetailedPeerCertificate | undefined = (c as DetailedPeerCertificate).issuerCertificate;
    if (!next || next === c || next.fingerprint256 === c.fingerprint256) break;
    c = next;
  }
  return false;
}

/**
 * A `checkServerIdentity` for tls.connect: the server must prove exactly `expected`, chained to
 * `rootsPem`, with a certificate `refuse` does not refuse (a revoked node's SVID).
 */
export function verifyServerIdentity(expected: string, rootsPem?: readonly string[], refuse?: PeerCertificateCheck): (host: string, cert: PeerCertificate) => Error | undefined {
  const want = parseSpiffeId(expected).uri;
  return (_host, cert) => {
    let got: string;
    try {
      got = identityFromSubjectAltName(cert.subjectaltname);
    } catch (err) {
      return new AmbitError('HBONE_IDENTITY_MISMATCH', `Cannot open tunnel: the destination must prove ${want}, but ${(err as Error).message}`, {
        path: 'expectedIdentity', value: want, cause: err,
      });
    }
    if (got !== want) {
      return new AmbitError('HBONE_IDENTITY_MISMATCH', `Cannot open tunnel: the destination proved ${showValue(got)}, not the expected ${showValue(want)}`, {
        path: 'expectedIdentity', value: got,
      });
    }
    if (rootsPem && !chainAnchoredIn(cert, rootsPem)) {
      return new AmbitError('HBONE_UNTRUSTED_PEER', `Cannot open tunnel: the certificate of ${showValue(got)} does not chain to the trusted roots`, {
        path: 'trustedRoots', value: got,
      });
    }
    const revoked = refuse?.(cert.raw);
    if (revoked !== undefined) {
      return new AmbitError('HBONE_PEER_REVOKED', `Cannot open tunnel: the destination proved ${showValue(got)}, but ${revoked}`, { path: 'expectedIdentity', value: got });
    }
    return undefined;
  };
}
