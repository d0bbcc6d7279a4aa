// Where an SVID came from: the node the mesh CA issued it to, the ID of the node or workload
// credential that asked for it, and the second it was signed. The CA writes this into every SVID
// it issues to a node as a non-critical private extension, so that any peer can tell, from the
// certificate alone, whether a node revocation (or a revoked credential) covers it
// (docs/ca.md, "Revoking a node"). A private arc under X.667's 2.25 (a UUID), so that no
// registration is needed and no other issuer's extension can collide with it.
//
//   AmbitIssuedTo ::= SEQUENCE { node UTF8String, credential UTF8String, issuedAt INTEGER (Unix seconds) }
import { AmbitError } from '../errors.js';
import { readCertificate } from './certificate.js';
import * as der from './der.js';
import { children, expectTag, readOne, readSmallInteger, readString, type DerNode } from './der-read.js';
import { OID } from './oids.js';

export interface IssuedTo {
  node: string;
  /** The ID (`jti`) of the node or workload credential of the session that asked for the SVID. */
  credential: string;
  /** When it was signed, in whole Unix seconds. */
  issuedAt: number;
}

/** The extension's value (the DER inside extnValue). */
export function encodeIssuedTo(i: IssuedTo): Buffer {
  if (!Number.isSafeInteger(i.issuedAt) || i.issuedAt < 0) {
    throw new AmbitError('DER_INVALID', `Cannot encode the issued-to extension: issuedAt must be whole Unix seconds, got ${i.issuedAt}`, { path: 'issuedAt', value: i.issuedAt });
  }
  return der.sequence(der.utf8String(i.node), der.utf8String(i.credential), der.integer(i.issuedAt));
}

/** Reads the extension's value; CERT_MALFORMED when it is not exactly the three fields. */
export function decodeIssuedTo(value: Buffer): IssuedTo {
  try {
    const parts = children(expectTag(readOne(value), 0x30, 'issued-to'));
    if (parts.length !== 3) throw new AmbitError('DER_INVALID', `issued-to must hold 3 fields, found ${parts.length}`);
    const [node, credential, issuedAt] = parts as [DerNode, DerNode, DerNode];
    return { node: readString(expectTag(node, 0x0c, 'issued-to node')), credential: readString(expectTag(credential, 0x0c, 'issued-to credential')), issuedAt: readSmallInteger(issuedAt) };
  } catch (err) {
    throw new AmbitError('CERT_MALFORMED', `Cannot read the SVID's issued-to extension (${OID.ambitIssuedTo}): ${(err as Error).message}`, { path: 'extensions.issuedTo', cause: err });
  }
}

/** The issued-to of a certificate (DER), or undefined when it has none (signed by a CA from before it, or not for a node). */
export function issuedToOf(certDer: Buffer): IssuedTo | undefined {
  const ext = readCertificate(certDer).extensions.get(OID.ambitIssuedTo);
  return ext === undefined ? undefined : decodeIssuedTo(ext.value);
}
