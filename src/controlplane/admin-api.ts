// The control plane's local admin API, as the CLI and the lab see it. It is served as HTTP/1.1
// with JSON bodies on a Unix socket (namespace-independent, guarded by file permissions), so the
// CLI in the root namespace reaches a control plane that runs inside a lab namespace.

import type { Kind, PodStatus, Resource } from '../config/types.js';

export type ApplyAction = 'created' | 'configured' | 'unchanged';

export interface ApplyResult {
  key: string;
  action: ApplyAction;
  /** The stored object, with control-plane-assigned fields (e.g. a Service's clusterIP). */
  resource: Resource;
}

export interface DeleteResult {
  key: string;
  deleted: boolean;
}

export type StoreChange =
  | { type: 'put'; key: string; resource: Resource }
  | { type: 'delete'; key: string; resource: Resource };

/** One committed store transaction. Revisions increase by one per transaction. */
export interface StoreEvent {
  revision: number;
  changes: StoreChange[];
  /** Set on the first event of a watch that could not be resumed: `changes` is then the whole
   *  state (all puts), and anything the watcher held that is not in it is gone. */
  snapshot?: true;
}

export interface NodeRevocationResult {
  node: string;
  /** Credentials issued up to this time (ISO 8601, whole seconds) are refused. */
  issuedUpTo: string;
  /** Config-stream sessions of the node (its proxy, workloads on it) ended by the revocation. */
  sessionsEnded: number;
}

export interface IssuedCredentialInfo {
  credential: string;
  node: string;
  kind: 'node' | 'workload';
  /** A workload credential's SPIFFE ID. */
  identity?: string;
  issuedAt: string;
  expiresAt: string;
  /** Revoked alone (`credential`), with its whole node (`node`), or not (false). */
  revoked: 'credential' | 'node' | false;
}

export interface CredentialList {
  /** When the registry started, and whether it has known every credential since (docs/ca.md). */
  registry: { since: string; complete: boolean };
  credentials: IssuedCredentialInfo[];
}

export interface CredentialRevocationResult {
  node: string;
  credential: string;
  /** The entry is kept until then (ISO 8601): by then every credential with this ID has expired. */
  keptUntil: string;
  /** Config-stream sessions opened with the credential, ended by the revocation. */
  sessionsEnded: number;
}

export interface ProxyStatus {
  /** Node name proven by the proxy's node credential. */
  node: string;
  /** Set for a workload session (workload credential): the one identity it may get an SVID for. */
  identity?: string;
  connected: boolean;
  remoteAddress?: string;
  connectedSince?: string;
  /** Latest configuration version sent to the proxy. */
  sentVersion: number;
  /** Latest version the proxy acknowledged as applied. */
  ackedVersion: number;
  /** Set while the proxy's latest answer was a NACK. */
  nack?: { version: number; error: string };
}

export interface ControlPlaneStatus {
  version: string;
  startedAt: string;
  storeRevision: number;
  configVersion: number;
  resources: Record<string, number>;
  proxies: ProxyStatus[];
  ca: { rootSerials: string[]; signed: number; refused: number };
  listen: { stream: string; metrics: string; admin: string };
}

/** What the admin socket serves. Implemented over HTTP by AdminHttpClient (admin-client.ts). */
export interface AdminApi {
  apply(resources: Resource[]): Promise<ApplyResult[]>;
  delete(refs: { kind: Kind; namespace?: string; name: string }[]): Promise<DeleteResult[]>;
  get(kind: Kind, opts?: { namespace?: string; name?: string }): Promise<Resource[]>;
  /** Pod status is written by the lab (IPAM); users cannot apply it. */
  setPodStatus(namespace: string, name: string, status: PodStatus): Promise<void>;
  /** Streams every transaction after `fromRevision` (0: a synthetic "put" of everything first). */
  watch(fromRevision: number, onEvent: (e: StoreEvent) => void, onError?: (err: Error) => void): { close(): void };
  /** A signed node credential bound to `node`, valid for `ttlSeconds`. */
  issueNodeToken(node: string, ttlSeconds: number): Promise<string>;
  /**
   * A workload credential (egress gateway, later waypoints): bound to `node` and to `identity`, a
   * workload SPIFFE ID (`spiffe://<td>/ns/<ns>/sa/<sa>`) of the mesh's trust domain. Its config
   * stream may obtain an SVID for that identity only, and only while a pod running as it is
   * scheduled on `node` (invariant 4).
   */
  issueWorkloadToken(node: string, identity: string, ttlSeconds: number): Promise<string>;
  /** The mesh trust bundle (every root, PEM concatenated). */
  trustBundle(): Promise<string>;
  status(): Promise<ControlPlaneStatus>;
  /**
   * Revokes every node and workload credential of `node` issued up to now (durably): their
   * sessions end with NODE_TOKEN_REVOKED and they are refused from then on. The SVIDs the node
   * holds are refused by every proxy once its config stream delivers the next version
   * (revocations/mesh, checked against each SVID's issued-to extension; taken even from a version
   * the proxy rejects otherwise). A proxy cut off from the control plane does not learn of it.
   * Credentials issued a second later work.
   */
  revokeNode(node: string): Promise<NodeRevocationResult>;
  /**
   * Revokes the one node or workload credential with ID `credential` (its jti, named in the audit
   * lines of its issuance and sessions), durably: its sessions end with NODE_TOKEN_REVOKED and it
   * is refused from then on; the node's other credentials keep working.
   */
  revokeCredential(node: string, credential: string): Promise<CredentialRevocationResult>;
  /** The unexpired credentials this control plane issued, of `node` or of every node, oldest first. */
  listCredentials(node?: string): Promise<CredentialList>;
  /** Fault knob: hold (true) or resume (false) configuration delivery to one node's proxy. */
  pauseDelivery(node: string, paused: boolean): Promise<void>;
}
