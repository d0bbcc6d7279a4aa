// The egress gateway as a lab workload: the objects `lab up` applies (Namespace, ServiceAccount,
// Service and Pod in ambit-system), the one container command it runs, its workload credential
// on disk, and the wait for its readiness port. Also the one test that tells the agent that a pod
// is this system pod (not captured, and the owner of the credential): it must match the plan
// exactly, command included, so no ordinary pod can ever get that treatment. The gateway runs as
// its own pod user like every pod: no capabilities and no root, so the lab's root-owned secrets
// (CA keys, node tokens, the control plane's admin socket) are out of its reach.
import http from 'node:http';
import { chmodSync, chownSync, closeSync, constants, existsSync, fchmodSync, fchownSync, fstatSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AmbitError } from '../errors.js';
import { labRunDir } from '../paths.js';
import type { AdminApi } from '../controlplane/admin-api.js';
import type { PodResource, Resource } from '../config/types.js';
import type { EgressPlan, LabPlan } from './plan.js';
import { containerLogFile, readAgentState } from './state.js';
import { podKey } from './names.js';
import { isAlive, sleep } from './processes.js';
import type { PodUser } from './pod-users.js';

/** Lifetime of the gateway's workload credential (the lab's node credentials live as long). */
export const GATEWAY_TOKEN_TTL_SECONDS = 86400;

/** The narrow part of the admin API that deploying the gateway needs. */
export type GatewayDeployer = Pick<AdminApi, 'apply'> & {
  issueWorkloadToken(node: string, identity: string, ttlSeconds: number): Promise<string>;
};

export function meshCaFile(lab: string): string {
  return join(labRunDir(lab), 'mesh-ca.pem');
}

/** The gateway container's argv: every flag explicit, so the pod spec says all it does. */
export function egressGatewayArgv(plan: LabPlan, e: EgressPlan): string[] {
  return [
    'ambit', 'egress-gateway',
    '--node', e.node,
    '--control-plane', `${plan.cp.ip}:15012`,
    '--token-file', e.tokenFile,
    '--trust-bundle', meshCaFile(plan.lab),
    '--pod', podKey(e.namespace, e.pod),
    '--listen', `0.0.0.0:${e.hbonePort}`,
    '--dns', `${plan.inet.dnsAddress}:53`,
    '--admin-host', e.adminHost,
    '--trust-domain', e.trustDomain,
  ];
}

function meta(name: string, namespace?: string, labels: Record<string, string> = {}): { name: string; namespace?: string; labels: Record<string, string>; annotations: Record<string, string> } {
  return namespace === undefined ? { name, labels, annotations: {} } : { name, namespace, labels, annotations: {} };
}

export function egressGatewayPod(plan: LabPlan, e: EgressPlan): PodResource {
  const argv = egressGatewayArgv(plan, e);
  return {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: meta(e.pod, e.namespace, { app: 'egress-gateway' }),
    spec: { nodeName: e.node, serviceAccountName: e.serviceAccount, containers: [{ name: e.container, command: argv.slice(0, 2), args: argv.slice(2), env: [] }] },
  };
}

/** What `lab up` applies, in order: the namespace first, the pod last. */
export function egressGatewayResources(plan: LabPlan, e: EgressPlan): Resource[] {
  return [
    { kind: 'Namespace', apiVersion: 'v1', metadata: meta(e.namespace) },
    { kind: 'ServiceAccount', apiVersion: 'v1', metadata: meta(e.serviceAccount, e.namespace) },
    {
      kind: 'Service',
      apiVersion: 'v1',
      metadata: meta(e.service, e.namespace),
      spec: { selector: { app: 'egress-gateway' }, ports: [{ name: 'hbone', port: e.hbonePort, targetPort: e.hbonePort, protocol: 'TCP' }] },
    },
    egressGatewayPod(plan, e),
  ];
}

/**
 * True only for the gateway pod exactly as the lab deploys it: same namespace, name, node and
 * service account, and one container with exactly the planned command and no env (an env such
 * as NODE_OPTIONS would be code run as root). Anything else is an ordinary pod.
 */
export function isEgressGatewayPod(plan: LabPlan, pod: PodResource): boolean {
  const e = plan.egress;
  if (!e) return false;
  if ((pod.metadata.namespace ?? 'default') !== e.namespace || pod.metadata.name !== e.pod) return false;
  if (pod.spec.nodeName !== e.node || pod.spec.serviceAccountName !== e.serviceAccount) return false;
  if (pod.spec.containers.length !== 1) return false;
  const c = pod.spec.containers[0]!;
  const want = egressGatewayArgv(plan, e);
  const got = [...c.command, ...c.args];
  return c.name === e.container && c.env.length === 0 && got.length === want.length && got.every((a, i) => a === want[i]);
}

