// The per-connection decision, over policies compiled once: the node proxy builds a
// PolicyEvaluator whenever its policy set changes and asks it for every connection. Policies
// are indexed by namespace so a decision only touches the target's namespace and the root's.
//
// Order (Istio): any matching DENY denies; else no ALLOW in scope allows; else a matching ALLOW
// allows; else deny. Within each step policies are visited root namespace first, then by name,
// so the policy named in a decision does not depend on the order the policies arrived in.
import { AmbitError, showValue } from '../errors.js';
import type { WirePolicy } from '../stream/index.js';
import { compilePolicy, selects, type CompiledPolicy } from './compile.js';
import { checkTarget, toRequest, type Request } from './request.js';
import type { CompiledRule } from './compile-rule.js';
import type { ConnectionAttributes, Decision, Layer, PolicyTarget } from './types.js';

const L4_BLIND = 'HTTP attributes that L4 cannot see';
const NO_HOST = 'hosts, and this connection carries no host';

/**
 * What a rule reads that this request cannot show, if anything (ztunnel's reading, also Istio's
 * for hosts): HTTP fields at L4, hosts/notHosts where no host was given.
 */
function blindness(rule: CompiledRule, req: Request): string | undefined {
  if (req.layer === 'L4' && rule.usesHttp) return L4_BLIND;
  if (rule.usesHosts && req.host === undefined) return NO_HOST;
  return undefined;
}

export class PolicyEvaluator {
  readonly rootNamespace: string;
  readonly #byNamespace = new Map<string, CompiledPolicy[]>();

  constructor(policies: Iterable<WirePolicy>, opts: { rootNamespace: string }) {
    const root = opts?.rootNamespace;
    if (typeof root !== 'string' || root === '') {
      throw new AmbitError('INVALID_POLICY_OPTIONS', `Cannot compile authorization policies: opts.rootNamespace must be a non-empty string, got ${showValue(root)}`, {
        path: 'opts.rootNamespace',
        value: root,
      });
    }
    this.rootNamespace = root;
    for (const p of policies) {
      const compiled = compilePolicy(p);
      const list = this.#byNamespace.get(compiled.namespace) ?? [];
      list.push(compiled);
      this.#byNamespace.set(compiled.namespace, list);
    }
    for (const list of this.#byNamespace.values()) list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Compiled policies that apply to the target, root namespace first. */
  applicable(target: PolicyTarget): CompiledPolicy[] {
    checkTarget(target);
    const scopes = target.namespace === this.rootNamespace ? [this.rootNamespace] : [this.rootNamespace, target.namespace];
    const out: CompiledPolicy[] = [];
    for (const ns of scopes) {
      for (const p of this.#byNamespace.get(ns) ?? []) if (selects(p, target.labels)) out.push(p);
    }
    return out;
  }

  policiesFor(target: PolicyTarget): WirePolicy[] {
    return this.applicable(target).map((p) => p.wire);
  }

  authorize(target: PolicyTarget, conn: ConnectionAttributes, opts: { layer: Layer }): Decision {
    const applicable = this.applicable(target);
    const req = toRequest(conn, opts?.layer);
    const allows: CompiledPolicy[] = [];
    for (const p of applicable) {
      if (p.action === 'ALLOW') {
        allows.push(p);
        continue;
      }
      const rule = p.rules.find((r) => r.matches(req));
      if (rule === undefined) continue;
      const blind = blindness(rule, req);
      const why = blind ? `: rules[${rule.index}] uses ${blind}, so it applies to the whole connection` : '';
      return { allowed: false, policy: p.id, action: 'DENY', reason: `denied by DENY policy ${p.id}${why}` };
    }
    if (allows.length === 0) return { allowed: true, reason: 'allowed: no ALLOW policy applies' };
    const skipped = new Map<string, string[]>();
    for (const p of allows) {
      for (const rule of p.rules) {
        // ztunnel's fail-safe: an ALLOW rule that needs what the request cannot show never matches.
        const blind = blindness(rule, req);
        if (blind) skipped.set(blind, [...(skipped.get(blind) ?? []), `${p.id} rules[${rule.index}]`]);
        else if (rule.matches(req)) return { allowed: true, policy: p.id, action: 'ALLOW', reason: `allowed by ALLOW policy ${p.id}` };
      }
    }
    const names = allows.map((p) => p.id).join(', ');
    const note = [...skipped].map(([blind, rules]) => `; not evaluated ${blind === L4_BLIND ? 'at L4 ' : ''}because the rule uses ${blind}: ${rules.join(', ')}`).join('');
    return { allowed: false, reason: `no ALLOW policy matched (policies: ${names})${note}` };
  }
}

/** Compiles policies once for many decisions; throws INVALID_POLICY naming the first bad field. */
export function compilePolicies(policies: Iterable<WirePolicy>, opts: { rootNamespace: string }): PolicyEvaluator {
  return new PolicyEvaluator(policies, opts);
}
