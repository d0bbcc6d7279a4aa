// What the CA's small JSON state files (node-revocations.json, issued-credentials.json) share:
// reading one as a JSON object, and the checks of their fields. Each file names its own error
// (`corrupt`), so a message says which file could not be read, and why.
import { showValue } from '../errors.js';

/** A node or workload credential's ID (its `jti`): 1-64 base64url characters. */
export const CREDENTIAL_ID = /^[A-Za-z0-9_-]{1,64}$/;

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const wholeSeconds = (t: unknown): t is number => Number.isSafeInteger(t) && (t as number) >= 0;
export const unixSeconds = (d: Date): number => Math.floor(d.getTime() / 1000);

/** `text` as a JSON object whose keys are all in `fields`; else `corrupt` (which throws) says why not. */
export function parseStateObject(text: string, fields: (o: Record<string, unknown>) => readonly string[], corrupt: (why: string) => never): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return corrupt(`not JSON (${(err as Error).message})`);
  }
  if (!isObject(v)) return corrupt('not a JSON object');
  const allowed = fields(v);
  const extra = Object.keys(v).find((k) => !allowed.includes(k));
  if (extra !== undefined) corrupt(`unknown field ${JSON.stringify(extra)}`);
  return v;
}

/**
 * One `credentials` entry of a state file: keyed by a credential ID, an object with `node`, the
 * whole-seconds `times` and at most the `optional` strings, nothing else.
 */
export function credentialEntry<T extends string>(
  id: string, e: unknown, times: readonly T[], corrupt: (why: string) => never, optional: readonly string[] = [],
): { node: string; optional: Record<string, string> } & Record<T, number> {
  const where = `credentials[${JSON.stringify(id)}]`;
  if (!CREDENTIAL_ID.test(id)) corrupt(`${where}: not a credential ID (1-64 base64url characters)`);
  const known = ['node', ...times, ...optional];
  if (!isObject(e) || Object.keys(e).some((k) => !known.includes(k))) corrupt(`${where} must be exactly {${['node', ...times].join(', ')}}${optional.length ? `, and optionally ${optional.join(', ')}` : ''}`);
  const entry = e as Record<string, unknown>;
  if (typeof entry.node !== 'string' || entry.node === '') corrupt(`${where}.node must be a node name, got ${showValue(entry.node)}`);
  const out: Record<string, unknown> = { node: entry.node, optional: {} };
  for (const t of times) {
    if (!wholeSeconds(entry[t])) corrupt(`${where}.${t} must be a whole number of seconds, got ${showValue(entry[t])}`);
    out[t] = entry[t];
  }
  for (const k of optional) {
    if (entry[k] === undefined) continue;
    if (typeof entry[k] !== 'string' || entry[k] === '') corrupt(`${where}.${k} must be a non-empty string, got ${showValue(entry[k])}`);
    (out.optional as Record<string, string>)[k] = entry[k] as string;
  }
  return out as { node: string; optional: Record<string, string> } & Record<T, number>;
}
