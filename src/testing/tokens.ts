// For tests: the ID (\`jti\`) of a node or workload credential, as its audit lines name it, read from
// the token's payload without verifying it (the tests hold tokens the control plane just issued).
export function credentialIdOf(token: string): string {
  const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { jti?: unknown };
  if (typeof payload.jti !== 'string') throw new Error(`not a credential token: its payload has no jti (${JSON.stringify(payload)})`);
  return payload.jti;
}
