// The DNS server's JSON configuration: wire shape -> validated settings, once, with every error
// naming the field path and value. Unknown fields are errors, never silently ignored.
import { isIPv4, isIPv6 } from 'node:net';
import { AmbitError, showValue } from '../errors.js';
import { type DnsEndpoint, parseEndpoint } from './endpoint.js';
import { type DnsRecord, RR_CLASS_IN } from './message.js';
import { nameLabels } from './name.js';

export interface DnsServerConfig {
  records: DnsRecord[];
  upstream?: DnsEndpoint;
  clusterDomain?: string;
  adminSocket?: string;
}

const DEFAULT_TTL = 60;

const TOP_FIELDS = ['records', 'upstream', 'clusterDomain', 'adminSocket'];
const RECORD_FIELDS: Record<string, string[]> = {
  A: ['address'],
  AAAA: ['address'],
  CNAME: ['target'],
  TXT: ['text'],
};

function invalid(path: string, value: unknown, why: string): AmbitError {
  return new AmbitError('DNS_CONFIG_INVALID', `Cannot load DNS server config: ${path} ${showValue(value)} ${why}`, { path, value });
}

function rejectUnknown(obj: Record<string, unknown>, allowed: string[], prefix: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      throw new AmbitError('DNS_CONFIG_INVALID', `Cannot load DNS server config: unknown field ${prefix}${key}`, { path: `${prefix}${key}`, value: obj[key] });
    }
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function dnsName(v: unknown, path: string): string {
  if (typeof v !== 'string' || v === '') throw invalid(path, v, 'is not a non-empty DNS name');
  try {
    nameLabels(v);
  } catch (err) {
    throw invalid(path, v, `is not a valid DNS name (${(err as Error).message})`);
  }
  if (v.indexOf('*') > 0 || (v.includes('*') && !v.startsWith('*.'))) throw invalid(path, v, 'has a wildcard that is not the whole first label');
  return v.toLowerCase().replace(/\.$/, '');
}

function parseRecord(raw: unknown, path: string): DnsRecord {
  if (!isObject(raw)) throw invalid(path, raw, 'is not an object');
  const type = raw.type;
  if (typeof type !== 'string' || !(type in RECORD_FIELDS)) throw invalid(`${path}.type`, type, 'is not one of A, AAAA, CNAME, TXT');
  rejectUnknown(raw, ['name', 'type', 'ttl', ...RECORD_FIELDS[type]!], `${path}.`);
  const name = dnsName(raw.name, `${path}.name`);
  const ttl = raw.ttl ?? DEFAULT_TTL;
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 0 || ttl > 0x7fffffff) throw invalid(`${path}.ttl`, ttl, 'is not a TTL in seconds');
  const head = { name, class: RR_CLASS_IN, ttl };
  if (type === 'A' || type === 'AAAA') {
    const ok = type === 'A' ? isIPv4 : isIPv6;
    if (typeof raw.address !== 'string' || !ok(raw.address)) throw invalid(`${path}.address`, raw.address, `is not an ${type === 'A' ? 'IPv4' : 'IPv6'} address`);
    return { ...head, type, address: raw.address };
  }
  if (type === 'CNAME') return { ...head, type, target: dnsName(raw.target, `${path}.target`) };
  const text = raw.text;
  const texts = typeof text === 'string' ? [text] : text;
  if (!Array.isArray(texts) || texts.length === 0 || !texts.every((t) => typeof t === 'string' && Buffer.byteLength(t) <= 255)) {
    throw invalid(`${path}.text`, text, 'is not a string or a list of strings of at most 255 bytes');
  }
  return { ...head, type: 'TXT', texts: texts as string[] };
}

/** Validates the parsed JSON of a DNS server config file. */
export function parseDnsServerConfig(raw: unknown): DnsServerConfig {
  if (!isObject(raw)) throw invalid('(root)', raw, 'is not an object');
  rejectUnknown(raw, TOP_FIELDS, '');
  const records = raw.records ?? [];
  if (!Array.isArray(records)) throw invalid('records', records, 'is not a list');
  const config: DnsServerConfig = { records: records.map((r, i) => parseRecord(r, `records[${i}]`)) };
  if (raw.upstream !== undefined) {
    if (typeof raw.upstream !== 'string') throw invalid('upstream', raw.upstream, 'is not a string IP:PORT');
    config.upstream = parseEndpoint(raw.upstream, 'upstream');
  }
  if (raw.clusterDomain !== undefined) config.clusterDomain = dnsName(raw.clusterDomain, 'clusterDomain');
  if (raw.adminSocket !== undefined) {
    if (typeof raw.adminSocket !== 'string' || raw.adminSocket === '') throw invalid('adminSocket', raw.adminSocket, 'is not a socket path');
    config.adminSocket = raw.adminSocket;
  }
  if (config.clusterDomain !== undefined && config.adminSocket === undefined) {
    throw invalid('clusterDomain', raw.clusterDomain, 'needs adminSocket (cluster names come from the control plane)');
  }
  return config;
}
