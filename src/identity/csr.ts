// PKCS#10 certificate signing requests for SVIDs. The proxy side builds them (a fresh P-256 key
// that never leaves memory, an empty subject, one URI SAN); the CA side parses them with the
// strict DER reader and reports every fact the CA's checks need, without judging them.
import { createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { AmbitError, showValue } from '../errors.js';
import * as der from './der.js';
import {
  children, contentOf, expectTag, rawOf, readBitString, readBoolean, readObjectId, readOne, readSmallInteger, readString,
  type DerNode,
} from './der-read.js';
import { OID } from './oids.js';
import { pemBlock, toPem } from './pem.js';
import type { SpiffeId } from './spiffe.js';
import { decodeSubjectAltNames, encodeUriSan, type SubjectAltName } from './subject-alt-name.js';

export interface CreatedCsr {
  readonly privateKey: KeyObject;
  readonly csrDer: Buffer;
  readonly csrPem: string;
}

export interface ParsedCsr {
  /** The signed part (CertificationRequestInfo), as encoded. */
  readonly infoDer: Buffer;
  readonly subjectRdnCount: number;
  readonly commonName?: string;
  readonly subjectAltNames: SubjectAltName[];
  readonly spkiDer: Buffer;
  /** 'ec' | 'rsa' | the dotted OID when unknown. */
  readonly keyAlgorithm: string;
  /** 'P-256' | 'P-384' | the dotted OID, for EC keys. */
  readonly namedCurve?: string;
  /** 'ecdsa-with-SHA256' | 'ecdsa-with-SHA384' | the dotted OID when unknown. */
  readonly signatureAlgorithm: string;
  /** True only when the algorithm is supported (ECDSA P-256) and the signature verifies. */
  readonly signatureValid: boolean;
}

const CURVES: Record<string, string> = { [OID.prime256v1]: 'P-256', [OID.secp384r1]: 'P-384' };
const SIG_ALGS: Record<string, { name: string; hash: string }> = {
  [OID.ecdsaWithSha256]: { name: 'ecdsa-with-SHA256', hash: 'sha256' },
  [OID.ecdsaWithSha384]: { name: 'ecdsa-with-SHA384', hash: 'sha384' },
};

const EMPTY_NAME = der.sequence();
const ECDSA_SHA256 = der.sequence(der.objectId(OID.ecdsaWithSha256));

/** A key and CSR for `spiffeId`; pass `key` to reuse an existing P-256 private key. */
export function createCsr(spiffeId: SpiffeId, key?: KeyObject): CreatedCsr {
  const privateKey = key ?? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new AmbitError('CSR_KEY_UNSUPPORTED', 'Cannot create CSR: key must be an ECDSA P-256 private key', {
      path: 'key', value: privateKey.asymmetricKeyDetails?.namedCurve ?? privateKey.asymmetricKeyType,
    });
  }
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const sanExtension = der.sequence(der.objectId(OID.subjectAltName), der.boolean(true), der.octetString(encodeUriSan(spiffeId.uri)));
  const extensionRequest = der.sequence(der.objectId(OID.extensionRequest), der.set(der.sequence(sanExtension)));
  const info = der.sequence(der.integer(0), EMPTY_NAME, spki, der.implicit(0, extensionRequest, true));
  const signature = sign('sha256', info, { key: privateKey, dsaEncoding: 'der' });
  const csrDer = der.sequence(info, ECDSA_SHA256, der.bitString(signature));
  return { privateKey, csrDer, csrPem: toPem('CERTIFICATE REQUEST', csrDer) };
}

function readSubject(name: DerNode): { rdns: number; commonName?: string } {
  const rdns = children(expectTag(name, 0x30, 'subject'));
  let commonName: string | undefined;
  for (const rdn of rdns) {
    for (const atv of children(expectTag(rdn, 0x31, 'RelativeDistinguishedName'))) {
      const [type, value] = children(expectTag(atv, 0x30, 'AttributeTypeAndValue'));
      if (type && value && readObjectId(type) === OID.commonName) commonName = readString(value);
    }
  }
  return commonName === undefined ? { rdns: rdns.length } : { rdns: rdns.length, commonName };
}

