// Brings one pod to life or ends it: address from the node's IPAM, a user of its own (uid, HOME,
// TMPDIR), network, then each container as that user without capabilities in the pod's
// namespace, with its own log file. The one exception is the lab's egress gateway
// (egress-gateway.ts decides which pod that is): it is not enrolled into the node proxy (it
// terminates HBONE itself) and its workload credential is handed to its user, 0400, so that no
// other pod can read it.
import type { PodResource } from '../config/types.js';
import { ANNOTATIONS } from '../config/types.js';
import { AmbitError, showValue } from '../errors.js';
import type { PodIpam } from './ipam.js';
import type { LabPlan } from './plan.js';
import { findNode } from './plan.js';
import { createPodNetwork, removePodNetwork } from './pod-network.js';
import { netnsInode, pidsInNetns, spawnDetached, stopProcesses } from './processes.js';
import { isEgressGatewayPod, releaseGatewayToken, handGatewayToken } from './egress-gateway.js';
import { createPodHome, podUser, removePodHome, type PodUidAllocator } from './pod-users.js';
import { containerLogFile, type ContainerRecord, type PodRecord } from './state.js';
import { podKey, podNetns } from './names.js';
import { enrollPod, enrolledPod, releasePod } from './mesh.js';
import { POD_SYSCTLS } from '../nodeproxy/redirect/install.js';
import { sysctlIn } from './shell.js';

/** What, in a Pod, the lab builds from: a change here means rebuild the pod. */
export function podFingerprint(pod: PodResource): string {
  return JSON.stringify({ spec: pod.spec, ip: pod.metadata.annotations[ANNOTATIONS.podIP] ?? null });
}

/**
 * Creates the pod; throws an AmbitError (after undoing its partial work) when the pod cannot be
 * placed, addressed or started, so the caller can mark it Failed with that message.
 */
export async function createPod(plan: LabPlan, ipams: Map<string, PodIpam>, uids: PodUidAllocator, pod: PodResource): Promise<PodRecord> {
  const namespace = pod.metadata.namespace ?? 'default';
  const name = pod.metadata.name;
  const key = podKey(namespace, name);
  const node = findNode(plan, pod.spec.nodeName);
  const ipam = ipams.get(pod.spec.nodeName);
  if (!node || !ipam) {
    throw new AmbitError(
      'LAB_UNKNOWN_NODE',
      `Cannot place pod ${key}: spec.nodeName ${showValue(pod.spec.nodeName)} is not a lab node (nodes: ${plan.nodes.map((n) => n.name).join(', ')})`,
      { path: 'spec.nodeName', value: pod.spec.nodeName },
    );
  }
  const ip = ipam.allocate(key, pod.metadata.annotations[ANNOTATIONS.podIP]);
  const system = isEgressGatewayPod(plan, pod);
  const record: PodRecord = { namespace, name, node: node.name, ip, phase: 'Pending', fingerprint: podFingerprint(pod), containers: [] };
  if (system) record.system = true;
  try {
    const user = podUser(plan.lab, uids.allocate());
    record.uid = user.uid;
    createPodHome(plan.lab, user);
    if (system) handGatewayToken(plan.egress!, user);
    const net = await createPodNetwork(plan, node, namespace, name, ip);
    record.netns = net.netns;
    record.veth = net.veth;
    // Captured before anything runs in it: the app's first packet already goes through the mesh.
    if (!system) await enrollPod(plan, node.name, enrolledPod(namespace, name, ip, net.netns));
    // The egress gateway is not captured, so no node proxy tunes its namespace; it closes first
    // on every upstream socket it dials, like a node proxy inside a pod (POD_SYSCTLS), and runs
    // unprivileged: the lab sets it, as a kubelet applies a pod's securityContext.sysctls.
    else await sysctlIn(net.netns, POD_SYSCTLS);
    for (const c of pod.spec.containers) {
      const argv = [...c.command, ...c.args];
      if (argv.length === 0) {
        throw new AmbitError('LAB_POD_NO_COMMAND', `Cannot start pod ${key}: container ${showValue(c.name)} has no command`, { path: 'spec.containers.command', value: c.name });
      }
      const logFile = containerLogFile(plan.lab, namespace, name, c.name);
      const env: Record<string, string> = { POD_NAME: name, POD_NAMESPACE: namespace, POD_IP: ip, NODE_NAME: node.name };
      for (const e of c.env) env[e.name] = e.value;
      const pid = spawnDetached({ argv, netns: net.netns, user, logFile, env });
      const rec: ContainerRecord = { name: c.name, pid, logFile, startedAt: new Date().toISOString() };
      record.containers.push(rec);
    }
    record.phase = 'Running';
    return record;
  } catch (err) {
    await deletePod(plan, ipams, record);
    throw err;
  }
}

/** Stops every process in the pod's namespace, removes its network and HOME, and frees its address. */
export async function deletePod(plan: LabPlan, ipams: Map<string, PodIpam>, record: PodRecord): Promise<void> {
  const netns = record.netns ?? podNetns(plan.lab, record.namespace, record.name);
  const ino = netnsInode(netns);
  const pids = ino === undefined ? [] : pidsInNetns(new Set([ino]));
  // Only pids still inside the pod's namespace: a recorded pid may have been reused since.
  await stopProcesses(pids, 1000);
  if (!record.system) await releasePod(plan, record.node, { namespace: record.namespace, name: record.name });
  await removePodNetwork(netns);
  if (record.uid !== undefined) removePodHome(plan.lab, record.uid);
  if (record.system && plan.egress) releaseGatewayToken(plan.egress);
  if (record.ip !== undefined && ipams.get(record.node)?.ownerOf(record.ip) === podKey(record.namespace, record.name)) {
    ipams.get(record.node)!.release(record.ip);
  }
}
