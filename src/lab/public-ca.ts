// The lab's "public" CA: it stands in for a WebPKI CA so that the lab's internet hosts serve real
// certificates that clients verify by name. Distinct from the mesh CA on purpose: no mesh identity
// ever chains to it. Built with @peculiar/x509 (a cold path, run once per `lab up`).
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { AmbitError, showValue } from '../errors.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export interface PublicCaHost {
  names: string[];
}

export interface PublicCaResult {
  rootPem: string;
  rootPath: string;
  hosts: { names: string[]; certPath: string; keyPath: string }[];
}

const ROOT_CN = 'ambit lab public CA';
const VALIDITY_DAYS = 30;
const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DNS_NAME = /^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

function keyPem(pkcs8: ArrayBuffer): string {
  const b64 = Buffer.from(pkcs8).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`;
}

function checkHosts(hosts: PublicCaHost[]): void {
  hosts.forEach((h, i) => {
    if (!Array.isArray(h.names) || h.names.length === 0) {
      throw new AmbitError('PUBLIC_CA_INVALID_HOST', `Cannot issue a public certificate: hosts[${i}].names is empty`, { path: `hosts[${i}].names`, value: h.names });
    }
    h.names.forEach((n, j) => {
      if (typeof n !== 'string' || n.length > 253 || !DNS_NAME.test(n)) {
        throw new AmbitError('PUBLIC_CA_INVALID_HOST', `Cannot issue a public certificate: hosts[${i}].names[${j}] ${showValue(n)} is not a lower-case DNS name`, { path: `hosts[${i}].names[${j}]`, value: n });
      }
    });
  });
}

async function writeSecret(path: string, text: string): Promise<void> {
  await writeFile(path, text, { mode: 0o600 });
  await chmod(path, 0o600); // the mode option is ignored when the file already exists
}

/**
 * Makes a root and one serverAuth certificate per host (DNS SANs = names) in `dir`:
 * root.crt, and `<first name>.crt` / `<first name>.key` per host. The root key stays in memory.
 */
export async function createPublicCa(dir: string, hosts: PublicCaHost[]): Promise<PublicCaResult> {
  checkHosts(hosts);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore.getTime() + VALIDITY_DAYS * 86_400_000);
  const rootKeys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${ROOT_CN}, O=ambit lab`,
    keys: rootKeys,
    notBefore,
    notAfter,
    signingAlgorithm: SIGN,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey),
    ],
  });
  const rootPem = root.toString('pem') + '\n';
  const rootPath = join(dir, 'root.crt');
  await writeFile(rootPath, rootPem, { mode: 0o644 });
  const out: PublicCaResult = { rootPem, rootPath, hosts: [] };
  for (const h of hosts) {
    const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.create({
      subject: `CN=${h.names[0]}`,
      issuer: root.subject,
      publicKey: keys.publicKey,
      signingKey: rootKeys.privateKey,
      notBefore,
      notAfter,
      signingAlgorithm: SIGN,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(h.names.map((n) => ({ type: 'dns' as const, value: n }))),
        await x509.AuthorityKeyIdentifierExtension.create(rootKeys.publicKey),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const certPath = join(dir, `${h.names[0]}.crt`);
    const keyPath = join(dir, `${h.names[0]}.key`);
    await writeFile(certPath, cert.toString('pem') + '\n', { mode: 0o644 });
    await writeSecret(keyPath, keyPem(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)));
    out.hosts.push({ names: [...h.names], certPath, keyPath });
  }
  return out;
}
