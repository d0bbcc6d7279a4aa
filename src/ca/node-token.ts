// Node credentials: a node proxy proves which node it runs on with a short-lived ES256 token
// (JWT-shaped) that the control plane issued. The CA's node-scoped decision trusts only the
// node name inside a token that verifies here. A *workload* credential is the same token with
// one more claim, `identity` (a SPIFFE ID): it speaks for one workload (the egress gateway, later
// waypoints) on that node, and its session may obtain an SVID for that identity only.
import { createPrivateKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AmbitError, showValue } from '../errors.js';

export const NODE_TOKEN_AUDIENCE = 'ambit-control-plane';
export const NODE_TOKEN_KEY_FILE = 'node-token-key.pem';

export interface NodeTokenClaims {
  sub: string;
  iat: number;
  exp: number;
  jti: string;
  aud: string;
  /** Workload credentials only: the one SPIFFE ID its holder may obtain an SVID for. */
  identity?: string;
}

/** What a verified token speaks for. `identity` is set only on workload credentials. */
export interface VerifiedNodeToken {
  node: string;
  exp: Date;
  /** When it was issued (`iat`, Unix seconds): what a node revocation cuts by. */
  iat: number;
  /** The credential's own ID (`jti`): named in the audit lines of its issuance and of every session it opens. */
  credential: string;
  identity?: string;
}

const HEADER = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'JWT' })).toString('base64url');
const B64URL = /^[A-Za-z0-9_-]+$/;

function malformed(why: string): never {
  throw new AmbitError('NODE_TOKEN_MALFORMED', `Cannot verify node token: ${why}`, { path: 'token' });
}

function decodeJson(part: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    return malformed(`${what} is not base64url JSON`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) malformed(`${what} is not a JSON object`);
  return v as Record<string, unknown>;
}

export class NodeTokenIssuer {
  private constructor(private readonly key: KeyObject) {}

