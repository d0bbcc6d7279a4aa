// Checks the shape of a WirePolicy as it arrives from the configuration stream, which only
// promises that `spec` is an object. A policy that is half understood is a hole, so any
// unknown field, wrong type or unusable value fails compilation with INVALID_POLICY naming the
// policy, the field path and the value, instead of being skipped.
import { AmbitError, showValue } from '../errors.js';

export type Obj = Record<string, unknown>;

export class ShapeReader {
  constructor(readonly policyId: string) {}

  fail(path: string, why: string, value: unknown): never {
    throw new AmbitError('INVALID_POLICY', `Cannot compile authorization policy ${this.policyId}: ${path} ${why}, got ${showValue(value)}`, {
      path,
      value,
    });
  }

  object(v: unknown, path: string, allowed: readonly string[]): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, 'must be a mapping', v);
    for (const key of Object.keys(v)) {
      if (!allowed.includes(key)) this.fail(`${path}.${key}`, `is not a field ambit evaluates (known: ${allowed.join(', ')})`, (v as Obj)[key]);
    }
    return v as Obj;
  }

  /** A list, or [] when absent (Istio treats a missing list like an empty one). */
  list(v: unknown, path: string): unknown[] {
    if (v === undefined) return [];
    if (!Array.isArray(v)) this.fail(path, 'must be a list', v);
    return v;
  }

  /** A non-empty list of values accepted by `check` (which returns why a value is unusable, or null). */
  values<T>(v: unknown, path: string, check: (x: unknown) => string | null): T[] {
    if (!Array.isArray(v) || v.length === 0) this.fail(path, 'must be a non-empty list', v);
    v.forEach((x, i) => {
      const problem = check(x);
      if (problem !== null) this.fail(`${path}[${i}]`, problem, x);
    });
    return v as T[];
  }
}
