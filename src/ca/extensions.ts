// The X.509 v3 extensions the mesh CA writes, encoded once here so the root and the leaf
// profiles read as a list of named parts.
import { createHash } from 'node:crypto';
import { der, derRead, OID } from '../identity/index.js';

export function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  return critical
    ? der.sequence(der.objectId(oid), der.boolean(true), der.octetString(value))
    : der.sequence(der.objectId(oid), der.octetString(value));
}

export function basicConstraints(ca: boolean): Buffer {
  // cA DEFAULT FALSE is omitted in DER, so a leaf's value is an empty SEQUENCE.
  return extension(OID.basicConstraints, true, ca ? der.sequence(der.boolean(true)) : der.sequence());
}

/** keyUsage digitalSignature(0) | keyEncipherment(2): bits 1010 0000, five unused. */
export const LEAF_KEY_USAGE = extension(OID.keyUsage, true, der.bitString(Buffer.from([0xa0]), 5));
/** keyUsage keyCertSign(5) | cRLSign(6): bits 0000 0110, one unused. */
export const CA_KEY_USAGE = extension(OID.keyUsage, true, der.bitString(Buffer.from([0x06]), 1));

export const SERVER_AND_CLIENT_AUTH = extension(
  OID.extKeyUsage, false, der.sequence(der.objectId(OID.serverAuth), der.objectId(OID.clientAuth)),
);

export function subjectKeyId(keyId: Buffer): Buffer {
  return extension(OID.subjectKeyIdentifier, false, der.octetString(keyId));
}

export function authorityKeyId(keyId: Buffer): Buffer {
  return extension(OID.authorityKeyIdentifier, false, der.sequence(der.implicit(0, keyId)));
}

/** RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING's bytes. */
export function keyIdOf(spkiDer: Buffer): Buffer {
  const [, key] = derRead.children(derRead.readOne(spkiDer));
  return createHash('sha1').update(derRead.readBitString(key!).bytes).digest();
}

export const ECDSA_WITH_SHA256 = der.sequence(der.objectId(OID.ecdsaWithSha256));
