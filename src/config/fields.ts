// The strict field reader under every kind's parser: type checks, required/optional fields,
// unknown-field rejection, each failing with the full path of the field (`spec.ports[0].port`)
// and the offending value. The kind parsers stay declarative; the wording of every type error
// lives here, once. A FieldError is internal: parse.ts turns it into an AmbitError.
import { showValue } from '../errors.js';

export type Obj = Record<string, unknown>;
export type Reader<T> = (value: unknown, path: string) => T;

export class FieldError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
    readonly hasValue: boolean,
    readonly value?: unknown,
  ) {
    super(`${path === '' ? '' : `${path}: `}${reason}${hasValue ? `, got ${showValue(value)}` : ''}`);
    this.name = 'FieldError';
  }
}

/** Fails at `path`. Pass the offending value as the third argument to have it shown (`, got 70000`). */
export function fail(path: string, reason: string, ...got: [] | [unknown]): never {
  throw new FieldError(path, reason, got.length > 0, got[0]);
}

export const at = (path: string, key: string): string => (path === '' ? key : `${path}.${key}`);
export const idx = (path: string, i: number): string => `${path}[${i}]`;
/** Path of a user-chosen map key (labels, annotations): `metadata.labels["app"]`. */
export const keyAt = (path: string, key: string): string => `${path}[${JSON.stringify(key)}]`;

export function mapping(v: unknown, path: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'must be a mapping', v);
  return v as Obj;
}

export function list(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) fail(path, 'must be a list', v);
  return v;
}

export function str(v: unknown, path: string): string {
  if (typeof v !== 'string') fail(path, 'must be a string', v);
  return v;
}

export function nonEmptyStr(v: unknown, path: string): string {
  const s = str(v, path);
  if (s === '') fail(path, 'must not be empty');
  return s;
}

export function intIn(min: number, max: number, what = 'an integer'): Reader<number> {
  return (v, path) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      fail(path, `must be ${what} from ${min} to ${max}`, v);
    }
    return v;
  };
}

export const port: Reader<number> = intIn(1, 65535);

/** A string enum. `unsupported` maps values that exist elsewhere (Istio, Kubernetes) to why ambit refuses them. */
export function oneOf<T extends string>(allowed: readonly T[], unsupported: Record<string, string> = {}): Reader<T> {
  return (v, path) => {
    if (typeof v === 'string' && Object.hasOwn(unsupported, v)) {
      fail(path, `${JSON.stringify(v)} is not supported by ambit: ${unsupported[v]}`);
    }
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      fail(path, `must be one of ${allowed.join(', ')}`, v);
    }
    return v as T;
  };
}

export function listOf<T>(read: Reader<T>, opts: { nonEmpty?: string } = {}): Reader<T[]> {
  return (v, path) => {
    const items = list(v, path);
    if (opts.nonEmpty !== undefined && items.length === 0) fail(path, opts.nonEmpty);
    return items.map((item, i) => read(item, idx(path, i)));
  };
}

/** A mapping of user-chosen string keys to values; `check` validates each key before its value. */
export function mapOf<T>(read: Reader<T>, checkKey: (key: string, path: string) => void = () => {}): Reader<Record<string, T>> {
  return (v, path) => {
    const entries = Object.entries(mapping(v, path)).map(([k, val]): [string, T] => {
      checkKey(k, keyAt(path, k));
      return [k, read(val, keyAt(path, k))];
    });
    // fromEntries defines own properties, so a key such as "__proto__" cannot reach the prototype.
    return Object.fromEntries(entries);
  };
}

/**
 * Rejects the first key (in document order) that is not in `known`. Keys in `unsupported` are
 * real Kubernetes/Istio fields that ambit refuses; their message says so, and why.
 */
/** The first key of `o` (in document order) that is not in `known`, if any: the one home of that rule. */
export function unknownField(o: object, known: readonly string[]): string | undefined {
  return Object.keys(o).find((key) => !known.includes(key));
}

export function checkFields(o: Obj, path: string, known: readonly string[], unsupported: Record<string, string> = {}): void {
  for (const key of Object.keys(o)) {
    if (known.includes(key)) continue;
    if (Object.hasOwn(unsupported, key)) {
      const why = unsupported[key];
      fail(at(path, key), `not supported by ambit${why ? `: ${why}` : ''}`);
    }
    fail(at(path, key), 'unknown field');
  }
}

export function has(o: Obj, key: string): boolean {
  return Object.hasOwn(o, key);
}

export function req<T>(o: Obj, key: string, path: string, read: Reader<T>): T {
  const p = at(path, key);
  if (!has(o, key)) fail(p, 'required');
  return read(o[key], p);
}

export function opt<T>(o: Obj, key: string, path: string, read: Reader<T>): T | undefined {
  return has(o, key) ? read(o[key], at(path, key)) : undefined;
}

/** Fails when two items share a key: `spec.ports[1]: duplicate port 80/TCP (also spec.ports[0])`. */
export function noDuplicates<T>(items: T[], path: string, keyOf: (item: T) => string | undefined, what: string): void {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const key = keyOf(item);
    if (key === undefined) return;
    const first = seen.get(key);
    if (first !== undefined) fail(idx(path, i), `duplicate ${what} ${key} (also ${idx(path, first)})`);
    seen.set(key, i);
  });
}
