// Node revocations: an operator cuts a node off (it was compromised, or retired) and every node
// or workload credential of that node issued up to then stops verifying, at once and for good,
// though each would have lived to its `exp`. Credentials issued later work (the node is
// re-provisioned). Kept in the CA's directory (`node-revocations.json`, 0600, replaced whole by a
// rename), so a restarted control plane still refuses them.
//
// The cut is by issue time in whole seconds (a credential's `iat`): a credential issued in the
// same second as the revocation is refused too; one issued a second later is not.
//
// One credential can be revoked alone, by its ID (`jti`, named in the audit lines of its issuance
// and sessions), leaving the node's others working. The control plane checks the ID against the
// credentials it issued first (credential-registry.ts); the entry here is kept for the longest
// lifetime a credential can have (MAX_CREDENTIAL_TTL_SECONDS) and a week's margin for the clock
// from the revocation, after which any credential with that ID has expired anyway.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AmbitError, showValue } from '../errors.js';
import { replaceFileDurably } from '../store/index.js';
import { CREDENTIAL_ID, credentialEntry, isObject, parseStateObject, unixSeconds, wholeSeconds } from './state-file.js';

export const NODE_REVOCATIONS_FILE = 'node-revocations.json';

/** The longest lifetime the control plane issues a node or workload credential for. */
export const MAX_CREDENTIAL_TTL_SECONDS = 366 * 86400;
/** Kept this much longer still, for a clock that moved between issuance and revocation. */
export const CREDENTIAL_REVOCATION_MARGIN_SECONDS = 7 * 86400;


export interface NodeRevocation {
  node: string;
  /** Credentials of `node` issued at or before this second (Unix time) are refused. */
  issuedUpTo: number;
}

export interface CredentialRevocation {
  /** The credential's ID (its `jti`). */
  credential: string;
  node: string;
  /** Kept until then (Unix seconds): by then every credential with this ID has expired. */
  keepUntil: number;
}

interface RevocationSets {
  nodes: Map<string, number>;
  credentials: Map<string, { node: string; keepUntil: number }>;
}

function corrupt(path: string, why: string): never {
  throw new AmbitError('NODE_REVOCATIONS_INVALID', `Cannot load node revocations from ${path}: ${why}; refusing to start rather than accept revoked credentials`, { path });
}

/** The file's content, checked whole: version 1 (nodes only) or 2 (nodes and credentials). */
export function parseRevocations(text: string, path: string): RevocationSets {
  const bad: (why: string) => never = (why) => corrupt(path, why);
  // An unknown version is reported as such, before its fields.
  const o = parseStateObject(text, (v) => (v.version === 1 ? ['version', 'nodes'] : v.version === 2 ? ['version', 'nodes', 'credentials'] : Object.keys(v)), bad);
  if (o.version !== 1 && o.version !== 2) bad(`version must be 1 or 2, got ${showValue(o.version)}`);
  if (!isObject(o.nodes)) bad('nodes must be an object of node name to time');
  const nodes = new Map<string, number>();
  for (const [node, t] of Object.entries(o.nodes as Record<string, unknown>)) {
    if (!wholeSeconds(t)) bad(`nodes[${JSON.stringify(node)}] must be a whole number of seconds, got ${showValue(t)}`);
    nodes.set(node, t);
  }
  const credentials = new Map<string, { node: string; keepUntil: number }>();
  if (o.version === 2) {
    if (!isObject(o.credentials)) bad('credentials must be an object of credential ID to {node, keepUntil}');
    for (const [id, e] of Object.entries(o.credentials as Record<string, unknown>)) {
      const { node, keepUntil } = credentialEntry(id, e, ['keepUntil'], bad);
      credentials.set(id, { node, keepUntil });
    }
  }
  return { nodes, credentials };
}


/** Throws NODE_REVOCATION_INVALID for an ID that no credential could have. */
export function checkCredentialId(node: string, credential: unknown): asserts credential is string {
  if (typeof credential !== 'string' || !CREDENTIAL_ID.test(credential)) {
    throw new AmbitError('NODE_REVOCATION_INVALID', `Cannot revoke a credential of node ${JSON.stringify(node)}: ${showValue(credential)} is not a credential ID (1-64 base64url characters, the "credential" of its audit lines)`, { path: 'credential', value: credential });
  }
}

export class NodeRevocations {
  private constructor(
    private readonly path: string,
    private sets: RevocationSets,
  ) {}

