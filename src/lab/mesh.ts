// The lab's side of the mesh: node proxies started per node, and pods enrolled into the proxy of
// their node before their processes start (so no app ever runs uncaptured), released before
// their namespace goes. Enrollment is the Unix-socket protocol of src/nodeproxy/enroll.ts.
import { existsSync } from 'node:fs';
import { sendEnrollment, type EnrolledPod } from '../nodeproxy/enroll.js';
import { AmbitError } from '../errors.js';
import { enrollSocketPath, type LabPlan } from './plan.js';
import { NETNS_DIR } from '../sys/netns.js';

export function enrolledPod(namespace: string, name: string, ip: string, netns: string): EnrolledPod {
  return { namespace, name, ip, netns: `${NETNS_DIR}/${netns}` };
}

/** Waits until every node proxy's enrollment socket answers. */
export async function waitForNodeProxies(plan: LabPlan, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (const n of plan.nodes) {
    const path = enrollSocketPath(plan, n.name);
    for (;;) {
      if (existsSync(path)) {
        try {
          await sendEnrollment(path, { op: 'snapshot', pods: [] }, 5_000);
          break;
        } catch {
          /* not answering yet */
        }
      }
      if (Date.now() > end) throw new AmbitError('LAB_NODE_PROXY_TIMEOUT', `Cannot start the lab: the node proxy of ${n.name} did not come up within ${timeoutMs} ms (see its log under the lab run dir)`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export async function enrollPod(plan: LabPlan, node: string, pod: EnrolledPod): Promise<void> {
  if (!plan.mesh) return;
  await sendEnrollment(enrollSocketPath(plan, node), { op: 'add', pod });
}

export async function releasePod(plan: LabPlan, node: string, pod: { namespace: string; name: string }): Promise<void> {
  if (!plan.mesh) return;
  // A proxy that is down holds nothing to release; the namespace goes away regardless.
  await sendEnrollment(enrollSocketPath(plan, node), { op: 'remove', pod }, 5_000).catch(() => {});
}

/** Re-sends every node's pods (after a node proxy restart it knows none). Idempotent. */
export async function resyncEnrollments(plan: LabPlan, pods: { node: string; pod: EnrolledPod }[]): Promise<void> {
  if (!plan.mesh) return;
  for (const n of plan.nodes) {
    const mine = pods.filter((p) => p.node === n.name).map((p) => p.pod);
    await sendEnrollment(enrollSocketPath(plan, n.name), { op: 'snapshot', pods: mine }, 10_000).catch(() => {});
  }
}
