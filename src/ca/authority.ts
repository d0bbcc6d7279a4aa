// The mesh CA: holds the signing key and the trust bundle, and turns a checked CSR into an
// SVID. Either a self-signed root it generated, or an operator-supplied intermediate.
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { AmbitError, showValue } from '../errors.js';
import {
  parseCsr, parseSpiffeId, pemBlocks, readCertificate, subjectKeyIdOf, toPem, type SpiffeId,
} from '../identity/index.js';
import { checkCsr } from './csr-checks.js';
import { keyIdOf } from './extensions.js';
import { LeafTemplate, randomSerial } from './leaf-template.js';
import { generateRoot } from './root.js';
import { describeCertificate, TrustBundle } from './trust-bundle.js';

export interface IssuedSvid {
  readonly certPem: string;
  readonly certDer: Buffer;
  /** Leaf first, then intermediates (the self-signed root is never included). */
  readonly chainPem: string[];
  /** Lower-case hex. */
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface SignRequest {
  spiffeId: SpiffeId;
  ttlSeconds: number;
  now?: Date;
  /**
   * The node and the credential (its ID) of the session that asked: written into the SVID, so
   * that peers refuse it once that node or credential is revoked. Required, so that no call site
   * can forget it: `null` only for a certificate no node asked for (the control plane's own
   * serving certificate, a test's or a benchmark's).
   */
  issuedTo: { node: string; credential: string } | null;
}

export interface CaFiles {
  /** The signing CA certificate first, then its parents. */
  certChainPem: string;
  keyPem: string;
  /** The trust bundle: one or more roots. */
  rootsPem: string;
  /** Defaults to the trust domain in the CA certificate's `spiffe://` URI SAN. */
  trustDomain?: string;
  now?: Date;
}

export const CA_FILES = { cert: 'ca-cert.pem', key: 'ca-key.pem', root: 'root-cert.pem', bundle: 'trust-bundle.pem' } as const;
const CLOCK_SKEW_MS = 60_000;

function trustDomainOf(cert: X509Certificate): string | undefined {
  const m = /(?:^|, )URI:spiffe:\/\/([^/,]+)(?:,|$)/.exec(cert.subjectAltName ?? '');
  return m ? parseSpiffeId(`spiffe://${m[1]}`).trustDomain : undefined;
}

export class CertificateAuthority {
  private readonly template: LeafTemplate;
  private readonly intermediatesPem: string[];
  readonly notAfter: Date;

  private constructor(
    readonly trustDomain: string,
    /** The signing certificate and its parents, as PEM blocks. */
    readonly chainPem: string[],
    private readonly key: KeyObject,
    readonly bundle: TrustBundle,
    /** The bundle root that anchors `chainPem`. */
    readonly rootPem: string,
  ) {
    const fields = readCertificate(new X509Certificate(chainPem[0]!).raw);
    this.notAfter = fields.notAfter;
    this.template = new LeafTemplate(fields.subjectDer, subjectKeyIdOf(fields) ?? keyIdOf(fields.spkiDer), key);
    this.intermediatesPem = chainPem.filter((p) => {
      const c = new X509Certificate(p);
      return !(c.checkIssued(c) && c.verify(c.publicKey));
    });
  }

  /** A new self-signed root CA for `trustDomain` (valid `validityDays`, default 10 years). */
  static generate(opts: { trustDomain: string; validityDays?: number; now?: Date }): CertificateAuthority {
    const trustDomain = parseSpiffeId(`spiffe://${opts.trustDomain}`).trustDomain;
    const root = generateRoot({ trustDomain, validityDays: opts.validityDays ?? 3650, now: opts.now ?? new Date() });
    const pem = toPem('CERTIFICATE', root.certDer);
    return new CertificateAuthority(trustDomain, [pem], root.privateKey, new TrustBundle(pem), pem);
  }

