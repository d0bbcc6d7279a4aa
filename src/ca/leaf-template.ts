// The SVID profile as a precomputed template. Everything that is the same for every leaf of
// one CA (version, algorithm, issuer, the fixed extensions, the AKI) is encoded once; a leaf
// costs only the serial, validity, SPKI and SAN encodings plus one P-256 signature.
import { randomBytes, sign, type KeyObject } from 'node:crypto';
import { der, encodeIssuedTo, encodeUriSan, OID, type IssuedTo } from '../identity/index.js';
import {
  authorityKeyId, basicConstraints, ECDSA_WITH_SHA256, extension, LEAF_KEY_USAGE, SERVER_AND_CLIENT_AUTH,
} from './extensions.js';

const VERSION_3 = der.explicit(0, der.integer(2));
const EMPTY_SUBJECT = der.sequence();

export interface LeafFields {
  serial: Buffer;
  notBefore: Date;
  notAfter: Date;
  spkiDer: Buffer;
  uri: string;
  /** The node (and credential) it is issued to: written as ambit's issued-to extension. */
  issuedTo?: IssuedTo;
}

/** 16 random bytes with the top bit set: a positive 128-bit serial whose DER is always 17 octets. */
export function randomSerial(): Buffer {
  const b = randomBytes(16);
  b[0]! |= 0x80;
  return b;
}

export class LeafTemplate {
  private readonly algAndIssuer: Buffer;
  private readonly fixedExtensions: Buffer;
  private readonly aki: Buffer;

  constructor(issuerNameDer: Buffer, issuerKeyId: Buffer, private readonly signingKey: KeyObject) {
    this.algAndIssuer = Buffer.concat([ECDSA_WITH_SHA256, issuerNameDer]);
    this.fixedExtensions = Buffer.concat([basicConstraints(false), LEAF_KEY_USAGE, SERVER_AND_CLIENT_AUTH]);
    this.aki = authorityKeyId(issuerKeyId);
  }

  tbs(f: LeafFields): Buffer {
    // The SAN is critical because the subject is empty (RFC 5280 4.2.1.6).
    const san = extension(OID.subjectAltName, true, encodeUriSan(f.uri));
    return der.sequence(
      VERSION_3,
      der.integer(f.serial),
      this.algAndIssuer,
      der.sequence(der.x509Time(f.notBefore), der.x509Time(f.notAfter)),
      EMPTY_SUBJECT,
      f.spkiDer,
      der.explicit(3, der.sequence(this.fixedExtensions, san, this.aki, ...(f.issuedTo ? [extension(OID.ambitIssuedTo, false, encodeIssuedTo(f.issuedTo))] : []))),
    );
  }

  /** The signed certificate (DER). */
  issue(f: LeafFields): Buffer {
    const tbs = this.tbs(f);
    const signature = sign('sha256', tbs, { key: this.signingKey, dsaEncoding: 'der' });
    return der.sequence(tbs, ECDSA_WITH_SHA256, der.bitString(signature));
  }
}
