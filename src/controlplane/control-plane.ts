// The control plane process, assembled: the durable store, the mesh CA and node credentials,
// the proxies' config view, the config stream (15012), the admin API (Unix socket) and metrics
// (15014). Everything here is wiring; the decisions live in the modules it wires.

import { randomBytes } from 'node:crypto';
import http from 'node:http';
import tls from 'node:tls';
import { join } from 'node:path';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { AmbitError } from '../errors.js';
import { VERSION } from '../version.js';
import type { Logger } from '../log.js';
import { Store } from '../store/index.js';
import { parseResource } from '../config/index.js';
import {
  CA_FILES, CREDENTIAL_REVOCATION_MARGIN_SECONDS, CertificateAuthority, CredentialRegistry, ISSUED_CREDENTIALS_FILE, MAX_CREDENTIAL_TTL_SECONDS, NODE_TOKEN_KEY_FILE, NodeRevocations, NodeTokenIssuer,
  authorizeIssuance, checkCredentialId,
} from '../ca/index.js';
import { createCsr, parseSpiffeId, splitPemCertificates } from '../identity/index.js';
import { controlPlaneIdentity } from '../stream/index.js';
import type { WireRevocations } from '../stream/resources.js';
import type { AdminBackend } from './admin-server.js';
import { serveAdmin } from './admin-server.js';
import type { ControlPlaneStatus, StoreEvent } from './admin-api.js';
import { applyResources, deleteResources, setPodStatus } from './apply.js';
import { ConfigView } from './view.js';
import { PlacementIndex } from './placement.js';
import { StreamServer, type IssuanceService } from './stream-server.js';
import { ControlPlaneMetrics } from './metrics.js';
import { KINDS, CLUSTER_SCOPED, DEFAULT_MESH_SETTINGS, keyOf, resourceKey, type Resource } from '../config/types.js';

export interface HostPort {
  host: string;
  port: number;
}

export interface ControlPlaneOptions {
  dataDir: string;
  stream: HostPort;
  metrics?: HostPort;
  adminSocket?: string;
  /** Trust domain of a newly generated CA (default: MeshConfig's, else cluster.local). */
  trustDomain?: string;
  /** Operator-supplied intermediate CA instead of a generated root. */
  caFiles?: { certChain: string; key: string; roots: string };
  log: Logger;
}

export { controlPlaneIdentity };


/** After this long, no credential issued before the registry started can still verify. */
const LONGEST_CREDENTIAL_LIFE_SECONDS = MAX_CREDENTIAL_TTL_SECONDS + CREDENTIAL_REVOCATION_MARGIN_SECONDS;

export class ControlPlane {
  readonly view: ConfigView;
  readonly metrics = new ControlPlaneMetrics();
  readonly adminSocket: string;
  private readonly placement: PlacementIndex;
  private stream!: StreamServer;
  private servingContext!: tls.SecureContext;
  private renewTimer: NodeJS.Timeout | undefined;
  private admin: http.Server | undefined;
  private metricsServer: http.Server | undefined;
  private readonly startedAt = new Date();
  private streamAddress = '';
  private metricsAddress = '';
  private signed = 0;
  private refused = 0;
  /** Per node, the latest second an SVID was signed for it (this process only): a node revocation cuts at least there. */
  private readonly lastSvidIssuedAt = new Map<string, number>();
  private readonly recent: StoreEvent[] = [];

  private constructor(
    private readonly opts: ControlPlaneOptions,
    readonly store: Store,
    readonly ca: CertificateAuthority,
    readonly tokens: NodeTokenIssuer,
    private readonly revocations: NodeRevocations,
    private readonly issued: CredentialRegistry,
  ) {
    this.adminSocket = opts.adminSocket ?? join(opts.dataDir, 'admin.sock');
    this.view = new ConfigView(this.store, splitPemCertificates(this.ca.bundle.pem()), revocationsOnTheWire(revocations), this.ca.trustDomain);
    this.placement = new PlacementIndex(this.store);
    this.store.watch((e) => {
      this.recent.push(e);
      if (this.recent.length > 1000) this.recent.shift();
      this.updateGauges();
    });
  }

