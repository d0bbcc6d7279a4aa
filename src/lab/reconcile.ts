// The lab agent's loop: it watches the control plane's store and makes the machine match it.
// Pods in the store but not on the machine are created, pods gone from the store (or changed)
// are removed, statuses (podIP, phase) are written back, and each node's kube-proxy table is
// re-rendered from the Services and the running pods, and, with egress on, each node's egress
// drop table from where the gateway pod runs. One pass at a time; events that arrive
// during a pass mark the state dirty and cause one more pass.
import type { Logger } from '../log.js';
import type { AdminApi, StoreEvent } from '../controlplane/admin-api.js';
import type { PodResource, ServiceResource } from '../config/types.js';
import { AmbitError } from '../errors.js';
import { PodIpam } from './ipam.js';
import type { LabPlan } from './plan.js';
import { createPod, deletePod, podFingerprint } from './pods.js';
import { applyKubeProxy, renderKubeProxy, serviceRules } from './kube-proxy.js';
import { readAgentState, writeAgentState, type AgentState, type PodRecord } from './state.js';
import { podKey } from './names.js';
import { enrolledPod, resyncEnrollments } from './mesh.js';
import { applyEgressDrops, egressDropsFor, renderEgressDrops } from './egress-drops.js';
import { PodUidAllocator } from './pod-users.js';

const CREATE_CONCURRENCY = 4;

export class LabReconciler {
  private readonly pods = new Map<string, PodResource>();
  private readonly services = new Map<string, ServiceResource>();
  private readonly records: Map<string, PodRecord>;
  private readonly ipams = new Map<string, PodIpam>();
  private readonly uids: PodUidAllocator;
  private readonly unsynced = new Set<string>();
  private readonly appliedRules = new Map<string, string>();
  private readonly appliedDrops = new Map<string, string>();
  private revision = 0;
  private synced = false;
  private running: Promise<void> | undefined;
  private dirty = false;
  private watcher: { close(): void } | undefined;
  private stopped = false;

  constructor(
    private readonly plan: LabPlan,
    private readonly admin: AdminApi,
    private readonly log: Logger,
  ) {
    const saved = readAgentState(plan.lab);
    this.records = new Map(Object.entries(saved?.pods ?? {}));
    for (const n of plan.nodes) {
      const snap = saved?.ipam[n.name];
      this.ipams.set(n.name, snap ? PodIpam.restore(snap) : new PodIpam(n.podCIDR, plan.reuseFreed));
    }
    // A restarted agent goes on from the saved next uid; the pods keep theirs (in their records).
    this.uids = PodUidAllocator.restore(plan.lab, saved?.nextUid, () => this.heldUids());
    // Statuses written while the control plane was away are pushed again.
    for (const k of this.records.keys()) this.unsynced.add(k);
  }

  /** Starts watching; reconnects with a short pause whenever the watch breaks. */
  start(): void {
    const connect = (): void => {
      if (this.stopped) return;
      const from = this.synced ? this.revision : 0;
      this.watcher = this.admin.watch(
        from,
        (e) => this.onEvent(e, from === 0),
        (err) => {
          this.log.warn({ err: err.message }, 'watch broken; reconnecting');
          this.watcher?.close();
          setTimeout(connect, 500);
        },
      );
    };
    connect();
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.close();
  }

  /** Resolves once no pass is running and none is pending. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private onEvent(e: StoreEvent, fromZero: boolean): void {
    if (fromZero && !this.synced) {
      this.pods.clear();
      this.services.clear();
    }
    for (const c of e.changes) {
      const r = c.resource;
      if (r.kind === 'Pod') {
        const key = podKey(r.metadata.namespace ?? 'default', r.metadata.name);
        if (c.type === 'put') this.pods.set(key, r);
        else this.pods.delete(key);
      } else if (r.kind === 'Service') {
        if (c.type === 'put') this.services.set(c.key, r);
        else this.services.delete(c.key);
      }
    }
    this.revision = e.revision;
    this.synced = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.running) {
      this.dirty = true;
      return;
    }
    this.running = (async () => {
      do {
        this.dirty = false;
        try {
          await this.pass();
        } catch (err) {
          this.log.error({ err: (err as Error).message }, 'reconcile pass failed');
        }
      } while (this.dirty && !this.stopped);
      this.running = undefined;
    })();
  }

  private async pass(): Promise<void> {
    for (const [key, rec] of [...this.records]) {
      const want = this.pods.get(key);
      if (want && podFingerprint(want) === rec.fingerprint) continue;
      this.log.info({ pod: key, ip: rec.ip }, 'removing pod');
      await deletePod(this.plan, this.ipams, rec);
      this.records.delete(key);
      this.unsynced.delete(key);
    }
    const toCreate = [...this.pods].filter(([key]) => !this.records.has(key));
    // Exact-IP requests go first so that a requested address is not taken by a neighbour.
    toCreate.sort((a, b) => Number(b[1].metadata.annotations['ambit.dev/pod-ip'] !== undefined) - Number(a[1].metadata.annotations['ambit.dev/pod-ip'] !== undefined));
    for (let i = 0; i < toCreate.length; i += CREATE_CONCURRENCY) {
      await Promise.all(toCreate.slice(i, i + CREATE_CONCURRENCY).map(([key, pod]) => this.create(key, pod)));
    }
    this.save();
    await this.pushStatuses();
    await this.syncKubeProxy();
    await this.syncEgressDrops();
    await this.resyncMesh();
  }

  /** A pass now, even without store events (e.g. to re-enroll pods after a node proxy restart). */
  poke(): void {
    if (this.synced) this.schedule();
  }

