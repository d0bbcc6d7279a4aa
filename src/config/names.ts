// Kubernetes naming rules (DNS-1123 labels and subdomains, label keys and values), kept in one
// place so that every kind names things the same way and the messages read the same.
// Each check returns why the value is wrong, or null when it is fine.

const DNS_LABEL = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$/;
const LABEL_NAME = /^[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

export const DNS_LABEL_RULE =
  'must be a DNS label: at most 63 lower-case letters, digits and "-", starting and ending with a letter or digit';
export const DNS_SUBDOMAIN_RULE =
  'must be a DNS subdomain: at most 253 lower-case letters, digits, "-" and ".", each part starting and ending with a letter or digit';

export function isDnsLabel(s: string): boolean {
  return s.length <= 63 && DNS_LABEL.test(s);
}

export function isDnsSubdomain(s: string): boolean {
  return s.length <= 253 && s.split('.').every((part) => part.length <= 63 && DNS_LABEL.test(part));
}

/** Label keys: `[prefix/]name`, prefix a DNS subdomain, name up to 63 of `[-A-Za-z0-9_.]`, alphanumeric at both ends. */
export function labelKeyProblem(key: string): string | null {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix === '' || !isDnsSubdomain(prefix))) {
    return 'key prefix (before "/") must be a DNS subdomain such as "example.com"';
  }
  if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name)) {
    return 'key name must be 1-63 characters of letters, digits, "-", "_" and ".", starting and ending with a letter or digit (optionally after a "prefix/")';
  }
  return null;
}

/** Label values: empty, or up to 63 of `[-A-Za-z0-9_.]`, alphanumeric at both ends. */
export function labelValueProblem(value: string): string | null {
  if (value === '') return null;
  if (value.length > 63 || !LABEL_NAME.test(value)) {
    return 'must be at most 63 characters of letters, digits, "-", "_" and ".", starting and ending with a letter or digit';
  }
  return null;
}

/** Environment variable names as a POSIX shell accepts them. */
export function isEnvName(s: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(s);
}
