// The simple entry points: one call, plain data in, a Decision out. They compile the policies
// on every call; a caller deciding many connections should hold a PolicyEvaluator instead
// (compilePolicies), which gives the same answers.
import type { WirePolicy } from '../stream/index.js';
import { PolicyEvaluator } from './evaluator.js';
import type { AuthorizeOptions, ConnectionAttributes, Decision, PolicyTarget } from './types.js';

export function authorize(
  policies: Iterable<WirePolicy>,
  target: PolicyTarget,
  conn: ConnectionAttributes,
  opts: AuthorizeOptions,
): Decision {
  return new PolicyEvaluator(policies, opts).authorize(target, conn, opts);
}

/** The policies that apply to `target`: its namespace's and the root namespace's, selector permitting. */
export function policiesFor(policies: Iterable<WirePolicy>, target: PolicyTarget, rootNamespace: string): WirePolicy[] {
  return new PolicyEvaluator(policies, { rootNamespace }).policiesFor(target);
}