/** Writes the gateway's credential root-owned, 0400, in a 0700 directory; the agent hands it to the gateway's user. */
export function writeGatewayToken(e: EgressPlan, token: string): void {
  mkdirSync(dirname(e.tokenFile), { recursive: true, mode: 0o700 });
  chmodSync(dirname(e.tokenFile), 0o700);
  writeFileSync(e.tokenFile, token, { mode: 0o400 });
  chmodSync(e.tokenFile, 0o400);
}

function ownToken(e: EgressPlan, uid: number, gid: number): void {
  const dir = dirname(e.tokenFile);
  let fd: number | undefined;
  try {
    // The directory stays root's (the gateway may enter it, never change it), so its user cannot
    // swap the token for a link that this root process would then chown or chmod; the file itself
    // is changed through a descriptor opened without following links, and must be a plain file.
    chownSync(dir, 0, 0);
    chmodSync(dir, 0o711);
    fd = openSync(e.tokenFile, constants.O_RDONLY | constants.O_NOFOLLOW);
    if (!fstatSync(fd).isFile()) throw new Error('not a regular file');
    fchownSync(fd, uid, gid);
    fchmodSync(fd, 0o400);
  } catch (err) {
    throw new AmbitError('LAB_GATEWAY_TOKEN', `Cannot hand the egress gateway its credential ${e.tokenFile} (owner ${uid}): ${(err as Error).message}`, { value: e.tokenFile, cause: err });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Before the gateway starts: its credential becomes its user's, 0400, in a root-owned 0711 directory. */
export function handGatewayToken(e: EgressPlan, user: Pick<PodUser, 'uid' | 'gid'>): void {
  ownToken(e, user.uid, user.gid);
}

/** Once the gateway pod is gone: back to root, so a later holder of its uid gets nothing. */
export function releaseGatewayToken(e: EgressPlan): void {
  if (existsSync(e.tokenFile)) ownToken(e, 0, 0);
}

/** Issues the credential, then applies the objects (the agent starts the pod once it sees it). */
export async function deployEgressGateway(plan: LabPlan, admin: GatewayDeployer): Promise<void> {
  const e = plan.egress;
  if (!e) return;
  writeGatewayToken(e, await admin.issueWorkloadToken(e.node, e.identity, GATEWAY_TOKEN_TTL_SECONDS));
  await admin.apply(egressGatewayResources(plan, e));
}

export function egressGatewayLogFile(plan: LabPlan, e: EgressPlan): string {
  return containerLogFile(plan.lab, e.namespace, e.pod, e.container);
}

function logTail(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' | ') : '(no output yet)';
}

/** GET on the gateway's readiness port, from inside its pod namespace (127.0.0.1 there). */
export async function probeEgressGateway(netns: string, e: EgressPlan, path = '/healthz/ready', port = e.readinessPort): Promise<{ status: number; body: string }> {
  const { connectFromNetns, netnsPath } = await import('../sys/index.js');
  return new Promise((resolve, reject) => {
    const req = http.request({ path, timeout: 2000, createConnection: () => connectFromNetns(netnsPath(netns), { host: e.adminHost, port }) }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Waits until the agent has built the gateway pod and the gateway answers 200 on its readiness
 * port. Fails at once when the pod failed or its process died, and on timeout, saying where its log is.
 */
export async function waitForEgressGateway(plan: LabPlan, timeoutMs = 30_000): Promise<void> {
  const e = plan.egress;
  if (!e) return;
  const key = podKey(e.namespace, e.pod);
  const log = egressGatewayLogFile(plan, e);
  const deadline = Date.now() + timeoutMs;
  let last = 'the lab agent has not built its pod yet';
  for (;;) {
    const rec = readAgentState(plan.lab)?.pods[key];
    if (rec?.phase === 'Failed') {
      throw new AmbitError('LAB_POD_FAILED', `Cannot start the egress gateway: pod ${key} failed: ${rec.message ?? 'no message'} (agent log ${join(labRunDir(plan.lab), 'logs', 'agent.log')})`, { value: key });
    }
    if (rec?.phase === 'Running' && rec.netns) {
      const pid = rec.containers[0]?.pid;
      if (!isAlive(pid)) {
        throw new AmbitError('LAB_COMPONENT_DIED', `Cannot start the egress gateway: its process exited (log ${log}: ${logTail(log)})`, { value: key });
      }
      try {
        const r = await probeEgressGateway(rec.netns, e);
        if (r.status === 200) return;
        last = `readiness answered ${r.status} ${r.body.trim()}`;
      } catch (err) {
        last = `readiness ${e.adminHost}:${e.readinessPort} in its pod namespace: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
      }
    }
    if (Date.now() > deadline) {
      throw new AmbitError('LAB_TIMEOUT', `Cannot start the egress gateway: it was not ready within ${timeoutMs} ms (${last}; log ${log}: ${logTail(log)})`, { value: key });
    }
    await sleep(100);
  }
}