  static async start(opts: ControlPlaneOptions): Promise<ControlPlane> {
    const { dataDir, log } = opts;
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const store = Store.open(join(dataDir, 'store'), { log });
    try {
      checkStoredResources(store, join(dataDir, 'store'));
    } catch (err) {
      store.close();
      throw err;
    }
    const caDir = join(dataDir, 'ca');
    let ca: CertificateAuthority;
    if (opts.caFiles) {
      const read = (f: string): string => readFileSync(f, 'utf8');
      ca = CertificateAuthority.fromFiles({ certChainPem: read(opts.caFiles.certChain), keyPem: read(opts.caFiles.key), rootsPem: read(opts.caFiles.roots) });
    } else if (existsSync(join(caDir, CA_FILES.key))) {
      ca = await CertificateAuthority.load(caDir);
    } else {
      const td = opts.trustDomain ?? meshTrustDomain(store);
      ca = CertificateAuthority.generate({ trustDomain: td });
      await ca.save(caDir);
      log.info({ trustDomain: td, caDir }, 'generated a new mesh root CA');
    }
    try {
      checkStartTrustDomain(ca.trustDomain, opts.trustDomain, store);
    } catch (err) {
      store.close();
      throw err;
    }
    // A token key made now has signed nothing yet: the registry then knows every credential of it.
    const newTokenKey = !existsSync(join(caDir, NODE_TOKEN_KEY_FILE));
    const tokens = await NodeTokenIssuer.loadOrGenerate(caDir);
    const cp = new ControlPlane(opts, store, ca, tokens, NodeRevocations.load(caDir), CredentialRegistry.load(caDir, { complete: newTokenKey }));
    await cp.listen();
    return cp;
  }

  get trustDomain(): string {
    return this.ca.trustDomain;
  }

  get streamPort(): number {
    return Number(this.streamAddress.split(':').pop());
  }

  async stop(): Promise<void> {
    clearTimeout(this.renewTimer);
    await this.stream?.close();
    await new Promise<void>((r) => (this.admin ? this.admin.close(() => r()) : r()));
    this.admin?.closeAllConnections();
    await new Promise<void>((r) => (this.metricsServer ? this.metricsServer.close(() => r()) : r()));
    this.store.close();
  }

  status(): ControlPlaneStatus {
    const resources: Record<string, number> = {};
    for (const k of KINDS) resources[k] = this.store.count(k);
    return {
      version: VERSION,
      startedAt: this.startedAt.toISOString(),
      storeRevision: this.store.revision,
      configVersion: this.view.version,
      resources,
      proxies: this.stream.proxies(),
      ca: { rootSerials: this.ca.bundle.roots().map((c) => c.serialNumber), signed: this.signed, refused: this.refused },
      listen: { stream: this.streamAddress, metrics: this.metricsAddress, admin: this.adminSocket },
    };
  }

