// Where answers come from. A Zone answers the names it holds and returns null for the rest, so
// the server can try the next zone and finally the upstream. StaticZone serves records from
// configuration (the lab's "internet" names), with `*.suffix` wildcards and in-zone CNAME chasing.
import { type DnsRecord, RCODE, RR_TYPE, recordTypeCode } from './message.js';

export interface ZoneAnswer {
  answers: DnsRecord[];
  rcode: number;
  /** Authority records (e.g. an SOA on NXDOMAIN); optional. */
  authorities?: DnsRecord[];
}

export interface Zone {
  /** The answer for (name, qtype), or null when the name is not this zone's to answer. */
  lookup(name: string, type: number): ZoneAnswer | null;
}

/** Lower-case, without the trailing dot: how zones compare names. */
export function canonicalName(name: string): string {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  return n.toLowerCase();
}

const MAX_CNAME_CHAIN = 8;

export class StaticZone implements Zone {
  private readonly byName = new Map<string, DnsRecord[]>();

  constructor(records: DnsRecord[]) {
    for (const r of records) {
      const key = canonicalName(r.name);
      const list = this.byName.get(key) ?? [];
      list.push(r);
      this.byName.set(key, list);
    }
  }

  lookup(name: string, type: number): ZoneAnswer | null {
    const first = this.recordsFor(name);
    if (!first) return null;
    const answers: DnsRecord[] = [];
    let owner = name;
    let set = first;
    for (let hop = 0; hop < MAX_CNAME_CHAIN; hop++) {
      const matching = set.filter((r) => type === RR_TYPE.ANY || recordTypeCode(r) === type);
      if (matching.length > 0 || type === RR_TYPE.CNAME) {
        answers.push(...matching.map((r) => ({ ...r, name: owner })));
        break;
      }
      const alias = set.find((r) => r.type === 'CNAME');
      if (!alias || alias.type !== 'CNAME') break;
      answers.push({ ...alias, name: owner });
      owner = alias.target;
      const next = this.recordsFor(owner);
      if (!next) break; // the resolver follows an out-of-zone target itself
      set = next;
    }
    return { answers, rcode: RCODE.NOERROR };
  }

  /** Exact records, else those of the closest `*.suffix` wildcard. */
  private recordsFor(name: string): DnsRecord[] | undefined {
    const n = canonicalName(name);
    const exact = this.byName.get(n);
    if (exact) return exact;
    const labels = n.split('.');
    for (let i = 1; i < labels.length; i++) {
      const wild = this.byName.get(`*.${labels.slice(i).join('.')}`);
      if (wild) return wild;
    }
    return undefined;
  }
}
