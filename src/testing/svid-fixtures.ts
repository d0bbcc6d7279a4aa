// Test fixtures: a throw-away mesh CA and X.509 SVIDs for chosen SPIFFE IDs, minted through the
// real CA and CSR code so that tests exercise the certificates the mesh really issues.
import type { SecureContext } from 'node:tls';
import { CertificateAuthority } from '../ca/index.js';
import { createHboneContext } from '../hbone/context.js';
import { createCsr, parseSpiffeId } from '../identity/index.js';

export interface FixtureSvid {
  readonly spiffeId: string;
  readonly certPem: string;
  /** Leaf first, then intermediates. */
  readonly chainPem: string[];
  readonly keyPem: string;
  readonly notAfter: Date;
  /** The roots of the CA that signed this SVID. */
  readonly rootsPem: string[];
}

export interface MintOptions {
  /** Default 3600. */
  ttlSeconds?: number;
  /** Signing time; a past date with a short TTL makes an already expired SVID. */
  now?: Date;
  /** The node (and credential) the SVID is issued to, as the control plane writes it. */
  issuedTo?: { node: string; credential: string };
}

export class MeshFixture {
  private constructor(readonly ca: CertificateAuthority) {}

  /** A new self-signed CA for `trustDomain` (default "cluster.local"). */
  static create(trustDomain = 'cluster.local', opts: { now?: Date } = {}): MeshFixture {
    return new MeshFixture(CertificateAuthority.generate({ trustDomain, ...(opts.now ? { now: opts.now } : {}) }));
  }

  get trustDomain(): string {
    return this.ca.trustDomain;
  }

  get rootsPem(): string[] {
    return [this.ca.rootPem];
  }

  /** `spiffe://<trust domain>/ns/<namespace>/sa/<serviceAccount>` */
  workload(namespace: string, serviceAccount: string): string {
    return `spiffe://${this.ca.trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
  }

  mint(spiffeId: string, opts: MintOptions = {}): FixtureSvid {
    const id = parseSpiffeId(spiffeId);
    const csr = createCsr(id);
    const issued = this.ca.signCsr(csr.csrPem, {
      spiffeId: id, ttlSeconds: opts.ttlSeconds ?? 3600, ...(opts.now ? { now: opts.now } : {}), issuedTo: opts.issuedTo ?? null,
    });
    return {
      spiffeId: id.uri,
      certPem: issued.certPem,
      chainPem: issued.chainPem,
      keyPem: csr.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      notAfter: issued.notAfter,
      rootsPem: this.rootsPem,
    };
  }

  /** An SVID that expired `secondsAgo` (default 3600) seconds ago. */
  mintExpired(spiffeId: string, secondsAgo = 3600): FixtureSvid {
    return this.mint(spiffeId, { ttlSeconds: 60, now: new Date(Date.now() - secondsAgo * 1000 - 120_000) });
  }
}

/** A TLS 1.3 context holding `svid` and trusting `rootsPem` (default: its own CA's roots). */
export function svidContext(svid: FixtureSvid, rootsPem: string[] = svid.rootsPem): SecureContext {
  return createHboneContext({ chainPem: svid.chainPem, keyPem: svid.keyPem, rootsPem });
}