  private async listen(): Promise<void> {
    const { log } = this.opts;
    this.renewServingCert();
    this.stream = new StreamServer({
      view: this.view,
      storeId: viewRunId(this.store.storeId),
      issuance: this.issuance(),
      secureContext: () => this.servingContext,
      log,
      metrics: this.metrics,
    });
    const a = await this.stream.listen(this.opts.stream.host, this.opts.stream.port);
    this.streamAddress = `${a.address}:${a.port}`;
    this.admin = await serveAdmin(this.adminSocket, this.backend(), log);
    if (this.opts.metrics) {
      this.metricsServer = http.createServer((req, res) => {
        if (req.url !== '/metrics') return void res.writeHead(404).end('not found: try /metrics\n');
        this.metrics.registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(text),
          (err: Error) => res.writeHead(500).end(err.message),
        );
      });
      const m = this.opts.metrics;
      await new Promise<void>((r, j) => this.metricsServer!.once('error', j).listen(m.port, m.host, () => r()));
      const ma = this.metricsServer.address() as AddressInfo;
      this.metricsAddress = `${ma.address}:${ma.port}`;
    }
    this.updateGauges();
    log.info({ stream: this.streamAddress, metrics: this.metricsAddress, admin: this.adminSocket, trustDomain: this.trustDomain, revision: this.store.revision }, 'control plane ready');
  }

  /** Signs the control plane's own serving certificate and renews it at half-life. */
  private renewServingCert(): void {
    const id = parseSpiffeId(controlPlaneIdentity(this.trustDomain));
    const { privateKey, csrPem } = createCsr(id);
    const svid = this.ca.signCsr(csrPem, { spiffeId: id, ttlSeconds: 86400, issuedTo: null });
    this.servingContext = tls.createSecureContext({ key: privateKey.export({ type: 'pkcs8', format: 'pem' }), cert: svid.chainPem.join('') });
    const half = (svid.notAfter.getTime() - Date.now()) / 2;
    this.renewTimer = setTimeout(() => this.renewServingCertLater(), Math.max(half, 60_000));
    this.renewTimer.unref();
  }

  /**
   * The timer's renewal: a failure (the CA expired meanwhile, say) is logged and tried again in a
   * minute, with the current certificate kept while it lasts. At start a failure stops the start
   * (listen() throws); here it must not end a running control plane.
   */
  private renewServingCertLater(): void {
    try {
      this.renewServingCert();
    } catch (err) {
      const e = err as AmbitError;
      this.opts.log.error({ code: e.code, err: e.message, retryInMs: 60_000 }, 'cannot renew the control plane\'s serving certificate; keeping the current one while it is valid');
      this.renewTimer = setTimeout(() => this.renewServingCertLater(), 60_000);
      this.renewTimer.unref();
    }
  }

  private issuance(): IssuanceService {
    return {
      authenticateNode: (token) => {
        const t = this.tokens.verify(token);
        this.revocations.check(t.node, t.iat, t.credential);
        return { node: t.node, expiresAt: t.exp.getTime(), credential: t.credential, ...(t.identity === undefined ? {} : { identity: t.identity }) };
      },
      issue: ({ node, credential, identity, csrPem, boundIdentity }) => {
        try {
          const spiffeId = parseSpiffeId(identity);
          const decision = authorizeIssuance({ node, spiffeId, ...(boundIdentity === undefined ? {} : { boundIdentity }) }, this.placement);
          if (!decision.allowed) throw new AmbitError(decision.code, decision.reason);
          const mesh = this.view.mesh();
          const svid = this.ca.signCsr(csrPem, { spiffeId, ttlSeconds: mesh.certificateTTLSeconds, issuedTo: { node, credential } });
          // Taken after signing, so never earlier than the issuedAt written into the SVID.
          this.lastSvidIssuedAt.set(node, Math.max(this.lastSvidIssuedAt.get(node) ?? 0, Math.floor(Date.now() / 1000)));
          this.signed++;
          return { chain: svid.chainPem, serial: svid.serial, notAfter: svid.notAfter };
        } catch (err) {
          this.refused++;
          throw err;
        }
      },
    };
  }

  /** Puts the revocations into the next config version: from it on, every proxy refuses the SVIDs they cover. */
  private publishRevocations(): void {
    this.view.setRevocations(revocationsOnTheWire(this.revocations));
  }

  /** Audits a credential once it exists, with its ID and expiry (read back from the token itself). */
  private auditIssued(token: string, event: string, message: string, ttlSeconds: number): string {
    const t = this.tokens.verify(token);
    // Recorded before it is handed out: a credential the registry does not know is never issued.
    try {
      this.issued.record(t.credential, { node: t.node, issuedAt: new Date(t.iat * 1000), expiresAt: t.exp, ...(t.identity === undefined ? {} : { identity: t.identity }) });
    } catch (err) {
      throw new AmbitError('CREDENTIAL_NOT_RECORDED', `Cannot issue a credential to node "${t.node}": it could not be recorded in the CA's ${ISSUED_CREDENTIALS_FILE} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); nothing was issued`, { cause: err });
    }
    this.opts.log.info({ audit: true, event, node: t.node, ...(t.identity === undefined ? {} : { identity: t.identity }), credential: t.credential, ttlSeconds, expiresAt: t.exp.toISOString() }, message);
    return token;
  }

  private backend(): AdminBackend {
    return {
      apply: async (resources) => {
        const parsed = (resources as unknown[]).map((r, i) => parseResource(r, `request item ${i + 1}`));
        for (const r of parsed) if (r.kind === 'MeshConfig') checkMeshTrustDomain(r.spec.trustDomain, this.trustDomain);
        return applyResources(this.store, this.view, parsed);
      },
      delete: async (refs) => deleteResources(this.store, refs),
      get: async (kind, o = {}) => {
        if (o.name !== undefined) {
          const ns = CLUSTER_SCOPED.has(kind) ? undefined : (o.namespace ?? 'default');
          const e = this.store.get(resourceKey(kind, ns, o.name));
          if (!e) throw new AmbitError('NOT_FOUND', `Cannot get ${kind} "${ns ? `${ns}/` : ''}${o.name}": not found`);
          return [e.resource];
        }
        return this.store.list(kind, CLUSTER_SCOPED.has(kind) ? undefined : o.namespace).map((e) => e.resource);
      },
      setPodStatus: async (ns, name, status) => setPodStatus(this.store, ns, name, status),
      issueNodeToken: async (node, ttl) => {
        checkCredentialRequest('node credential', node, ttl);
        return this.auditIssued(this.tokens.issue(node, ttl), 'node_token.issued', 'node credential issued', ttl);
      },
      issueWorkloadToken: async (node, identity, ttl) => {
        checkCredentialRequest('workload credential', node, ttl);
        checkWorkloadIdentity(identity, this.trustDomain);
        return this.auditIssued(this.tokens.issueWorkload(node, identity, ttl), 'workload_token.issued', 'workload credential issued', ttl);
      },
      trustBundle: async () => this.ca.bundle.pem(),
      status: async () => this.status(),
      pauseDelivery: async (node, paused) => {
        checkNodeName(`${paused ? 'pause' : 'resume'} delivery`, node);
        this.stream.setPaused(node, paused);
      },
      revokeNode: async (node) => {
        checkNodeName('revoke a node', node);
        // Never before what was already stamped for the node (a clock set back since would otherwise leave it out).
        const r = this.revocations.revoke(node, new Date(), Math.max(this.issued.newestIssuedAt(node) ?? 0, this.lastSvidIssuedAt.get(node) ?? 0));
        const upTo = new Date(r.issuedUpTo * 1000).toISOString();
        this.publishRevocations();
        const ended = this.stream.endNode(node, 'NODE_TOKEN_REVOKED', `Cannot keep the config stream of node "${node}": its credentials (issued up to ${upTo}) were revoked`);
        this.opts.log.warn({ audit: true, event: 'node.revoked', node, issuedUpTo: upTo, sessionsEnded: ended }, 'node credentials revoked');
        return { node, issuedUpTo: upTo, sessionsEnded: ended };
      },
      revokeCredential: async (node, credential) => {
        checkNodeName('revoke a credential', node);
        checkCredentialId(node, credential);
        const issued = this.issued.lookup(credential);
        if (issued !== undefined && issued.node !== node) {
          throw new AmbitError('NODE_REVOCATION_INVALID', `Cannot revoke credential ${credential} of node "${node}": it was issued to node "${issued.node}"; name that node`, { path: 'node', value: node });
        }
        if (issued === undefined && this.issued.knowsAll(LONGEST_CREDENTIAL_LIFE_SECONDS)) {
          throw new AmbitError('NODE_REVOCATION_INVALID', `Cannot revoke credential ${credential} of node "${node}": this control plane issued no credential with that ID, or it expired more than a week ago (take the ID from ambit node credentials, or from the "credential" of a node_token.issued, workload_token.issued or stream.accepted audit line); nothing revoked. A credential the registry cannot know (a CA directory restored from a backup, or written by an older control plane) is cut off with the whole node: ambit node revoke ${node}`, { path: 'credential', value: credential });
        }
        // The ID alone decides; a node that does not match the sessions it opened is a mistake to name.
        const holders = this.stream.nodesUsing(credential).filter((n) => n !== node);
        if (holders.length > 0) {
          throw new AmbitError('NODE_REVOCATION_INVALID', `Cannot revoke credential ${credential} of node "${node}": it is in use by node "${holders[0]}"; name that node`, { path: 'node', value: node });
        }
        const r = this.revocations.revokeCredential(node, credential);
        this.publishRevocations();
        const ended = this.stream.endCredential(credential, 'NODE_TOKEN_REVOKED', `Cannot keep the config stream of node "${node}": its credential ${credential} was revoked`);
        const keptUntil = new Date(r.keepUntil * 1000).toISOString();
        this.opts.log.warn({ audit: true, event: 'credential.revoked', node, credential, known: issued !== undefined, keptUntil, sessionsEnded: ended }, 'credential revoked');
        return { node, credential, keptUntil, sessionsEnded: ended };
      },
      listCredentials: async (node) => {
        if (node !== undefined) checkNodeName('list credentials', node);
        const info = this.issued.info();
        return {
          // Complete once no credential from before it can still live.
          registry: { since: info.since.toISOString(), complete: this.issued.knowsAll(LONGEST_CREDENTIAL_LIFE_SECONDS) },
          credentials: this.issued.list(node).map((c) => ({
            credential: c.credential, node: c.node, kind: c.identity === undefined ? 'node' as const : 'workload' as const,
            ...(c.identity === undefined ? {} : { identity: c.identity }),
            issuedAt: new Date(c.issuedAt * 1000).toISOString(), expiresAt: new Date(c.expiresAt * 1000).toISOString(),
            revoked: this.revocations.revokedBy(c.node, c.issuedAt, c.credential) ?? false,
          })),
        };
      },
      watch: (from, onEvent) => this.watchStore(from, onEvent),
    };
  }

  private watchStore(from: number, onEvent: (e: StoreEvent) => void): () => void {
    const oldest = this.recent[0]?.revision ?? this.store.revision + 1;
    if (from > 0 && from >= oldest - 1 && from <= this.store.revision) {
      for (const e of this.recent) if (e.revision > from) onEvent(e);
    } else {
      const all = this.store.list().map((e) => ({ type: 'put' as const, key: resourceKey(e.resource.kind, e.resource.metadata.namespace, e.resource.metadata.name), resource: e.resource as Resource }));
      onEvent({ revision: this.store.revision, changes: all, snapshot: true });
    }
    return this.store.watch(onEvent);
  }

  private updateGauges(): void {
    this.metrics.storeRevision.set(this.store.revision);
    this.metrics.configVersion.set(this.view.version);
    for (const k of KINDS) this.metrics.resources.set({ kind: k }, this.store.count(k));
  }
}

