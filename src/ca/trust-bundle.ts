// The set of roots a mesh trusts. Several roots at once is how a root is rotated: add the new
// one, re-issue, then remove the old one by fingerprint.
import { X509Certificate } from 'node:crypto';
import { AmbitError, showValue } from '../errors.js';
import { pemBlocks, toPem } from '../identity/index.js';

export interface VerifiedChain {
  /** The trusted root that anchors the chain. */
  readonly root: X509Certificate;
  /** Leaf first, then each intermediate used, root excluded. */
  readonly path: X509Certificate[];
}

/** Fingerprints compare as upper-case hex without colons. */
export function normalizeFingerprint(fp: string): string {
  return fp.replace(/:/g, '').toUpperCase();
}

function certsOf(pem: string | string[], what: string): X509Certificate[] {
  const text = Array.isArray(pem) ? pem.join('\n') : pem;
  return pemBlocks(text, 'CERTIFICATE').map((d, i) => {
    try {
      return new X509Certificate(d);
    } catch (err) {
      throw new AmbitError('CERT_MALFORMED', `Cannot read ${what}: certificate #${i} is not a valid X.509 certificate`, { path: `${what}[${i}]`, cause: err });
    }
  });
}

/** A certificate's name for messages: its subject, else its SAN (SVIDs have empty subjects). */
export function describeCertificate(c: X509Certificate): string {
  return showValue(c.subject || c.subjectAltName || `serial ${c.serialNumber}`);
}

function checkValidity(c: X509Certificate, now: Date): void {
  const from = Date.parse(c.validFrom);
  const to = Date.parse(c.validTo);
  const who = describeCertificate(c);
  if (now.getTime() < from) throw new AmbitError('CHAIN_NOT_YET_VALID', `Cannot verify certificate chain: ${who} is not valid before ${c.validFrom}`, { value: c.validFrom });
  if (now.getTime() > to) throw new AmbitError('CHAIN_EXPIRED', `Cannot verify certificate chain: ${who} expired at ${c.validTo}`, { value: c.validTo });
}

export class TrustBundle {
  private readonly byFingerprint = new Map<string, X509Certificate>();

  constructor(pem?: string) {
    if (pem !== undefined) this.add(pem);
  }

  /** Adds every certificate in `pem`; each must be a CA certificate. Returns their fingerprints. */
  add(pem: string): string[] {
    const certs = certsOf(pem, 'trust bundle');
    if (certs.length === 0) throw new AmbitError('TRUST_BUNDLE_INVALID', 'Cannot add to trust bundle: no PEM CERTIFICATE block found', { path: 'pem' });
    for (const c of certs) {
      if (!c.ca) throw new AmbitError('TRUST_BUNDLE_INVALID', `Cannot add to trust bundle: ${describeCertificate(c)} is not a CA certificate`, { value: c.subject });
    }
    return certs.map((c) => {
      const fp = normalizeFingerprint(c.fingerprint256);
      this.byFingerprint.set(fp, c);
      return fp;
    });
  }

  /** Removes the root with this SHA-256 fingerprint (any case, colons optional). */
  remove(fingerprint: string): boolean {
    return this.byFingerprint.delete(normalizeFingerprint(fingerprint));
  }

  has(fingerprint: string): boolean {
    return this.byFingerprint.has(normalizeFingerprint(fingerprint));
  }

  roots(): X509Certificate[] {
    return [...this.byFingerprint.values()];
  }

  get size(): number {
    return this.byFingerprint.size;
  }

  pem(): string {
    return this.roots().map((c) => toPem('CERTIFICATE', c.raw)).join('');
  }

  /** Verifies `leafPem` up to one of the roots through `intermediates`, checking validity at `now`. */
  verifyChain(leafPem: string, intermediates: string | string[] = [], now = new Date()): VerifiedChain {
    const [leaf] = certsOf(leafPem, 'leaf');
    if (!leaf) throw new AmbitError('CHAIN_UNTRUSTED', 'Cannot verify certificate chain: no leaf certificate given', { path: 'leafPem' });
    const pool = certsOf(intermediates, 'intermediates');
    const roots = this.roots();
    const path: X509Certificate[] = [];
    for (let cur = leaf; path.length < 8; ) {
      checkValidity(cur, now);
      path.push(cur);
      const root = roots.find((r) => cur.checkIssued(r) && cur.verify(r.publicKey));
      if (root) {
        checkValidity(root, now);
        return { root, path: path.filter((c) => !roots.includes(c)) };
      }
      const next = pool.find((c) => c.ca && !path.includes(c) && cur.checkIssued(c) && cur.verify(c.publicKey));
      if (!next) {
        throw new AmbitError('CHAIN_UNTRUSTED',
          `Cannot verify certificate chain: no trusted root or given intermediate issued ${describeCertificate(cur)} (issuer ${showValue(cur.issuer)})`,
          { value: cur.issuer });
      }
      cur = next;
    }
    throw new AmbitError('CHAIN_UNTRUSTED', 'Cannot verify certificate chain: more than 8 certificates deep', { value: path.length });
  }
}
