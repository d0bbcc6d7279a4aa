// The lab "public" CA (distinct from the mesh CA) and the certificates internet hosts serve,
// written under the lab run dir by the lab-apps module public-ca.ts; this file maps its result
// onto the lab's hosts (keyed by each host's primary name).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { labRunDir } from '../paths.js';
import type { InternetHost } from './spec.js';

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
  // Loaded on use: @peculiar/x509 costs every `ambit` process (node proxies included) ~15 MB otherwise.
  const { createPublicCa } = await import('./public-ca.js');
  const out = await createPublicCa(dir, hosts.map((h) => ({ names: h.certificateNames })));
  const files = new Map<string, { cert: string; key: string }>();
  hosts.forEach((h, i) => files.set(h.names[0]!, { cert: out.hosts[i]!.certPath, key: out.hosts[i]!.keyPath }));
  return { rootPem: out.rootPem, hosts: files };
}