function checkNodeName(action: string, node: string): void {
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(node)) throw new AmbitError('NODE_NAME_INVALID', `Cannot ${action}: ${JSON.stringify(node)} is not a valid node name`, { path: 'node', value: node });
}

function checkCredentialRequest(what: string, node: string, ttl: number): void {
  checkNodeName(`issue a ${what}`, node);
  if (!Number.isInteger(ttl) || ttl < 60 || ttl > MAX_CREDENTIAL_TTL_SECONDS) throw new AmbitError('TTL_INVALID', `Cannot issue a ${what}: ttlSeconds must be an integer from 60 to ${MAX_CREDENTIAL_TTL_SECONDS}, got ${ttl}`, { path: 'ttlSeconds', value: ttl });
}

/** A workload credential names a workload of this mesh: never the control plane, never another domain. */
/**
 * The mesh's trust domain is the CA's: workload identities are built from MeshConfig's, and the CA
 * signs only its own, so a MeshConfig naming another would have every SVID refused (the mesh goes
 * dark within one certificate TTL). Refused at apply, naming both.
 */
function checkMeshTrustDomain(wanted: string, ca: string): void {
  if (wanted === ca) return;
  throw new AmbitError(
    'MESH_TRUST_DOMAIN_MISMATCH',
    `Cannot apply MeshConfig "mesh": spec.trustDomain ${JSON.stringify(wanted)} is not the mesh CA's trust domain ${JSON.stringify(ca)}, and the CA signs only its own (every SVID would be refused); the trust domain is fixed when the CA is made (ambit control-plane --trust-domain, or its CA files)`,
    { path: 'spec.trustDomain', value: wanted },
  );
}

