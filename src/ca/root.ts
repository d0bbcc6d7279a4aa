// The self-signed mesh root, built on the cold path when a control plane starts without an
// operator-supplied CA. Same DER toolkit as the leaves, so one encoder is tested, not two.
import { createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { der, encodeUriSan, OID, trustDomainId } from '../identity/index.js';
import { authorityKeyId, basicConstraints, CA_KEY_USAGE, ECDSA_WITH_SHA256, extension, keyIdOf, subjectKeyId } from './extensions.js';
import { randomSerial } from './leaf-template.js';

export interface GeneratedRoot {
  readonly certDer: Buffer;
  readonly privateKey: KeyObject;
}

const rdn = (oid: string, value: string): Buffer => der.set(der.sequence(der.objectId(oid), der.utf8String(value)));

export function generateRoot(opts: { trustDomain: string; validityDays: number; now: Date }): GeneratedRoot {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const keyId = keyIdOf(spki);
  const name = der.sequence(rdn(OID.organizationName, 'ambit'), rdn(OID.commonName, 'ambit mesh root'));
  const start = Math.floor(opts.now.getTime() / 1000) * 1000 - 60_000;
  const tbs = der.sequence(
    der.explicit(0, der.integer(2)),
    der.integer(randomSerial()),
    ECDSA_WITH_SHA256,
    name,
    der.sequence(der.x509Time(new Date(start)), der.x509Time(new Date(start + opts.validityDays * 86_400_000))),
    name,
    spki,
    der.explicit(3, der.sequence(
      basicConstraints(true),
      CA_KEY_USAGE,
      subjectKeyId(keyId),
      authorityKeyId(keyId),
      extension(OID.subjectAltName, false, encodeUriSan(trustDomainId(opts.trustDomain).uri)),
    )),
  );
  const signature = sign('sha256', tbs, { key: privateKey, dsaEncoding: 'der' });
  return { certDer: der.sequence(tbs, ECDSA_WITH_SHA256, der.bitString(signature)), privateKey };
}
