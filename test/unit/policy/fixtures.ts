// Builders shared by the policy tables: wire policies, the protected workload, principals.
import type { WirePolicy } from '../../../src/stream/index.js';
import type { PolicyRule } from '../../../src/config/index.js';
import { authorize, type ConnectionAttributes, type Decision, type Layer, type PolicyTarget } from '../../../src/policy/index.js';

export const ROOT = 'ambit-system';

/** Istio principal form of a workload identity in the default trust domain. */
export const sa = (ns: string, name: string): string => `cluster.local/ns/${ns}/sa/${name}`;

export type LooseRule = { from?: PolicyRule['from']; to?: PolicyRule['to'] };

export function policy(
  namespace: string,
  name: string,
  action: 'ALLOW' | 'DENY',
  rules: LooseRule[],
  matchLabels?: Record<string, string>,
): WirePolicy {
  const spec: WirePolicy['spec'] = { action, rules: rules.map((r) => ({ from: r.from ?? [], to: r.to ?? [] })) };
  if (matchLabels !== undefined) spec.selector = { matchLabels };
  return { name, namespace, spec };
}

export const allow = (ns: string, name: string, rules: LooseRule[], labels?: Record<string, string>) => policy(ns, name, 'ALLOW', rules, labels);
export const deny = (ns: string, name: string, rules: LooseRule[], labels?: Record<string, string>) => policy(ns, name, 'DENY', rules, labels);

/** The protected workload in most cases: shop/web. */
export const web: PolicyTarget = { namespace: 'shop', labels: { app: 'web', tier: 'front' } };

/** A mutually authenticated peer front/web calling port 8080. */
export const fromFront: ConnectionAttributes = { principal: sa('front', 'web'), port: 8080 };
export const plaintext: ConnectionAttributes = { port: 8080 };

export function decide(
  policies: WirePolicy[],
  conn: ConnectionAttributes,
  opts: { layer?: Layer; target?: PolicyTarget } = {},
): Decision {
  return authorize(policies, opts.target ?? web, conn, { rootNamespace: ROOT, layer: opts.layer ?? 'L4' });
}