function checkWorkloadIdentity(identity: string, trustDomain: string): void {
  const bad = (why: string, cause?: unknown): never => {
    throw new AmbitError('WORKLOAD_IDENTITY_INVALID', `Cannot issue a workload credential: identity ${JSON.stringify(identity)} ${why}`, { path: 'identity', value: identity, ...(cause ? { cause } : {}) });
  };
  let id;
  try {
    id = parseSpiffeId(identity);
  } catch (err) {
    return bad(`is not a SPIFFE ID (${(err as Error).message})`, err);
  }
  if (identity === controlPlaneIdentity(trustDomain)) bad('is the control plane\'s own identity');
  if (id.trustDomain !== trustDomain) bad(`is not in the mesh's trust domain ${JSON.stringify(trustDomain)}`);
  if (id.namespace === undefined || id.serviceAccount === undefined) bad('is not a workload identity (path must be /ns/<namespace>/sa/<service-account>)');
}

/**
 * The CA's trust domain is the mesh's: a --trust-domain flag or a stored MeshConfig naming another
 * stops the start-up (the flag only shapes a CA not made yet; with the stored one, identities would
 * be built in a domain the CA refuses to sign, and the mesh would go dark within one SVID TTL).
 */
export function checkStartTrustDomain(caDomain: string, flag: string | undefined, store: Store): void {
  if (flag !== undefined && flag !== caDomain) {
    throw new AmbitError('TRUST_DOMAIN_MISMATCH', `Cannot start the control plane: --trust-domain ${JSON.stringify(flag)} is not the trust domain of its CA (${JSON.stringify(caDomain)}); the flag only names the domain of a CA not made yet`, { path: '--trust-domain', value: flag });
  }
  const e = store.get(resourceKey('MeshConfig', undefined, 'mesh'));
  if (e?.resource.kind === 'MeshConfig' && e.resource.spec.trustDomain !== caDomain) {
    throw new AmbitError('MESH_TRUST_DOMAIN_MISMATCH', `Cannot start the control plane: the stored MeshConfig "mesh" has spec.trustDomain ${JSON.stringify(e.resource.spec.trustDomain)}, but its CA signs ${JSON.stringify(caDomain)} only (every SVID would be refused); start it with a CA of that trust domain (--ca-cert-chain, --ca-key, --ca-roots, or the data dir's own ca/)`, { path: 'spec.trustDomain', value: e.resource.spec.trustDomain });
  }
}

