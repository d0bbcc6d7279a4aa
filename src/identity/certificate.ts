// Reads the few fields of an X.509 certificate that Node's X509Certificate does not expose
// as bytes: the exact subject Name encoding (a leaf's issuer must copy it byte for byte), the
// SPKI and the extensions (for the subject key identifier).
import { AmbitError } from '../errors.js';
import { children, contentOf, expectTag, rawOf, readBoolean, readObjectId, readOne, readTime } from './der-read.js';

export interface CertificateExtension {
  readonly critical: boolean;
  readonly value: Buffer;
}

export interface CertificateFields {
  readonly tbsDer: Buffer;
  readonly issuerDer: Buffer;
  readonly subjectDer: Buffer;
  readonly spkiDer: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Extensions by OID (dotted). */
  readonly extensions: ReadonlyMap<string, CertificateExtension>;
}

export function readCertificate(der: Buffer): CertificateFields {
  try {
    const [tbs] = children(expectTag(readOne(der), 0x30, 'Certificate'));
    const f = children(expectTag(tbs!, 0x30, 'TBSCertificate'));
    // version [0] is present in every v3 certificate; skip it when there.
    const i = f[0]?.tag === 0xa0 ? 1 : 0;
    const validity = children(expectTag(f[i + 3]!, 0x30, 'Validity'));
    const extensions = new Map<string, CertificateExtension>();
    for (const node of f.slice(i + 6)) {
      if (node.tag !== 0xa3) continue;
      for (const ext of children(expectTag(children(node)[0]!, 0x30, 'Extensions'))) {
        const parts = children(ext);
        const critical = parts.length === 3 ? readBoolean(parts[1]!) : false;
        extensions.set(readObjectId(parts[0]!), { critical, value: contentOf(expectTag(parts[parts.length - 1]!, 0x04, 'extnValue')) });
      }
    }
    return {
      tbsDer: rawOf(tbs!),
      issuerDer: rawOf(expectTag(f[i + 2]!, 0x30, 'issuer')),
      subjectDer: rawOf(expectTag(f[i + 4]!, 0x30, 'subject')),
      spkiDer: rawOf(expectTag(f[i + 5]!, 0x30, 'subjectPublicKeyInfo')),
      notBefore: readTime(validity[0]!),
      notAfter: readTime(validity[1]!),
      extensions,
    };
  } catch (err) {
    if (err instanceof AmbitError && err.code === 'DER_INVALID') {
      throw new AmbitError('CERT_MALFORMED', `Cannot read certificate: ${err.message}`, { cause: err });
    }
    if (err instanceof TypeError) throw new AmbitError('CERT_MALFORMED', 'Cannot read certificate: a required field is missing', { cause: err });
    throw err;
  }
}

/** The keyIdentifier inside a subjectKeyIdentifier extension value, if present. */
export function subjectKeyIdOf(cert: CertificateFields): Buffer | undefined {
  const ext = cert.extensions.get('2.5.29.14');
  return ext ? contentOf(expectTag(readOne(ext.value), 0x04, 'SubjectKeyIdentifier')) : undefined;
}
