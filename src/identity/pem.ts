// PEM armour: the text form certificates, keys and CSRs travel in between files and processes.
import { AmbitError, showValue } from '../errors.js';

export function toPem(label: string, der: Buffer): string {
  const b64 = der.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** The certificates of a PEM bundle, each as its own PEM text, in order (blank text between them dropped). */
export function splitPemCertificates(pem: string): string[] {
  return pem.split(/(?<=-----END CERTIFICATE-----)\s*/).filter((p) => p.trim() !== '');
}

/** Every block with `label` in `text`, decoded, in order. */
export function pemBlocks(text: string, label: string): Buffer[] {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, 'g');
  const out: Buffer[] = [];
  for (const m of text.matchAll(re)) {
    const body = m[1]!.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) {
      throw new AmbitError('PEM_INVALID', `Cannot decode PEM ${label}: the body is not base64`, { value: showValue(body.slice(0, 40)) });
    }
    out.push(Buffer.from(body, 'base64'));
  }
  return out;
}

/** Exactly one `label` block in `text`. */
export function pemBlock(text: string, label: string): Buffer {
  const blocks = pemBlocks(text, label);
  if (blocks.length !== 1) {
    throw new AmbitError('PEM_INVALID', `Cannot decode PEM ${label}: expected exactly one block, found ${blocks.length}`, { value: blocks.length });
  }
  return blocks[0]!;
}