function meshTrustDomain(store: Store): string {
  const e = store.get(resourceKey('MeshConfig', undefined, 'mesh'));
  return e?.resource.kind === 'MeshConfig' ? e.resource.spec.trustDomain : DEFAULT_MESH_SETTINGS.trustDomain;
}

/** What proxies are told of the revocations (none yet: nothing, so proxies from before revocations reached the wire keep working). */
function revocationsOnTheWire(r: NodeRevocations): WireRevocations | undefined {
  const nodes = r.list();
  const credentials = r.credentials();
  if (nodes.length === 0 && credentials.length === 0) return undefined;
  return { nodes: Object.fromEntries(nodes.map((n) => [n.node, n.issuedUpTo])), credentials: credentials.map((c) => c.credential) };
}

/**
 * The version space of one control-plane run: the store's ID and a random part. The view's
 * versions past the store's revision (a revocation, a new trust bundle) live only in memory, so a
 * restarted control plane hands out the same numbers again with other content; a proxy that held
 * one of them, told "same store", would be sent nothing or a delta from the wrong base, and keep a
 * deleted ALLOW policy or miss a revocation for good. With a run's own ID it gets one full reset.
 */
export function viewRunId(storeId: string): string {
  return `${storeId}.${randomBytes(8).toString('hex')}`;
}

/**
 * Every stored object parsed again as an apply would: one this version does not understand (a
 * store written by a newer ambit, or edited by hand) would be refused by every proxy at every
 * version from then on, while the control plane itself saw nothing wrong. Refused at start-up,
 * naming the object and the field.
 */
export function checkStoredResources(store: Store, dir: string): void {
  for (const e of store.iterate()) {
    const key = keyOf(e.resource);
    try {
      // A pod's status is the control plane's own (set through pod-status, never in a manifest).
      const { status: _status, ...asApplied } = e.resource as Resource & { status?: unknown };
      parseResource(asApplied, `stored ${key}`);
    } catch (err) {
      const a = err as AmbitError;
      throw new AmbitError('STORE_RESOURCE_INVALID', `Cannot start the control plane: the store in ${dir} holds ${key}, which this version refuses: ${a.message} (written by a newer ambit, or edited by hand?)`, { ...(a.path !== undefined ? { path: a.path } : {}), value: key, cause: err });
    }
  }
}
