// Node revocations: an operator cuts a node off (it was compromised, or retired) and every node
// or workload credential of that node issued up to then stops verifying, at once and for good,
// though each would have lived to its `exp`. Credentials issued later work (the node is
// re-provisioned). Kept in the CA's directory (`node-revocations.json`, 0600, replaced whole by a
// rename), so a restarted control plane still refuses them.
//
// The cut is by issue time in whole seconds (a credential's `iat`): a credential issued in the
// same second as the revocation is refused too; one issued a second later is not.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AmbitError, showValue } from '../errors.js';
import { replaceFileDurably } from '../store/index.js';

export const NODE_REVOCATIONS_FILE = 'node-revocations.json';

export interface NodeRevocation {
  node: string;
  /** Credentials of `node` issued at or before this second (Unix time) are refused. */
  issuedUpTo: number;
}

function corrupt(path: string, why: string): never {
  throw new AmbitError('NODE_REVOCATIONS_INVALID', `Cannot load node revocations from ${path}: ${why}; refusing to start rather than accept revoked credentials`, { path });
}

/** The file's content, checked whole: version 1 and a map of node name to a whole-second time. */
export function parseRevocations(text: string, path: string): Map<string, number> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return corrupt(path, `not JSON (${(err as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) corrupt(path, 'not a JSON object');
  const o = v as Record<string, unknown>;
  const extra = Object.keys(o).find((k) => k !== 'version' && k !== 'nodes');
  if (extra !== undefined) corrupt(path, `unknown field ${JSON.stringify(extra)}`);
  if (o.version !== 1) corrupt(path, `version must be 1, got ${showValue(o.version)}`);
  const nodes = o.nodes;
  if (typeof nodes !== 'object' || nodes === null || Array.isArray(nodes)) corrupt(path, 'nodes must be an object of node name to time');
  const out = new Map<string, number>();
  for (const [node, t] of Object.entries(nodes as Record<string, unknown>)) {
    if (!Number.isSafeInteger(t) || (t as number) < 0) corrupt(path, `nodes[${JSON.stringify(node)}] must be a whole number of seconds, got ${showValue(t)}`);
    out.set(node, t as number);
  }
  return out;
}

export class NodeRevocations {
  private constructor(
    private readonly path: string,
    private readonly cut: Map<string, number>,
  ) {}

  /** Loads `dir`/node-revocations.json (none yet: nothing revoked). A file that cannot be read whole is an error. */
  static load(dir: string): NodeRevocations {
    const path = join(dir, NODE_REVOCATIONS_FILE);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new NodeRevocations(path, new Map());
      throw err;
    }
    return new NodeRevocations(path, parseRevocations(text, path));
  }

  /** Revokes every credential of `node` issued up to `now` (kept on disk before it returns). */
  revoke(node: string, now = new Date()): NodeRevocation {
    const issuedUpTo = Math.floor(now.getTime() / 1000);
    const next = new Map(this.cut);
    next.set(node, Math.max(issuedUpTo, this.cut.get(node) ?? 0));
    this.persist(next);
    this.cut.set(node, next.get(node)!);
    return { node, issuedUpTo: next.get(node)! };
  }

  /** Throws NODE_TOKEN_REVOKED when a credential of `node` issued at `iat` (seconds) was revoked. */
  check(node: string, iat: number): void {
    const upTo = this.cut.get(node);
    if (upTo === undefined || iat > upTo) return;
    throw new AmbitError(
      'NODE_TOKEN_REVOKED',
      `Cannot verify node token for node ${JSON.stringify(node)}: credentials of this node issued up to ${new Date(upTo * 1000).toISOString()} were revoked (this one was issued at ${new Date(iat * 1000).toISOString()}); issue a new one`,
      { path: 'token.iat', value: iat },
    );
  }

  list(): NodeRevocation[] {
    return [...this.cut].map(([node, issuedUpTo]) => ({ node, issuedUpTo })).sort((a, b) => a.node.localeCompare(b.node));
  }

  private persist(cut: Map<string, number>): void {
    replaceFileDurably(this.path, `${JSON.stringify({ version: 1, nodes: Object.fromEntries(cut) }, null, 2)}\n`);
  }
}
