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

  /** The list a config version carries (undefined: none, nothing revoked). */
  static of(list: SvidRevocationList | undefined): RevokedSvids {
    return list === undefined ? RevokedSvids.NONE : new RevokedSvids(list);
  }

  constructor(list: SvidRevocationList) {
    this.nodes = new Map(Object.entries(list.nodes));
    this.credentials = new Set(list.credentials);
  }

  /** Both lists at once: a node's later cut, every credential of either. */
  union(other: RevokedSvids): RevokedSvids {
    if (other.empty) return this;
    if (this.empty) return other;
    const nodes: Record<string, number> = Object.fromEntries(this.nodes);
    for (const [node, t] of other.nodes) nodes[node] = Math.max(t, nodes[node] ?? t);
    return new RevokedSvids({ nodes, credentials: [...new Set([...this.credentials, ...other.credentials])] });
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
   * older than it) cannot be matched and passes: it expires within the mesh's SVID TTL. While
   * anything is revoked, one whose certificate or extension cannot be read is refused (no CA of
   * this mesh writes it so); with nothing revoked, the certificate is not read at all.
   */
  readonly check: PeerCertificateCheck = (certDer) => {
    if (this.empty) return undefined;
    let from: IssuedTo | undefined;
    try {
      from = issuedToOf(certDer);
    } catch (err) {
      return `its issued-to extension cannot be read, so it cannot be cleared of the revocations (${(err as Error).message})`;
    }
    return from === undefined ? undefined : this.reasonFor(from);
  };

  private reasonFor(from: IssuedTo): string | undefined {
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

/**
 * The revocations a proxy enforces: those of the version it applied, tightened by those of any
 * version it rejected since. A version is rejected whole for any one resource the proxy cannot
 * take (a policy it cannot enforce, an unreadable CA bundle), and the control plane then resends
 * the same changes until it is fixed: a revocation must not wait for that. Taking a rejected
 * version's list can only refuse more, never accept more, so it is safe; the next applied version
 * carries the list again (it holds every change since the last applied one) and replaces it.
 */
export class RevocationView {
  private enforced = RevokedSvids.NONE;

  get current(): RevokedSvids {
    return this.enforced;
  }

  /** The list of a version the proxy applied: the control plane's whole word. Returns whether what is enforced changed. */
  apply(list: RevokedSvids): boolean {
    return this.set(list);
  }

  /** The list a rejected version carried: added to what is enforced. Returns whether that changed. */
  reject(list: RevokedSvids): boolean {
    return this.set(this.enforced.union(list));
  }

  private set(next: RevokedSvids): boolean {
    if (next.sameAs(this.enforced)) return false;
    this.enforced = next;
    return true;
  }
}

const iso = (seconds: number): string => new Date(seconds * 1000).toISOString();