  /** Loads `dir`/node-revocations.json (none yet: nothing revoked). A file that cannot be read whole is an error. */
  static load(dir: string): NodeRevocations {
    const path = join(dir, NODE_REVOCATIONS_FILE);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new NodeRevocations(path, { nodes: new Map(), credentials: new Map() });
      throw err;
    }
    return new NodeRevocations(path, parseRevocations(text, path));
  }

  /**
   * Revokes every credential of `node` issued up to `now`, or up to `atLeast` (Unix seconds) when
   * that is later: the newest credential or SVID known to be stamped for the node, which a clock
   * that ran ahead and was set back since put after `now`. Kept on disk before it returns.
   */
  revoke(node: string, now = new Date(), atLeast = 0): NodeRevocation {
    const issuedUpTo = Math.max(unixSeconds(now), this.sets.nodes.get(node) ?? 0, atLeast);
    this.commit({ nodes: new Map(this.sets.nodes).set(node, issuedUpTo), credentials: this.live(now) });
    return { node, issuedUpTo };
  }

  /**
   * Revokes the one credential `credential` (its ID) of `node` (kept on disk before it returns).
   * Throws NODE_REVOCATION_INVALID for an ID that no credential could have.
   */
  revokeCredential(node: string, credential: string, now = new Date()): CredentialRevocation {
    checkCredentialId(node, credential);
    const keepUntil = unixSeconds(now) + MAX_CREDENTIAL_TTL_SECONDS + CREDENTIAL_REVOCATION_MARGIN_SECONDS;
    this.commit({ nodes: this.sets.nodes, credentials: this.live(now).set(credential, { node, keepUntil }) });
    return { credential, node, keepUntil };
  }

  /** Whether the credential `credential` of `node`, issued at `iat` (seconds), is revoked: alone, with its node, or not. */
  revokedBy(node: string, iat: number, credential: string): 'credential' | 'node' | undefined {
    if (this.sets.credentials.has(credential)) return 'credential';
    const upTo = this.sets.nodes.get(node);
    return upTo !== undefined && iat <= upTo ? 'node' : undefined;
  }

  /** Throws NODE_TOKEN_REVOKED when the credential `credential` of `node`, issued at `iat` (seconds), was revoked. */
  check(node: string, iat: number, credential?: string): void {
    const one = credential === undefined ? undefined : this.sets.credentials.get(credential);
    if (one !== undefined) {
      throw new AmbitError('NODE_TOKEN_REVOKED', `Cannot verify node token for node ${JSON.stringify(node)}: this credential (${credential}) was revoked; issue a new one`, { path: 'token.jti', value: credential });
    }
    const upTo = this.sets.nodes.get(node);
    if (upTo === undefined || iat > upTo) return;
    throw new AmbitError(
      'NODE_TOKEN_REVOKED',
      `Cannot verify node token for node ${JSON.stringify(node)}: credentials of this node issued up to ${new Date(upTo * 1000).toISOString()} were revoked (this one was issued at ${new Date(iat * 1000).toISOString()}); issue a new one`,
      { path: 'token.iat', value: iat },
    );
  }

  list(): NodeRevocation[] {
    return [...this.sets.nodes].map(([node, issuedUpTo]) => ({ node, issuedUpTo })).sort((a, b) => a.node.localeCompare(b.node));
  }

  credentials(): CredentialRevocation[] {
    return [...this.sets.credentials].map(([credential, e]) => ({ credential, ...e })).sort((a, b) => a.credential.localeCompare(b.credential));
  }

  /** The credential revocations still needed at `now` (a copy). */
  private live(now: Date): Map<string, { node: string; keepUntil: number }> {
    const t = unixSeconds(now);
    return new Map([...this.sets.credentials].filter(([, e]) => e.keepUntil > t));
  }

  /**
   * On disk first, then in memory: a failed write changes nothing. Version 1 while no credential
   * is revoked, so a control plane older than credential revocations can still read the file.
   */
  private commit(next: RevocationSets): void {
    const nodes = Object.fromEntries(next.nodes);
    const file = next.credentials.size === 0 ? { version: 1, nodes } : { version: 2, nodes, credentials: Object.fromEntries(next.credentials) };
    replaceFileDurably(this.path, `${JSON.stringify(file, null, 2)}\n`);
    this.sets = next;
  }
}
