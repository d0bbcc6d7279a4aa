// `lab up` and `lab down`: the order in which a lab is built (topology and, with egress, the
// nodes' drop tables; CAs, control plane, cluster objects, node proxies, DNS, internet hosts,
// agent, egress gateway) and torn down. A lab found half-built or left
// by a crash is cleaned before a new one is built on its name.
import { chmodSync, cpSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { AmbitError } from '../errors.js';
import { adminSocketPath, labRunDir } from '../paths.js';
import type { AdminApi } from '../controlplane/admin-api.js';
import type { Resource } from '../config/types.js';
import { AdminHttpClient } from '../controlplane/admin-client.js';
import { parseDocuments } from '../config/index.js';
import { planLab } from './plan.js';
import type { LabSpec } from './spec.js';
import { validateLabName } from './names.js';
import { createTopology } from './topology.js';
import { labSslDir } from './pod-network.js';
import { logDir, readLabState, writeLabState, type ComponentRecord, type LabState } from './state.js';
import { findLabLeftovers, teardownLab, type TeardownReport } from './teardown.js';
import { agentComponent, controlPlaneComponent, dnsComponents, internetHostComponents, nodeProxyComponent, startComponent, type ComponentTemplate } from './components.js';
import { waitForNodeProxies } from './mesh.js';
import { isAlive, sleep } from './processes.js';
import { createLabPublicCa } from './public-ca-files.js';
import { assertLabHost } from './host-check.js';
import { applyEgressDrops, egressDropsFor } from './egress-drops.js';
import { deployEgressGateway, waitForEgressGateway } from './egress-gateway.js';

export interface LabUpOptions {
  name: string;
  spec: LabSpec;
  /** YAML of resources (Pods, Services, ...) to apply once the lab is up. */
  resourcesText?: string;
  resourcesSource?: string;
  /** Tear down a healthy lab of the same name instead of refusing. */
  replace?: boolean;
  progress?: (line: string) => void;
}

/** A lab is up when it finished building and its control plane and agent live. */
export function labIsHealthy(state: LabState | undefined): boolean {
  if (!state?.ready) return false;
  return ['control-plane', 'agent'].every((c) => isAlive(state.components[c]?.pid));
}

export async function waitForControlPlane(admin: AdminApi, cp: ComponentRecord, timeoutMs = 30000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await admin.status();
      return;
    } catch (err) {
      if (!isAlive(cp.pid)) {
        const tail = existsSync(cp.logFile) ? readFileSync(cp.logFile, 'utf8').trim().split('\n').slice(-3).join(' | ') : '';
        throw new AmbitError('LAB_COMPONENT_DIED', `Cannot start the control plane: it exited (log ${cp.logFile}: ${tail})`, { value: cp.argv });
      }
      if (Date.now() > deadline) {
        throw new AmbitError('LAB_TIMEOUT', `Cannot start the control plane: its admin API did not answer within ${timeoutMs} ms (${(err as Error).message})`, { cause: err });
      }
      await sleep(50);
    }
  }
}

function meta(name: string, namespace?: string): { name: string; namespace?: string; labels: Record<string, string>; annotations: Record<string, string> } {
  return namespace === undefined ? { name, labels: {}, annotations: {} } : { name, namespace, labels: {}, annotations: {} };
}