  /** Every node proxy gets the full list of its pods again (a restarted proxy knows none). */
  async resyncMesh(): Promise<void> {
    const pods = [...this.records.values()]
      // The egress gateway is mesh-native: it terminates HBONE itself and is never captured.
      .filter((r) => r.phase === 'Running' && r.ip !== undefined && r.netns !== undefined && !r.system)
      .map((r) => ({ node: r.node, pod: enrolledPod(r.namespace, r.name, r.ip!, r.netns!) }));
    await resyncEnrollments(this.plan, pods);
  }

  private async create(key: string, pod: PodResource): Promise<void> {
    try {
      const rec = await createPod(this.plan, this.ipams, this.uids, pod);
      this.records.set(key, rec);
      this.log.info({ pod: key, ip: rec.ip, node: rec.node, pids: rec.containers.map((c) => c.pid) }, 'pod running');
    } catch (err) {
      const message = err instanceof AmbitError ? err.message : `Cannot create pod ${key}: ${(err as Error).message}`;
      const code = err instanceof AmbitError ? err.code : 'LAB_POD_FAILED';
      this.log.error({ pod: key, code, err: message }, 'pod failed');
      const ns = pod.metadata.namespace ?? 'default';
      this.records.set(key, { namespace: ns, name: pod.metadata.name, node: pod.spec.nodeName, phase: 'Failed', message, fingerprint: podFingerprint(pod), containers: [] });
    }
    this.unsynced.add(key);
  }

  private async pushStatuses(): Promise<void> {
    for (const key of [...this.unsynced]) {
      const rec = this.records.get(key);
      if (!rec || !this.pods.has(key)) {
        this.unsynced.delete(key);
        continue;
      }
      try {
        await this.admin.setPodStatus(rec.namespace, rec.name, rec.ip === undefined ? { phase: rec.phase } : { podIP: rec.ip, phase: rec.phase });
        this.unsynced.delete(key);
      } catch (err) {
        this.log.warn({ pod: key, err: (err as Error).message }, 'cannot write pod status yet');
      }
    }
  }

  private async syncKubeProxy(): Promise<void> {
    // Endpoints come from our own records (authoritative for IP and phase), labels from the store.
    const pods: PodResource[] = [...this.pods].map(([key, p]) => {
      const rec = this.records.get(key);
      return { ...p, status: rec?.ip === undefined ? { phase: rec?.phase ?? 'Pending' } : { podIP: rec.ip, phase: rec.phase } };
    });
    const rules = serviceRules([...this.services.values()], pods);
    const text = renderKubeProxy(rules);
    for (const n of this.plan.nodes) {
      if (this.appliedRules.get(n.netns) === text) continue;
      await applyKubeProxy(n.netns, rules);
      this.appliedRules.set(n.netns, text);
    }
  }

  /** Each node drops internet-bound traffic; the gateway's node lets the running gateway pod out. */
  private async syncEgressDrops(): Promise<void> {
    const e = this.plan.egress;
    if (!e) return;
    const gw = [...this.records.values()].find((r) => r.system === true && r.phase === 'Running' && r.ip !== undefined && r.node === e.node);
    for (const n of this.plan.nodes) {
      const drops = egressDropsFor(this.plan, n, gw ? { node: gw.node, ip: gw.ip! } : undefined);
      const text = renderEgressDrops(drops);
      if (this.appliedDrops.get(n.netns) === text) continue;
      await applyEgressDrops(n.netns, drops);
      this.appliedDrops.set(n.netns, text);
      if (n.name === e.node) this.log.info({ node: n.name, gateway: drops.gateway ?? null }, 'egress drops loaded');
    }
  }

  private *heldUids(): Iterable<number> {
    for (const r of this.records.values()) if (r.uid !== undefined) yield r.uid;
  }

  private save(): void {
    const state: AgentState = {
      version: 1,
      revision: this.revision,
      ipam: Object.fromEntries([...this.ipams].map(([n, i]) => [n, i.snapshot()])),
      nextUid: this.uids.snapshot(),
      pods: Object.fromEntries(this.records),
      updatedAt: new Date().toISOString(),
    };
    writeAgentState(this.plan.lab, state);
  }
}
