import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { statSync } from 'node:fs';
import { NodeTokenIssuer, NODE_TOKEN_KEY_FILE } from '../../../src/ca/index.js';
import { OpensslDir } from '../identity/openssl.js';

const tmp = new OpensslDir('token');
after(() => tmp.remove());
const issuer = NodeTokenIssuer.generate();
const now = new Date('2030-01-01T00:00:00Z');
const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('NodeTokenIssuer', () => {
  test('issues a compact ES256 token that verifies', () => {
    const token = issuer.issue('node-1', 600, now);
    const [h, p, s] = token.split('.');
    assert.deepEqual(JSON.parse(Buffer.from(h!, 'base64url').toString()), { alg: 'ES256', typ: 'JWT' });
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    assert.deepEqual({ ...claims, jti: typeof claims.jti }, { sub: 'node-1', iat: 1893456000, exp: 1893456600, jti: 'string', aud: 'ambit-control-plane' });
    assert.equal(Buffer.from(s!, 'base64url').length, 64);
    assert.deepEqual(issuer.verify(token, now), { node: 'node-1', exp: new Date('2030-01-01T00:10:00Z'), iat: Date.parse('2030-01-01T00:00:00Z') / 1000, credential: claims.jti });
    assert.notEqual(issuer.issue('node-1', 600, now), token, 'jti makes tokens unique');
  });

  const token = issuer.issue('node-1', 600, now);
  const [h, p, s] = token.split('.') as [string, string, string];
  const other = NodeTokenIssuer.generate();
  const signWith = (header: string, payload: string): string => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    return `${header}.${payload}.${sign('sha256', Buffer.from(`${header}.${payload}`), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  };
  const cases: [string, () => string, Date, string, string][] = [
    ['garbage', () => 'nope', now, 'NODE_TOKEN_MALFORMED', 'Cannot verify node token: expected three base64url parts separated by "."'],
    ['empty part', () => `${h}..${s}`, now, 'NODE_TOKEN_MALFORMED', 'Cannot verify node token: expected three base64url parts separated by "."'],
    ['header not JSON', () => `${Buffer.from('x').toString('base64url')}.${p}.${s}`, now, 'NODE_TOKEN_MALFORMED', 'Cannot verify node token: header is not base64url JSON'],
    ['alg none', () => `${b64({ alg: 'none' })}.${p}.${s}`, now, 'NODE_TOKEN_MALFORMED', 'Cannot verify node token: header alg "none" is not "ES256"'],
    ['short signature', () => `${h}.${p}.${s.slice(0, 40)}`, now, 'NODE_TOKEN_MALFORMED', 'Cannot verify node token: signature is 30 bytes, ES256 needs 64'],
    ['forged by another key', () => other.issue('node-1', 600, now), now, 'NODE_TOKEN_BAD_SIGNATURE', 'Cannot verify node token: signature does not verify with the control plane key'],
    ['payload swapped to another node', () => `${h}.${b64({ sub: 'node-2', iat: 1893456000, exp: 1893456600, jti: 'x', aud: 'ambit-control-plane' })}.${s}`, now, 'NODE_TOKEN_BAD_SIGNATURE', 'Cannot verify node token: signature does not verify with the control plane key'],
    ['self-signed forgery', () => signWith(h, p), now, 'NODE_TOKEN_BAD_SIGNATURE', 'Cannot verify node token: signature does not verify with the control plane key'],
    ['expired', () => token, new Date('2030-01-01T00:10:00Z'), 'NODE_TOKEN_EXPIRED', 'Cannot verify node token for node "node-1": it expired at 2030-01-01T00:10:00.000Z'],
  ];
  for (const [name, make, at, code, message] of cases) {
    test(`rejects ${name}`, () => assert.throws(() => issuer.verify(make(), at), { code, message }));
  }

  test('rejects a wrong audience (validly signed)', async () => {
    // Build a correctly signed token for another audience with the issuer's own key via save/load.
    await issuer.save(tmp.dir);
    const { createPrivateKey } = await import('node:crypto');
    const key = createPrivateKey(tmp.read(NODE_TOKEN_KEY_FILE));
    const payload = b64({ sub: 'node-1', iat: 1893456000, exp: 1893456600, jti: 'x', aud: 'kubernetes' });
    const sig = sign('sha256', Buffer.from(`${h}.${payload}`), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
    assert.throws(() => issuer.verify(`${h}.${payload}.${sig}`, now), {
      code: 'NODE_TOKEN_AUDIENCE', message: 'Cannot verify node token: audience "kubernetes" is not "ambit-control-plane"',
    });
  });

  test('rejects a validly signed token without a usable credential ID (jti)', async () => {
    await issuer.save(tmp.dir);
    const { createPrivateKey } = await import('node:crypto');
    const key = createPrivateKey(tmp.read(NODE_TOKEN_KEY_FILE));
    for (const jti of [undefined, 7, '', 'a'.repeat(65), 'has space']) {
      const payload = b64({ sub: 'node-1', iat: 1893456000, exp: 1893456600, ...(jti === undefined ? {} : { jti }), aud: 'ambit-control-plane' });
      const sig = sign('sha256', Buffer.from(`${h}.${payload}`), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
      assert.throws(() => issuer.verify(`${h}.${payload}.${sig}`, now), {
        code: 'NODE_TOKEN_MALFORMED', message: 'Cannot verify node token: payload jti is not a credential ID (1-64 base64url characters)',
      }, `jti ${JSON.stringify(jti)}`);
    }
  });

  test('persists its key 0600 beside the CA and reloads it', async () => {
    const dir = tmp.path('state');
    const a = await NodeTokenIssuer.loadOrGenerate(dir);
    assert.equal(statSync(`${dir}/${NODE_TOKEN_KEY_FILE}`).mode & 0o777, 0o600);
    const b = await NodeTokenIssuer.loadOrGenerate(dir);
    assert.equal(b.verify(a.issue('n', 60, now), now).node, 'n');
  });

  test('refuses bad issue requests and bad keys', () => {
    assert.throws(() => issuer.issue('', 60), { code: 'NODE_TOKEN_INVALID_REQUEST', message: 'Cannot issue node token: node must be a non-empty string, got ""' });
    assert.throws(() => issuer.issue('n', -1), { code: 'NODE_TOKEN_INVALID_REQUEST', message: 'Cannot issue node token: ttlSeconds must be a positive integer, got -1' });
    assert.throws(() => NodeTokenIssuer.fromPem('junk'), { code: 'NODE_TOKEN_KEY_INVALID', message: 'Cannot load node token key: not a readable private key' });
  });
});