export async function labUp(o: LabUpOptions): Promise<LabState> {
  assertLabHost();
  const lab = validateLabName(o.name);
  const say = o.progress ?? (() => {});
  const step = async <T>(label: string, fn: () => Promise<T> | T): Promise<T> => {
    const t0 = Date.now();
    const out = await fn();
    say(`${label}... ok (${Date.now() - t0} ms)`);
    return out;
  };
  const old = readLabState(lab);
  if (labIsHealthy(old) && !o.replace) {
    throw new AmbitError('LAB_ALREADY_UP', `Cannot bring lab ${lab} up: lab ${lab} is already up (use --replace, or \`ambit lab down --name ${lab}\`)`, { value: lab });
  }
  const left = await findLabLeftovers(lab);
  if (left.namespaces.length > 0 || left.pids.length > 0 || left.runDir || left.etcEntries.length > 0) {
    const what = labIsHealthy(old) ? 'replacing the running lab' : 'found a stale lab (left by a crash or an unfinished up)';
    await step(`${what} ${lab}; cleaning`, () => teardownLab(lab));
  }

  const plan = planLab(lab, o.spec);
  const state: LabState = { version: 1, lab, createdAt: new Date().toISOString(), ready: false, spec: o.spec, plan, components: {} };
  mkdirSync(labRunDir(lab), { recursive: true, mode: 0o755 });
  chmodSync(labRunDir(lab), 0o755);
  // Root's alone: no pod reads a component's log or another pod's (the gateway's audit lines).
  mkdirSync(logDir(lab), { recursive: true, mode: 0o700 });
  chmodSync(logDir(lab), 0o700);
  writeLabState(state);
  const start = (t: ComponentTemplate): ComponentRecord => {
    const rec = startComponent(t);
    state.components[t.name] = rec;
    writeLabState(state);
    return rec;
  };

  await step(`creating underlay, ${plan.nodes.length} nodes, control-plane and internet namespaces`, () => createTopology(plan));
  if (plan.egress) {
    // Before any pod exists: the agent later opens the gateway's node to the gateway pod alone.
    await step(`closing the nodes' direct way to the internet (${plan.inet.cidr})`, () => Promise.all(plan.nodes.map((n) => applyEgressDrops(n.netns, egressDropsFor(plan, n)))));
  }
  const certs = await step('creating the lab public CA', async () => {
    const ca = await createLabPublicCa(lab, plan.inet.hosts);
    // Pods see this copy as /etc/ssl: the system roots plus the lab public CA.
    cpSync('/etc/ssl', labSslDir(lab), { recursive: true, verbatimSymlinks: true });
    const bundle = join(labSslDir(lab), 'certs', 'ca-certificates.crt');
    writeFileSync(bundle, `${readFileSync(bundle, 'utf8').trimEnd()}\n${ca.rootPem.trim()}\n`);
    return ca.hosts;
  });
  const admin = new AdminHttpClient(adminSocketPath(lab));
  await step('starting the control plane', async () => waitForControlPlane(admin, start(controlPlaneComponent(plan))));
  await step('registering nodes and issuing node tokens', async () => {
    const objects: Resource[] = [
      { kind: 'Namespace', apiVersion: 'v1', metadata: meta('default') },
      ...plan.nodes.map((n): Resource => ({ kind: 'Node', apiVersion: 'v1', metadata: meta(n.name), spec: { podCIDR: n.podCIDR, addresses: [n.ip] } })),
    ];
    await admin.apply(objects);
    const dir = join(labRunDir(lab), 'nodes');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const n of plan.nodes) writeFileSync(join(dir, `${n.name}.token`), await admin.issueNodeToken(n.name, 86400), { mode: 0o600 });
    writeFileSync(join(labRunDir(lab), 'mesh-ca.pem'), await admin.trustBundle());
  });
  if (plan.mesh) {
    await step(`starting ${plan.nodes.length} node proxies`, async () => {
      for (const n of plan.nodes) start(nodeProxyComponent(plan, n));
      await waitForNodeProxies(plan);
    });
  }
  await step('starting DNS and internet hosts', () => {
    for (const t of [...dnsComponents(plan), ...internetHostComponents(plan, certs)]) start(t);
  });
  await step('starting the lab agent', () => start(agentComponent(plan)));
  const egress = plan.egress;
  if (egress) {
    await step(`starting the egress gateway (pod ${egress.namespace}/${egress.pod} on ${egress.node})`, async () => {
      await deployEgressGateway(plan, admin);
      await waitForEgressGateway(plan);
    });
  }
  if (o.resourcesText && o.resourcesText.trim() !== '') {
    const resources = parseDocuments(o.resourcesText, o.resourcesSource ?? 'lab file');
    await step(`applying ${resources.length} resources from the lab file`, () => admin.apply(resources));
  }
  state.ready = true;
  writeLabState(state);
  return state;
}

export async function labDown(name: string): Promise<TeardownReport> {
  assertLabHost();
  return teardownLab(validateLabName(name));
}
