// Subject Alternative Names: where an SVID carries its SPIFFE ID. Encoding is used by the CSR
// builder and the CA; decoding by CSR checks, so both read the same GeneralName tags.
import { children, contentOf, expectTag, readOne, type DerNode } from './der-read.js';
import { implicit, sequence } from './der.js';

export type SubjectAltName =
  | { type: 'uri'; value: string }
  | { type: 'dns'; value: string }
  | { type: 'email'; value: string }
  | { type: 'ip'; value: string }
  | { type: 'other'; tag: number };

/** GeneralNames holding a single URI ([6] IA5String): the SAN extension value of an SVID. */
export function encodeUriSan(uri: string): Buffer {
  return sequence(implicit(6, Buffer.from(uri, 'latin1')));
}

function formatIp(b: Buffer): string {
  if (b.length === 4) return [...b].join('.');
  if (b.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
    return groups.join(':');
  }
  return `invalid(${b.toString('hex')})`;
}

function decodeGeneralName(n: DerNode): SubjectAltName {
  const c = contentOf(n);
  switch (n.tag) {
    case 0x81:
      return { type: 'email', value: c.toString('latin1') };
    case 0x82:
      return { type: 'dns', value: c.toString('latin1') };
    case 0x86:
      return { type: 'uri', value: c.toString('latin1') };
    case 0x87:
      return { type: 'ip', value: formatIp(c) };
    default:
      return { type: 'other', tag: n.tag };
  }
}

/** Decodes the extnValue of a subjectAltName extension (a GeneralNames SEQUENCE). */
export function decodeSubjectAltNames(extnValue: Buffer): SubjectAltName[] {
  return children(expectTag(readOne(extnValue), 0x30, 'GeneralNames')).map(decodeGeneralName);
}