  static generate(): NodeTokenIssuer {
    return new NodeTokenIssuer(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
  }

  static fromPem(keyPem: string): NodeTokenIssuer {
    let key: KeyObject;
    try {
      key = createPrivateKey(keyPem);
    } catch (err) {
      throw new AmbitError('NODE_TOKEN_KEY_INVALID', 'Cannot load node token key: not a readable private key', { path: NODE_TOKEN_KEY_FILE, cause: err });
    }
    if (key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new AmbitError('NODE_TOKEN_KEY_INVALID', 'Cannot load node token key: ES256 needs an ECDSA P-256 key', { path: NODE_TOKEN_KEY_FILE });
    }
    return new NodeTokenIssuer(key);
  }

  static async load(dir: string): Promise<NodeTokenIssuer> {
    return NodeTokenIssuer.fromPem(await readFile(join(dir, NODE_TOKEN_KEY_FILE), 'utf8'));
  }

  /** Loads the key kept beside the CA in `dir`, or creates and saves one. */
  static async loadOrGenerate(dir: string): Promise<NodeTokenIssuer> {
    try {
      return await NodeTokenIssuer.load(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const issuer = NodeTokenIssuer.generate();
    await issuer.save(dir);
    return issuer;
  }

  async save(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, NODE_TOKEN_KEY_FILE);
    await writeFile(path, this.key.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
    await chmod(path, 0o600);
  }

  issue(node: string, ttlSeconds: number, now = new Date()): string {
    return this.signClaims(node, ttlSeconds, now, undefined);
  }

  /**
   * A workload credential: bound to `node` and to one SPIFFE ID. The caller (the admin API)
   * checks that `identity` is a workload ID of the mesh; here it must only be a spiffe:// URI.
   */
  issueWorkload(node: string, identity: string, ttlSeconds: number, now = new Date()): string {
    if (typeof identity !== 'string' || !identity.startsWith('spiffe://')) {
      throw new AmbitError('NODE_TOKEN_INVALID_REQUEST', `Cannot issue workload token: identity must be a spiffe:// URI, got ${showValue(identity)}`, { path: 'identity', value: identity });
    }
    return this.signClaims(node, ttlSeconds, now, identity);
  }

  private signClaims(node: string, ttlSeconds: number, now: Date, identity: string | undefined): string {
    const what = identity === undefined ? 'node token' : 'workload token';
    if (typeof node !== 'string' || node.length === 0) {
      throw new AmbitError('NODE_TOKEN_INVALID_REQUEST', `Cannot issue ${what}: node must be a non-empty string, got ${showValue(node)}`, { path: 'node', value: node });
    }
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0) {
      throw new AmbitError('NODE_TOKEN_INVALID_REQUEST', `Cannot issue ${what}: ttlSeconds must be a positive integer, got ${showValue(ttlSeconds)}`, { path: 'ttlSeconds', value: ttlSeconds });
    }
    const iat = Math.floor(now.getTime() / 1000);
    const claims: NodeTokenClaims = { sub: node, iat, exp: iat + ttlSeconds, jti: randomBytes(16).toString('base64url'), aud: NODE_TOKEN_AUDIENCE, ...(identity === undefined ? {} : { identity }) };
    const signed = `${HEADER}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    const sig = sign('sha256', Buffer.from(signed), { key: this.key, dsaEncoding: 'ieee-p1363' });
    return `${signed}.${sig.toString('base64url')}`;
  }

  /** The node a token speaks for; throws NODE_TOKEN_* when it is not valid at `now`. */
  verify(token: string, now = new Date()): VerifiedNodeToken {
    if (typeof token !== 'string') malformed('token is not a string');
    const parts = token.split('.');
    if (parts.length !== 3 || !parts.every((p) => B64URL.test(p))) malformed('expected three base64url parts separated by "."');
    const header = decodeJson(parts[0]!, 'header');
    if (header.alg !== 'ES256') malformed(`header alg ${showValue(header.alg)} is not "ES256"`);
    const sig = Buffer.from(parts[2]!, 'base64url');
    if (sig.length !== 64) malformed(`signature is ${sig.length} bytes, ES256 needs 64`);
    const ok = verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), { key: this.key, dsaEncoding: 'ieee-p1363' }, sig);
    if (!ok) throw new AmbitError('NODE_TOKEN_BAD_SIGNATURE', 'Cannot verify node token: signature does not verify with the control plane key', { path: 'token' });
    const claims = decodeJson(parts[1]!, 'payload');
    if (typeof claims.sub !== 'string' || claims.sub === '') malformed('payload sub is not a non-empty string');
    if (!Number.isSafeInteger(claims.exp)) malformed('payload exp is not an integer');
    if (!Number.isSafeInteger(claims.iat)) malformed('payload iat is not an integer');
    if (typeof claims.jti !== 'string' || claims.jti.length > 64 || !B64URL.test(claims.jti)) malformed('payload jti is not a credential ID (1-64 base64url characters)');
    if (claims.identity !== undefined && (typeof claims.identity !== 'string' || !claims.identity.startsWith('spiffe://'))) malformed('payload identity is not a spiffe:// URI');
    if (claims.aud !== NODE_TOKEN_AUDIENCE) {
      throw new AmbitError('NODE_TOKEN_AUDIENCE', `Cannot verify node token: audience ${showValue(claims.aud)} is not ${showValue(NODE_TOKEN_AUDIENCE)}`, { path: 'token.aud', value: claims.aud });
    }
    const exp = claims.exp as number;
    if (Math.floor(now.getTime() / 1000) >= exp) {
      throw new AmbitError('NODE_TOKEN_EXPIRED', `Cannot verify node token for node ${showValue(claims.sub)}: it expired at ${new Date(exp * 1000).toISOString()}`, { path: 'token.exp', value: exp });
    }
    return { node: claims.sub, exp: new Date(exp * 1000), iat: claims.iat as number, credential: claims.jti as string, ...(typeof claims.identity === 'string' ? { identity: claims.identity } : {}) };
  }
}
