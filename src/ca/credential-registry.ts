// The credentials this control plane issued and that have not expired yet: each node or workload
// credential's ID (`jti`), the node it was issued to and when it expires. Kept so that revoking
// one credential by ID (revocations.ts) can say "no such credential" for an ID that was never
// issued (a typo would otherwise be accepted and revoke nothing), and can name the right node for
// an ID given with the wrong one, also while no session of it is open.
//
// In the CA's directory (`issued-credentials.json`, 0600, replaced whole by a durable rename) and
// written before a credential is handed out: an issuance that cannot be recorded fails. Entries
// are dropped a week after their credential expired. Every issuance rewrites the file (two
// fsyncs): fine at the rate operators provision nodes, not for thousands of credentials a second.
//
// A registry started beside a token key that already existed (a control plane upgraded from
// before the registry) does not know the credentials issued before it: until the longest
// credential lifetime has passed since it started, an unknown ID may be one of those, and is
// taken on its form alone, as before. A registry started with a new token key knows them all.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AmbitError, showValue } from '../errors.js';
import { replaceFileDurably } from '../store/index.js';
import { credentialEntry, isObject, parseStateObject, unixSeconds, wholeSeconds } from './state-file.js';

export const ISSUED_CREDENTIALS_FILE = 'issued-credentials.json';
/** An entry is kept this long past its credential's expiry, for a clock that moves. */
export const KEPT_AFTER_EXPIRY_SECONDS = 7 * 86400;

export interface IssuedCredential {
  node: string;
  /** Unix seconds. */
  issuedAt: number;
  expiresAt: number;
  /** A workload credential's SPIFFE ID (none: a node credential). */
  identity?: string;
}

interface RegistryState {
  /** When the registry started (Unix seconds). */
  since: number;
  /** Whether it has known every credential of its token key from the start. */
  complete: boolean;
  credentials: Map<string, IssuedCredential>;
}

function corrupt(path: string, why: string): never {
  throw new AmbitError('ISSUED_CREDENTIALS_INVALID', `Cannot load the issued-credential registry from ${path}: ${why}; move the file aside to start a new registry (unknown credential IDs are then taken on their form alone, as for a control plane upgraded to it)`, { path });
}


/** The file's content, checked whole. */
export function parseIssuedCredentials(text: string, path: string): RegistryState {
  const bad: (why: string) => never = (why) => corrupt(path, why);
  // An unknown version is reported as such, before its fields.
  const o = parseStateObject(text, (v) => (v.version === 1 ? ['version', 'since', 'complete', 'credentials'] : Object.keys(v)), bad);
  if (o.version !== 1) bad(`version must be 1, got ${showValue(o.version)}`);
  if (!wholeSeconds(o.since)) bad(`since must be a whole number of seconds, got ${showValue(o.since)}`);
  if (typeof o.complete !== 'boolean') bad(`complete must be true or false, got ${showValue(o.complete)}`);
  if (!isObject(o.credentials)) bad(`credentials must be an object of credential ID to {node, issuedAt, expiresAt}, got ${showValue(o.credentials)}`);
  const credentials = new Map<string, IssuedCredential>();
  for (const [id, e] of Object.entries(o.credentials as Record<string, unknown>)) {
    const { node, issuedAt, expiresAt, optional } = credentialEntry(id, e, ['issuedAt', 'expiresAt'], bad, ['identity']);
    credentials.set(id, { node, issuedAt, expiresAt, ...(optional.identity !== undefined ? { identity: optional.identity } : {}) });
  }
  return { since: o.since as number, complete: o.complete as boolean, credentials };
}

export class CredentialRegistry {
  private constructor(
    private readonly path: string,
    private state: RegistryState,
  ) {}

  /**
   * Loads `dir`/issued-credentials.json. With none yet, starts one (on disk at once, so its start
   * survives a restart): `complete` when the token key was made in this same start.
   */
  static load(dir: string, opts: { complete: boolean; now?: Date }): CredentialRegistry {
    const path = join(dir, ISSUED_CREDENTIALS_FILE);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      const registry = new CredentialRegistry(path, { since: unixSeconds(opts.now ?? new Date()), complete: opts.complete, credentials: new Map() });
      registry.commit(registry.state.credentials);
      return registry;
    }
    return new CredentialRegistry(path, parseIssuedCredentials(text, path));
  }

  /** Records an issued credential (on disk before it returns); entries a week past their expiry are dropped. */
  record(credential: string, c: { node: string; issuedAt: Date; expiresAt: Date; identity?: string }, now = new Date()): void {
    const t = unixSeconds(now) - KEPT_AFTER_EXPIRY_SECONDS;
    const next = new Map([...this.state.credentials].filter(([, e]) => e.expiresAt > t));
    next.set(credential, { node: c.node, issuedAt: unixSeconds(c.issuedAt), expiresAt: unixSeconds(c.expiresAt), ...(c.identity !== undefined ? { identity: c.identity } : {}) });
    this.commit(next);
  }

  /** The unexpired credentials of `node` (every node's when undefined), oldest first. */
  list(node?: string, now = new Date()): Array<{ credential: string } & IssuedCredential> {
    return [...this.live(now)]
      .filter(([, e]) => node === undefined || e.node === node)
      .map(([credential, e]) => ({ credential, ...e }))
      .sort((a, b) => a.issuedAt - b.issuedAt || a.credential.localeCompare(b.credential));
  }

  /**
   * The credential with this ID, also for a week after it expired: a clock set back (after it ran
   * ahead) could make it verify again, and it must still be revocable by ID then.
   */
  lookup(credential: string): IssuedCredential | undefined {
    return this.state.credentials.get(credential);
  }

  /**
   * Whether every unexpired credential is in the registry: it started with its token key, or has
   * run longer than a credential can live (`maxLifetimeSeconds`).
   */
  knowsAll(maxLifetimeSeconds: number, now = new Date()): boolean {
    return this.state.complete || unixSeconds(now) - this.state.since > maxLifetimeSeconds;
  }

  /**
   * The latest issuedAt (Unix seconds) of any credential of `node` this registry holds, expired
   * ones kept for their week included; undefined when it holds none. A revocation cuts at least
   * here: a clock that ran ahead stamped those credentials later than the clock says now.
   */
  newestIssuedAt(node: string): number | undefined {
    let newest: number | undefined;
    for (const e of this.state.credentials.values()) if (e.node === node && (newest === undefined || e.issuedAt > newest)) newest = e.issuedAt;
    return newest;
  }

  /** When the registry started, and whether it knew every credential from then. */
  info(): { since: Date; complete: boolean; credentials: number } {
    return { since: new Date(this.state.since * 1000), complete: this.state.complete, credentials: this.state.credentials.size };
  }

  private live(now: Date): Map<string, IssuedCredential> {
    const t = unixSeconds(now);
    return new Map([...this.state.credentials].filter(([, e]) => e.expiresAt > t));
  }

  /** On disk first, then in memory: a failed write changes nothing. */
  private commit(credentials: Map<string, IssuedCredential>): void {
    const file = { version: 1, since: this.state.since, complete: this.state.complete, credentials: Object.fromEntries(credentials) };
    replaceFileDurably(this.path, `${JSON.stringify(file, null, 2)}\n`);
    this.state = { ...this.state, credentials };
  }
}
