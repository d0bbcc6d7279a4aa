// The DNS message model (RFC 1035 section 4) as plain data: what the codec produces and the
// server, zones and clients exchange. Record types that ambit answers are decoded into fields;
// any other type travels as raw RDATA so that forwarded and EDNS (OPT) records survive intact.

/** Numeric RR types and QTYPEs ambit names. Others are carried as numbers. */
export const RR_TYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  ANY: 255,
} as const;

export const RR_CLASS_IN = 1;

export const OPCODE_QUERY = 0;

/** Response codes (RFC 1035 4.1.1). */
export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;

export type DecodedRecordType = 'A' | 'AAAA' | 'CNAME' | 'NS' | 'SOA' | 'TXT';

interface RecordHead {
  /** Owner name, without the trailing dot; the root is "". */
  name: string;
  class: number;
  ttl: number;
}

export type DnsRecord =
  | (RecordHead & { type: 'A' | 'AAAA'; address: string })
  | (RecordHead & { type: 'CNAME' | 'NS'; target: string })
  | (RecordHead & {
      type: 'SOA';
      mname: string;
      rname: string;
      serial: number;
      refresh: number;
      retry: number;
      expire: number;
      minimum: number;
    })
  | (RecordHead & { type: 'TXT'; texts: string[] })
  /** Any other type: RDATA kept as bytes (names inside are not decompressed). */
  | (RecordHead & { type: 'RAW'; code: number; rdata: Buffer });

export interface DnsQuestion {
  name: string;
  /** Numeric QTYPE, e.g. RR_TYPE.A. */
  type: number;
  class: number;
}

export interface DnsMessage {
  id: number;
  /** true for a response. */
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  /** The three Z/AD/CD bits, kept as sent. */
  z: number;
  rcode: number;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
}

/** The numeric TYPE of a record. */
export function recordTypeCode(r: DnsRecord): number {
  return r.type === 'RAW' ? r.code : RR_TYPE[r.type];
}

/** A query with one question and recursion desired: what stub resolvers send. */
export function newQuery(id: number, name: string, type: number): DnsMessage {
  return {
    id,
    qr: false,
    opcode: OPCODE_QUERY,
    aa: false,
    tc: false,
    rd: true,
    ra: false,
    z: 0,
    rcode: RCODE.NOERROR,
    questions: [{ name, type, class: RR_CLASS_IN }],
    answers: [],
    authorities: [],
    additionals: [],
  };
}

/** The response skeleton for a query: same id, question and RD; no records yet. */
export function responseTo(query: DnsMessage, rcode: number): DnsMessage {
  return {
    id: query.id,
    qr: true,
    opcode: query.opcode,
    aa: false,
    tc: false,
    rd: query.rd,
    ra: true,
    z: 0,
    rcode,
    questions: query.questions.slice(0, 1),
    answers: [],
    authorities: [],
    additionals: [],
  };
}
