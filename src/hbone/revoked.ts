// Revoked SVIDs: the one place a proxy decides whether a peer's certificate, valid and chained to
// the trust roots, was issued to a node (or with a credential) the control plane has since
// revoked. The control plane sends the list on the config stream (stream/resources.ts,
// WireRevocations); the SVID says where it came from (identity/issued-to.ts). Pure: table-tested.
import { issuedToOf, type IssuedTo } from '../identity/index.js';

export interface SvidRevocationList {
  /** Node name to Unix second: the node's SVIDs issued at or before it are refused. */
  readonly nodes: Readonly<Record<string, number>>;
  /** Credential IDs: SVIDs asked for by a session of one of them are refused. */
  readonly credentials: readonly string[];
}

/** Why a peer's certificate (DER) is refused, or undefined when it is not revoked. */
export type PeerCertificateCheck = (certDer: Buffer) => string | undefined;

export class RevokedSvids {
  static readonly NONE = new RevokedSvids({ nodes: {}, credentials: [] });

  private readonly nodes: ReadonlyMap<string, number>;
  private readonly credentials: ReadonlySet<string>;

  constructor(list: SvidRevocationList) {
    this.nodes = new Map(Object.entries(list.nodes));
    this.credentials = new Set(list.credentials);
  }

  /** Whether both lists hold the same entries. */
  sameAs(other: RevokedSvids): boolean {
    if (other === this) return true;
    if (other.nodes.size !== this.nodes.size || other.credentials.size !== this.credentials.size) return false;
    for (const [node, t] of this.nodes) if (other.nodes.get(node) !== t) return false;
    for (const c of this.credentials) if (!other.credentials.has(c)) return false;
    return true;
  }

  /** For config dumps: each revoked node with its cut as an ISO time, and the revoked credential IDs. */
  describe(): { nodes: { node: string; issuedUpTo: string }[]; credentials: string[] } {
    return {
      nodes: [...this.nodes].sort(([a], [b]) => a.localeCompare(b)).map(([node, t]) => ({ node, issuedUpTo: iso(t) })),
      credentials: [...this.credentials].sort(),
    };
  }

  get empty(): boolean {
    return this.nodes.size === 0 && this.credentials.size === 0;
  }

  /**
   * Why `certDer` is refused, or undefined. An SVID without the issued-to extension (from a CA
   * older than it) cannot be matched and passes: it expires within the mesh's SVID TTL. One whose
   * extension cannot be read is refused: no CA of this mesh writes it so.
   */
  readonly check: PeerCertificateCheck = (certDer) => {
    if (this.empty) return undefined;
    let from: IssuedTo | undefined;
    try {
      from = issuedToOf(certDer);
    } catch (err) {
      return (err as Error).message;
    }
    return from === undefined ? undefined : this.reasonFor(from);
  };

  reasonFor(from: IssuedTo): string | undefined {
    const node = JSON.stringify(from.node);
    if (this.credentials.has(from.credential)) {
      return `the certificate was issued to node ${node} through credential ${from.credential}, which was revoked`;
    }
    const upTo = this.nodes.get(from.node);
    if (upTo !== undefined && from.issuedAt <= upTo) {
      return `the certificate was issued to node ${node} at ${iso(from.issuedAt)}, and that node's credentials issued up to ${iso(upTo)} were revoked`;
    }
    return undefined;
  }
}

const iso = (seconds: number): string => new Date(seconds * 1000).toISOString();
