// The lab "public" CA (distinct from the mesh CA) and the certificates that internet hosts
// serve. Uses the lab-apps module src/lab/public-ca.ts when it is built; until then a small
// openssl-based stand-in makes the same files, so `lab up` never depends on build order.
import { mkdirSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labRunDir } from '../paths.js';
import type { InternetHost } from './spec.js';
import { run } from './shell.js';

export interface LabPublicCa {
  rootPem: string;
  /** primary host name -> files of the certificate it serves */
  hosts: Map<string, { cert: string; key: string }>;
}

export function publicCaDir(lab: string): string {
  return join(labRunDir(lab), 'public-ca');
}

export async function createLabPublicCa(lab: string, hosts: InternetHost[]): Promise<LabPublicCa> {
  const dir = publicCaDir(lab);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const fromModule = await viaPublicCaModule(dir, hosts);
  if (fromModule) return fromModule;
  return viaOpenssl(dir, hosts);
}

type CreatePublicCa = (dir: string, hosts: { name: string; names: string[] }[]) => Promise<unknown>;

async function viaPublicCaModule(dir: string, hosts: InternetHost[]): Promise<LabPublicCa | undefined> {
  let mod: { createPublicCa?: CreatePublicCa };
  try {
    mod = (await import(['.', 'public-ca.js'].join('/'))) as { createPublicCa?: CreatePublicCa };
  } catch {
    return undefined;
  }
  if (typeof mod.createPublicCa !== 'function') return undefined;
  const out = (await mod.createPublicCa(dir, hosts.map((h) => ({ name: h.names[0]!, names: h.certificateNames })))) as {
    rootPem?: string;
    rootCertFile?: string;
    hosts?: Record<string, { certFile: string; keyFile: string }> | Map<string, { certFile: string; keyFile: string }>;
  };
  const rootPem = out.rootPem ?? (out.rootCertFile ? readFileSync(out.rootCertFile, 'utf8') : undefined);
  if (!rootPem || !out.hosts) return undefined;
  const entries = out.hosts instanceof Map ? [...out.hosts] : Object.entries(out.hosts);
  return { rootPem, hosts: new Map(entries.map(([k, v]) => [k, { cert: v.certFile, key: v.keyFile }])) };
}

async function viaOpenssl(dir: string, hosts: InternetHost[]): Promise<LabPublicCa> {
  const rootKey = join(dir, 'root.key');
  const rootCrt = join(dir, 'root.crt');
  if (!existsSync(rootCrt)) {
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', rootKey, '-out', rootCrt,
      '-days', '30', '-subj', '/O=ambit lab/CN=ambit lab public root CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  }
  const files = new Map<string, { cert: string; key: string }>();
  for (const h of hosts) {
    const name = h.names[0]!;
    const key = join(dir, `${name}.key`);
    const csr = join(dir, `${name}.csr`);
    const cert = join(dir, `${name}.crt`);
    const san = h.certificateNames.map((n) => `DNS:${n}`).join(',');
    await run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
    const ext = join(dir, `${name}.ext`);
    writeFileSync(ext, `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
    await run('openssl', ['x509', '-req', '-in', csr, '-CA', rootCrt, '-CAkey', rootKey, '-CAcreateserial', '-out', cert, '-days', '30', '-extfile', ext]);
    files.set(name, { cert, key });
  }
  return { rootPem: readFileSync(rootCrt, 'utf8'), hosts: files };
}