function readRequestedSans(attributes: DerNode | undefined): SubjectAltName[] {
  const sans: SubjectAltName[] = [];
  if (!attributes) return sans;
  for (const attr of children(attributes)) {
    const [type, values] = children(expectTag(attr, 0x30, 'Attribute'));
    if (!type || !values || readObjectId(type) !== OID.extensionRequest) continue;
    for (const exts of children(expectTag(values, 0x31, 'extensionRequest values'))) {
      for (const ext of children(expectTag(exts, 0x30, 'Extensions'))) {
        const parts = children(expectTag(ext, 0x30, 'Extension'));
        if (parts.length === 3) readBoolean(parts[1]!);
        if (parts.length < 2 || readObjectId(parts[0]!) !== OID.subjectAltName) continue;
        sans.push(...decodeSubjectAltNames(contentOf(expectTag(parts[parts.length - 1]!, 0x04, 'extnValue'))));
      }
    }
  }
  return sans;
}

function readKeyAlgorithm(spki: DerNode): { keyAlgorithm: string; namedCurve?: string } {
  const [alg] = children(expectTag(spki, 0x30, 'subjectPublicKeyInfo'));
  const [algOid, params] = children(expectTag(alg!, 0x30, 'AlgorithmIdentifier'));
  const oid = readObjectId(algOid!);
  if (oid === OID.rsaEncryption) return { keyAlgorithm: 'rsa' };
  if (oid !== OID.ecPublicKey) return { keyAlgorithm: oid };
  const curve = params && params.tag === 0x06 ? readObjectId(params) : 'unknown';
  return { keyAlgorithm: 'ec', namedCurve: CURVES[curve] ?? curve };
}

function checkSignature(info: Buffer, spkiDer: Buffer, hash: string, signature: Buffer): boolean {
  try {
    const key = createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
    return verify(hash, info, { key, dsaEncoding: 'der' }, signature);
  } catch {
    return false; // an invalid point or a garbled signature never verifies
  }
}

/** Parses a CSR (DER bytes or PEM text). Structural problems throw CSR_MALFORMED. */
export function parseCsr(csr: Buffer | string): ParsedCsr {
  try {
    const bytes = typeof csr === 'string' ? pemBlock(csr, 'CERTIFICATE REQUEST') : csr;
    const top = children(expectTag(readOne(bytes), 0x30, 'CertificationRequest'));
    if (top.length !== 3) throw new AmbitError('DER_INVALID', `Cannot read DER: CertificationRequest has ${top.length} elements, expected 3`);
    const [infoNode, sigAlgNode, sigNode] = top as [DerNode, DerNode, DerNode];
    const info = children(expectTag(infoNode, 0x30, 'CertificationRequestInfo'));
    const version = readSmallInteger(info[0]!);
    if (version !== 0) throw new AmbitError('DER_INVALID', `Cannot read DER: CSR version ${version} is not 0 (v1)`);
    const subject = readSubject(info[1]!);
    const spkiNode = info[2]!;
    const key = readKeyAlgorithm(spkiNode);
    const attributes = info[3];
    if (attributes && attributes.tag !== 0xa0) expectTag(attributes, 0xa0, 'attributes');
    const subjectAltNames = readRequestedSans(attributes);
    const sigOid = readObjectId(children(expectTag(sigAlgNode, 0x30, 'signatureAlgorithm'))[0]!);
    const sigAlg = SIG_ALGS[sigOid];
    const signature = readBitString(sigNode);
    const spkiDer = rawOf(spkiNode);
    const infoDer = rawOf(infoNode);
    const supported = sigAlg !== undefined && key.keyAlgorithm === 'ec' && key.namedCurve === 'P-256' && signature.unusedBits === 0;
    return {
      infoDer,
      subjectRdnCount: subject.rdns,
      ...(subject.commonName === undefined ? {} : { commonName: subject.commonName }),
      subjectAltNames,
      spkiDer,
      ...key,
      signatureAlgorithm: sigAlg?.name ?? sigOid,
      signatureValid: supported && checkSignature(infoDer, spkiDer, sigAlg.hash, signature.bytes),
    };
  } catch (err) {
    if (err instanceof AmbitError && (err.code === 'DER_INVALID' || err.code === 'PEM_INVALID')) {
      throw new AmbitError('CSR_MALFORMED', `Cannot parse CSR: ${err.message}`, { path: 'csr', cause: err });
    }
    if (err instanceof TypeError) {
      throw new AmbitError('CSR_MALFORMED', 'Cannot parse CSR: a required field is missing', { path: 'csr', cause: err });
    }
    throw err;
  }
}

/** Short text for an error message about what a CSR asked for. */
export function describeSan(san: SubjectAltName): string {
  return san.type === 'other' ? `other(tag 0x${san.tag.toString(16)})` : `${san.type}:${showValue(san.value)}`;
}
