// Invariant 7 below the mesh: every node namespace drops what heads for the internet unless it
// comes from the egress gateway pod (its veth and its address, on the gateway's node only), all
// protocols, forwarded or sent by the node itself. So a pod that slips past capture (or a node
// proxy that is tricked into dialling out) still cannot reach an outside host. Rendered from plain
// data (pure, table-tested) and loaded atomically by `lab up` and the agent, as kube-proxy.ts is.
import { AmbitError, showValue } from '../errors.js';
import { nftIn } from './shell.js';
import type { LabPlan, NodePlan } from './plan.js';

export const EGRESS_DROP_TABLE = 'ambit_lab_egress';

export interface EgressDrops {
  /** Addresses and CIDRs of the outside world (the lab's internet CIDR and its router). */
  internet: string[];
  /** The gateway pod on this node, once it runs: the one source let through. */
  gateway?: { veth: string; ip: string };
}

/** What a node drops: the gateway's exception only on the gateway's node, and only once it runs. */
export function egressDropsFor(plan: LabPlan, node: NodePlan, gateway?: { node: string; ip: string }): EgressDrops {
  const internet = [plan.inet.cidr, plan.inet.ip];
  const e = plan.egress;
  if (!e || !gateway || gateway.node !== node.name || e.node !== node.name) return { internet };
  return { internet, gateway: { veth: e.veth, ip: gateway.ip } };
}

const INTERFACE = /^[A-Za-z0-9_.-]{1,15}$/;

export function renderEgressDrops(d: EgressDrops): string {
  if (d.internet.length === 0) throw new AmbitError('LAB_EGRESS_INVALID', 'Cannot render the egress drops: internet lists no address', { path: 'internet', value: d.internet });
  // The name goes into nft quoted: only a kernel-valid interface name may get there.
  if (d.gateway && !INTERFACE.test(d.gateway.veth)) {
    throw new AmbitError('LAB_EGRESS_INVALID', `Cannot render the egress drops: gateway.veth ${showValue(d.gateway.veth)} is not an interface name`, { path: 'gateway.veth', value: d.gateway.veth });
  }
  const allow = d.gateway ? [`    iifname "${d.gateway.veth}" ip saddr ${d.gateway.ip} ip daddr @internet accept`] : [];
  return [
    `table ip ${EGRESS_DROP_TABLE} {}`,
    `delete table ip ${EGRESS_DROP_TABLE}`,
    `table ip ${EGRESS_DROP_TABLE} {`,
    '  counter forward_dropped {}',
    '  counter output_dropped {}',
    '  set internet {',
    '    type ipv4_addr; flags interval;',
    `    elements = { ${d.internet.join(', ')} }`,
    '  }',
    '  chain forward {',
    '    type filter hook forward priority 0; policy accept;',
    ...allow,
    '    ip daddr @internet counter name forward_dropped drop',
    '  }',
    '  chain output {',
    '    type filter hook output priority 0; policy accept;',
    '    ip daddr @internet counter name output_dropped drop',
    '  }',
    '}',
    '',
  ].join('\n');
}

export async function applyEgressDrops(netns: string, d: EgressDrops): Promise<void> {
  await nftIn(netns, renderEgressDrops(d));
}
