// Compiles one WirePolicy into the form the evaluator runs per connection: its id, action,
// selector as label pairs, and each rule as a predicate. Shape errors surface here, once per
// configuration change, never in the middle of a connection.
import { AmbitError, showValue } from '../errors.js';
import type { WirePolicy } from '../stream/index.js';
import { compileRule, type CompiledRule } from './compile-rule.js';
import { ShapeReader } from './policy-shape.js';

export type PolicyActionName = 'ALLOW' | 'DENY';

export interface CompiledPolicy {
  /** `namespace/name`, as decisions and logs name it. */
  id: string;
  namespace: string;
  name: string;
  action: PolicyActionName;
  /** Label pairs that must all be on the target; undefined selects every workload in scope. */
  matchLabels: readonly (readonly [string, string])[] | undefined;
  rules: readonly CompiledRule[];
  wire: WirePolicy;
}

const REJECTED_ACTIONS: Record<string, string> = {
  CUSTOM: 'external authorization (CUSTOM) is not implemented; use ALLOW or DENY',
  AUDIT: 'AUDIT is not implemented; use ALLOW or DENY (every decision is logged anyway)',
};

export function compilePolicy(p: WirePolicy): CompiledPolicy {
  if (typeof p !== 'object' || p === null) {
    throw new AmbitError('INVALID_POLICY', `Cannot compile authorization policy: it must be an object, got ${showValue(p)}`, { value: p });
  }
  for (const key of ['namespace', 'name'] as const) {
    if (typeof p[key] !== 'string' || p[key] === '') {
      throw new AmbitError('INVALID_POLICY', `Cannot compile authorization policy: ${key} must be a non-empty string, got ${showValue(p[key])}`, {
        path: key,
        value: p[key],
      });
    }
  }
  const id = `${p.namespace}/${p.name}`;
  const rd: ShapeReader = new ShapeReader(id);
  const spec = rd.object(p.spec, 'spec', ['selector', 'action', 'rules']);
  const given = spec.action ?? 'ALLOW'; // Istio's default action
  if (given !== 'ALLOW' && given !== 'DENY') {
    rd.fail('spec.action', typeof given === 'string' && given in REJECTED_ACTIONS ? `is not supported: ${REJECTED_ACTIONS[given]}` : 'must be "ALLOW" or "DENY"', given);
  }
  const action: PolicyActionName = given;
  let matchLabels: [string, string][] | undefined;
  if (spec.selector !== undefined) {
    const selector = rd.object(spec.selector, 'spec.selector', ['matchLabels']);
    const labels = rd.object(selector.matchLabels, 'spec.selector.matchLabels', Object.keys(selector.matchLabels ?? {}));
    const pairs = Object.entries(labels).map(([k, v]): [string, string] => {
      if (typeof v !== 'string') rd.fail(`spec.selector.matchLabels[${JSON.stringify(k)}]`, 'must be a string', v);
      return [k, v];
    });
    if (pairs.length === 0) rd.fail('spec.selector.matchLabels', 'must select at least one label; omit the selector to select every workload', labels);
    matchLabels = pairs;
  }
  const rules = rd.list(spec.rules, 'spec.rules').map((r, i) => compileRule(r, i, action, rd));
  return { id, namespace: p.namespace, name: p.name, action, matchLabels, rules, wire: p };
}

/** True when the policy's selector (if any) is satisfied by the workload's labels. */
export function selects(policy: CompiledPolicy, labels: Record<string, string>): boolean {
  if (policy.matchLabels === undefined) return true;
  for (const [k, v] of policy.matchLabels) {
    if (!Object.hasOwn(labels, k) || labels[k] !== v) return false;
  }
  return true;
}
