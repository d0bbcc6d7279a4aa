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

const rootCache = new WeakMap<readonly string[], Map<string, X509Certificate>>();

/** The bundle's roots by SHA-256 fingerprint (parsed once per bundle array). */
function rootsOf(rootsPem: readonly string[]): Map<string, X509Certificate> {
  let roots = rootCache.get(rootsPem);
  if (!roots) {
    roots = new Map(rootsPem.map((pem) => {
      const x = new X509Certificate(pem);
      return [x.fingerprint256, x] as const;
    }));
    rootCache.set(rootsPem, roots);
  }
  return roots;
}

/** Whether `issuer` signed `child` (names and key identifiers match, and the signature verifies). */
function signedBy(child: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return child.checkIssued(issuer) && child.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/**
 * Whether `cert` (as from getPeerCertificate(true)) chains, signature by signature, to one of
 * `rootsPem`. OpenSSL already verified the chain against the context's store, which may predate
 * the current bundle; this makes the caller's current trust bundle the authority. Node links the
 * peer's certificates by name alone (no signature check), so a peer could append a copy of a
 * current root (all ambit roots share one subject) behind a leaf an old root signed: each link is
 * verified here, and a root counts only if it signed the certificate below it.
 */
export function chainAnchoredIn(cert: PeerCertificate, rootsPem: readonly string[]): boolean {
  const roots = rootsOf(rootsPem);
  let c: PeerCertificate | undefined = cert;
  let x: X509Certificate;
  try {
    x = new X509Certificate(cert.raw);
  } catch {
    return false;
  }
  for (let depth = 0; c && depth < 10; depth++) {
    for (const root of roots.values()) if (signedBy(x, root)) return true;
    const next: DetailedPeerCertificate | undefined = (c as DetailedPeerCertificate).issuerCertificate;
    if (!next || next === c || next.fingerprint256 === c.fingerprint256) break;
    let nx: X509Certificate;
    try {
      nx = new X509Certificate(next.raw);
    } catch {
      return false;
    }
    if (!signedBy(x, nx)) return false;
    c = next;
    x = nx;
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