  /** An operator-supplied CA (usually an intermediate), checked against `rootsPem`. */
  static fromFiles(files: CaFiles): CertificateAuthority {
    const chain = pemBlocks(files.certChainPem, 'CERTIFICATE').map((d) => toPem('CERTIFICATE', d));
    if (chain.length === 0) throw new AmbitError('CA_CERT_INVALID', 'Cannot load CA: certChainPem holds no PEM CERTIFICATE block', { path: 'certChainPem' });
    let key: KeyObject;
    try {
      key = createPrivateKey(files.keyPem);
    } catch (err) {
      throw new AmbitError('CA_KEY_INVALID', 'Cannot load CA: keyPem is not a readable private key', { path: 'keyPem', cause: err });
    }
    if (key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      const kind = key.asymmetricKeyDetails?.namedCurve ?? key.asymmetricKeyType;
      throw new AmbitError('CA_KEY_UNSUPPORTED', `Cannot load CA: key ${showValue(kind)} is not supported, only ECDSA P-256`, { path: 'keyPem', value: kind });
    }
    const cert = new X509Certificate(chain[0]!);
    const spki = (k: KeyObject): Buffer => k.export({ type: 'spki', format: 'der' });
    if (!spki(createPublicKey(key)).equals(spki(cert.publicKey))) {
      throw new AmbitError('CA_KEY_MISMATCH', `Cannot load CA: keyPem does not belong to the certificate ${describeCertificate(cert)}`, { path: 'keyPem' });
    }
    if (!cert.ca) throw new AmbitError('CA_NOT_CA', `Cannot load CA: certificate ${describeCertificate(cert)} is not a CA (basicConstraints CA:false)`, { path: 'certChainPem[0]', value: cert.subject });
    const bundle = new TrustBundle(files.rootsPem);
    let root: X509Certificate;
    try {
      root = bundle.verifyChain(chain[0]!, chain.slice(1), files.now).root;
    } catch (err) {
      throw new AmbitError('CA_CHAIN_UNTRUSTED', `Cannot load CA: ${(err as Error).message}`, { path: 'certChainPem', cause: err });
    }
    const trustDomain = files.trustDomain ?? trustDomainOf(cert);
    if (trustDomain === undefined) {
      throw new AmbitError('CA_TRUST_DOMAIN_UNKNOWN', `Cannot load CA: certificate ${describeCertificate(cert)} has no spiffe:// URI SAN and no trustDomain was given`, { path: 'trustDomain' });
    }
    return new CertificateAuthority(parseSpiffeId(`spiffe://${trustDomain}`).trustDomain, chain, key, bundle, toPem('CERTIFICATE', root.raw));
  }

  static async load(dir: string, opts: { trustDomain?: string } = {}): Promise<CertificateAuthority> {
    const read = (f: string): Promise<string> => readFile(join(dir, f), 'utf8');
    const [certChainPem, keyPem, rootsPem] = await Promise.all([read(CA_FILES.cert), read(CA_FILES.key), read(CA_FILES.bundle)]);
    return CertificateAuthority.fromFiles({ certChainPem, keyPem, rootsPem, ...opts });
  }

  /** Loads the CA from `dir`, or generates a root there when `dir` has no CA yet. */
  static async loadOrGenerate(dir: string, opts: { trustDomain: string }): Promise<CertificateAuthority> {
    try {
      return await CertificateAuthority.load(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const ca = CertificateAuthority.generate(opts);
    await ca.save(dir);
    return ca;
  }

  async save(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const keyPath = join(dir, CA_FILES.key);
    await writeFile(keyPath, this.key.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
    await chmod(keyPath, 0o600); // mode applies only when the file is created
    await writeFile(join(dir, CA_FILES.cert), this.chainPem.join(''));
    await writeFile(join(dir, CA_FILES.root), this.rootPem);
    await writeFile(join(dir, CA_FILES.bundle), this.bundle.pem());
  }

  /** Signs `csr` for `req.spiffeId` after every CSR check; see docs/ca.md for the codes. */
  signCsr(csr: Buffer | string, req: SignRequest): IssuedSvid {
    const now = req.now ?? new Date();
    if (!Number.isSafeInteger(req.ttlSeconds) || req.ttlSeconds <= 0) {
      throw new AmbitError('SVID_TTL_INVALID', `Cannot sign CSR: ttlSeconds must be a positive integer, got ${showValue(req.ttlSeconds)}`, { path: 'ttlSeconds', value: req.ttlSeconds });
    }
    if (now.getTime() >= this.notAfter.getTime()) {
      throw new AmbitError('CA_EXPIRED', `Cannot sign CSR: the CA certificate expired at ${this.notAfter.toISOString()}`, { value: this.notAfter.toISOString() });
    }
    const parsed = parseCsr(csr);
    checkCsr(parsed, req.spiffeId, this.trustDomain);
    const nowMs = Math.floor(now.getTime() / 1000) * 1000;
    const notBefore = new Date(nowMs - CLOCK_SKEW_MS);
    const notAfter = new Date(Math.min(nowMs + req.ttlSeconds * 1000, this.notAfter.getTime()));
    const serial = randomSerial();
    if (req.issuedTo === undefined) {
      // The type forbids it; a JS caller or a cast still gets a clear refusal, not a silent SVID no revocation can reach.
      throw new AmbitError('SVID_ISSUED_TO_MISSING', 'Cannot sign CSR: issuedTo must name the node and credential that asked, or be null for a certificate no node asked for', { path: 'issuedTo' });
    }
    const issuedTo = req.issuedTo === null ? undefined : { ...req.issuedTo, issuedAt: nowMs / 1000 };
    const certDer = this.template.issue({ serial, notBefore, notAfter, spkiDer: parsed.spkiDer, uri: req.spiffeId.uri, ...(issuedTo ? { issuedTo } : {}) });
    const certPem = toPem('CERTIFICATE', certDer);
    return { certPem, certDer, chainPem: [certPem, ...this.intermediatesPem], serial: serial.toString('hex'), notBefore, notAfter };
  }
}
