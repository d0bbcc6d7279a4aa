// The control plane's end of the configuration stream: authenticates each node proxy by its
// node credential, pushes versioned deltas (one in flight per proxy, re-based on what the proxy
// last ACKed, so a NACKed version is never half-applied), and signs SVIDs only for identities of
// pods scheduled on the proxy's node (DESIGN.md invariant 4), writing an audit line either way.
// A session opened with a workload credential (bound to one identity, e.g. the egress gateway)
// may obtain an SVID for exactly that identity, and the node-scoped rule still applies to it.

import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { AmbitError, showValue } from '../errors.js';
import type { Logger } from '../log.js';
import { CLIENT_LIMITS, clientMessageProblem, readFrames, writeFrame, PROTOCOL_VERSION, type Delta } from '../stream/protocol.js';
import type { ProxyStatus } from './admin-api.js';
import type { ConfigView } from './view.js';
import type { ControlPlaneMetrics } from './metrics.js';
import { RoundRobin } from './round-robin.js';

/** What the stream needs of the CA: narrow on purpose. */
export interface IssuanceService {
  /** Verifies a node or workload credential; throws an AmbitError (code NODE_TOKEN_*) when it is not valid.
   *  `identity` is set for a workload credential: the one SPIFFE ID the session may ask for. */
  authenticateNode(token: string): AuthenticatedNode;
  /** Authorizes and signs; throws an AmbitError naming why it refused. `boundIdentity`: the
   *  session's workload credential allows this identity only. `credential`: the ID of the
   *  session's credential, written into the SVID with `node` (docs/ca.md, "Revoking a node"). */
  issue(req: { node: string; credential: string; identity: string; csrPem: string; boundIdentity?: string }): { chain: string[]; serial: string; notAfter: Date };
}

/** What a verified credential speaks for; `credential` is its ID, named in the session's audit line. */
export interface AuthenticatedNode {
  node: string;
  expiresAt: number;
  credential: string;
  identity?: string;
}

export interface StreamServerOptions {
  view: ConfigView;
  /**
   * Names the version space proxies hold versions of (the wire's `storeId`). It must change
   * whenever a version number could come back with other content: the view's versions go past the
   * store's revision (revocations, trust bundle) in memory only, so each control-plane run has its
   * own (`viewRunId`), and a proxy from an earlier run gets one full reset, never a wrong delta or
   * a wrong "nothing to send".
   */
  storeId: string;
  issuance: IssuanceService;
  /** TLS credentials of the control plane's serving certificate. */
  secureContext: () => tls.SecureContext;
  log: Logger;
  metrics?: ControlPlaneMetrics;
  helloTimeoutMs?: number;
}

export class StreamServer {
  private readonly server: tls.Server;
  private readonly sessions = new Map<string, Session>();
  private readonly status = new Map<string, ProxyStatus>();
  private readonly paused = new Set<string>();
  private pushScheduled = false;
  /** CSRs of every session, signed in turns (round-robin.ts): a flood from one node waits behind the others. */
  private readonly csrs = new RoundRobin<Session, Record<string, unknown>>((s, msg) => this.signCsr(s, msg));

  constructor(private readonly opts: StreamServerOptions) {
    // A TCP connection that never finishes TLS is dropped after the handshake timeout (Node's
    // default is 120 s: plenty of time for one node to hold every descriptor).
    this.server = tls.createServer({ SNICallback: (_n, cb) => cb(null, opts.secureContext()), minVersion: 'TLSv1.3', handshakeTimeout: HANDSHAKE_TIMEOUT_MS }, (sock) => this.accept(sock));
    this.server.on('tlsClientError', (err, sock) => {
      opts.log.warn({ audit: true, event: 'stream.tls_failed', remote: sock.remoteAddress, err: err.message }, 'config stream TLS handshake failed');
    });
    opts.view.onChange(() => this.schedulePush());
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve(this.server.address() as AddressInfo));
    });
  }

  proxies(): ProxyStatus[] {
    return [...this.status.values()].sort((a, b) => a.node.localeCompare(b.node) || (a.identity ?? '').localeCompare(b.identity ?? ''));
  }

  setPaused(node: string, paused: boolean): void {
    if (paused) this.paused.add(node);
    else this.paused.delete(node);
    this.opts.log.info({ node, paused }, paused ? 'configuration delivery paused' : 'configuration delivery resumed');
    if (!paused) this.schedulePush();
  }

  /** Ends every session of `node` (its proxy's and its workloads'), each with `code`; returns how many. */
  endNode(node: string, code: string, message: string): number {
    return this.endWhere((s) => s.node === node, code, message);
  }

  /** Ends every session opened with the credential `credential` (its ID); returns how many. */
  endCredential(credential: string, code: string, message: string): number {
    return this.endWhere((s) => s.credential === credential, code, message);
  }

  /** The nodes of the open sessions that opened with the credential `credential`. */
  nodesUsing(credential: string): string[] {
    return [...new Set([...this.sessions.values()].filter((s) => s.credential === credential && !s.sock.writableEnded).map((s) => s.node))];
  }

  private endWhere(match: (s: Session) => boolean, code: string, message: string): number {
    // A session already ending (its error frame sent) is not ended, or counted, again.
    const ending = [...this.sessions.values()].filter((s) => match(s) && !s.sock.writableEnded);
    for (const s of ending) s.end(code, message);
    return ending.length;
  }

  async close(): Promise<void> {
    for (const s of this.sessions.values()) s.sock.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private schedulePush(): void {
    if (this.pushScheduled) return;
    this.pushScheduled = true;
    setImmediate(() => {
      this.pushScheduled = false;
      for (const s of this.sessions.values()) this.push(s);
    });
  }

  private accept(sock: tls.TLSSocket): void {
    const { log } = this.opts;
    const remote = `${sock.remoteAddress}:${sock.remotePort}`;
    sock.setNoDelay(true);
    let session: Session | undefined;
    const helloTimer = setTimeout(() => {
      refuse('STREAM_HELLO_TIMEOUT', 'Cannot open a config stream: no hello within the timeout');
    }, this.opts.helloTimeoutMs ?? 10_000);
    let refused = false;
    const refuse = (code: string, message: string): void => {
      // One refusal per connection: later frames (say, more token guesses) are not read, a second
      // refusal (say, a revoke while the first is still closing) writes nothing, and CSRs still
      // queued for it are not signed.
      if (refused) return;
      refused = true;
      if (session) this.csrs.drop(session);
      log.warn({ audit: true, event: 'stream.refused', remote, code }, message);
      writeFrame(sock, { type: 'error', code, message });
      sock.end();
      setTimeout(() => sock.destroy(), 1000).unref();
    };
    sock.on('error', (err) => log.debug({ remote, err: err.message }, 'config stream socket error'));
    sock.on('close', () => {
      clearTimeout(helloTimer);
      if (session) this.csrs.drop(session);
      if (session && this.sessions.get(session.key) === session) {
        this.sessions.delete(session.key);
        const st = this.status.get(session.key);
        if (st) st.connected = false;
        this.opts.metrics?.connectedProxies.set(this.sessions.size);
        log.info({ node: session.node, ...(session.identity ? { identity: session.identity } : {}), remote }, 'proxy disconnected');
      }
    });
    readFrames(
      sock,
      (msg) => {
        if (refused) return;
        if (!session) {
          clearTimeout(helloTimer);
          if (msg.type !== 'hello') return refuse('STREAM_PROTOCOL', `Cannot open a config stream: the first message must be "hello", got ${showValue(msg.type)}`);
          const problem = clientMessageProblem(msg);
          if (problem) return refuse('STREAM_MESSAGE_INVALID', `Cannot open a config stream: ${problem}`);
          session = this.hello(sock, msg, remote, refuse);
          return;
        }
        // Nothing a proxy sends is read before its shape is checked; a bad message ends that
        // proxy's session only.
        const problem = clientMessageProblem(msg);
        if (problem) return refuse('STREAM_MESSAGE_INVALID', `Cannot read a message from node "${session.node}": ${problem}`);
        try {
          this.onMessage(session, msg);
        } catch (err) {
          log.error({ node: session.node, err: (err as Error).message }, 'config stream message failed; closing that session');
          refuse('STREAM_INTERNAL', `Cannot handle a ${String(msg.type)} message: ${(err as Error).message}`);
        }
      },
      (err) => log.warn({ remote, code: err.code }, err.message),
      // Proxies send only hellos, ACKs and CSRs: a hello is a few KB, nothing later near a megabyte.
      () => (session ? 1024 * 1024 : CLIENT_LIMITS.helloFrameBytes),
    );
  }

  private hello(sock: tls.TLSSocket, msg: Record<string, unknown>, remote: string, refuse: (c: string, m: string) => void): Session | undefined {
    if (msg.protocol !== PROTOCOL_VERSION) {
      refuse('STREAM_PROTOCOL', `Cannot open a config stream: protocol ${JSON.stringify(msg.protocol)} is not supported (this control plane speaks ${PROTOCOL_VERSION})`);
      return undefined;
    }
    let auth: AuthenticatedNode;
    try {
      auth = this.opts.issuance.authenticateNode(msg.token as string);
    } catch (err) {
      const e = err as AmbitError;
      refuse(e.code ?? 'NODE_TOKEN_INVALID', e.message);
      return undefined;
    }
    if (msg.node !== auth.node) {
      refuse('STREAM_NODE_MISMATCH', `Cannot open a config stream: the hello names node ${JSON.stringify(msg.node)} but the node credential is for "${auth.node}"`);
      return undefined;
    }
    const version = msg.version as number; // a whole number (clientMessageProblem)
    // A node proxy and a workload on the same node (the egress gateway) hold separate sessions.
    const key = auth.identity === undefined ? auth.node : `${auth.node} ${auth.identity}`;
    const bound = auth.identity === undefined ? {} : { identity: auth.identity };
    const session: Session = {
      key,
      node: auth.node,
      ...bound,
      sock,
      end: refuse,
      credential: auth.credential,
      expiresAt: auth.expiresAt,
      ackedVersion: version,
      sameStore: msg.storeId === this.opts.storeId,
      inFlight: undefined,
      nackedVersion: undefined,
    };
    const old = this.sessions.get(key);
    if (old) {
      this.opts.log.info({ node: auth.node, ...bound }, 'a new stream from this node replaces its previous one');
      old.sock.destroy();
    }
    this.sessions.set(key, session);
    // The credential bounds the session, not only its CSRs: a node whose token has expired gets no
    // more configuration either (it reconnects with a fresh one).
    // A timer waits at most 2^31-1 ms (24.8 days) and credentials may live a year: it re-arms
    // until the expiry has really come.
    const expiry = timerUntil(auth.expiresAt, () => {
      if (this.sessions.get(key) === session) refuse('NODE_TOKEN_EXPIRED', `Cannot keep the config stream of node "${auth.node}": its node credential expired at ${new Date(auth.expiresAt).toISOString()}; reconnect with a fresh one`);
    });
    sock.once('close', () => expiry.cancel());
    const prev = this.status.get(key);
    this.status.set(key, {
      node: auth.node,
      ...bound,
      connected: true,
      remoteAddress: remote,
      connectedSince: new Date().toISOString(),
      sentVersion: prev?.sentVersion ?? 0,
      ackedVersion: version,
      ...(prev?.nack ? { nack: prev.nack } : {}),
    });
    this.opts.metrics?.connectedProxies.set(this.sessions.size);
    this.opts.log.info({ audit: true, event: 'stream.accepted', node: auth.node, ...bound, credential: auth.credential, remote, resumeFrom: version }, auth.identity === undefined ? 'proxy connected' : 'workload connected');
    writeFrame(sock, { type: 'welcome', node: auth.node, storeId: this.opts.storeId });
    this.push(session);
    return session;
  }

  private onMessage(s: Session, msg: Record<string, unknown>): void {
    const st = this.status.get(s.key)!;
    switch (msg.type) {
      case 'ack': {
        if (s.inFlight === undefined || msg.version !== s.inFlight) return;
        s.ackedVersion = s.inFlight;
        s.sameStore = true;
        s.inFlight = undefined;
        s.nackedVersion = undefined;
        st.ackedVersion = s.ackedVersion;
        delete st.nack;
        this.opts.metrics?.acks.inc();
        this.push(s);
        return;
      }
      case 'nack': {
        if (s.inFlight === undefined || msg.version !== s.inFlight) return;
        const version = s.inFlight;
        s.nackedVersion = version;
        s.inFlight = undefined;
        const error = msg.error as string;
        st.nack = { version, error };
        this.opts.metrics?.nacks.inc();
        this.opts.log.warn({ node: s.node, version, error }, 'proxy rejected a configuration version (NACK); it keeps its previous one');
        return;
      }
      case 'csr':
        return this.onCsr(s, msg);
    }
  }

  /** Queues a CSR; a session with CSR_QUEUE_MAX waiting is not read until it has fewer. */
  private onCsr(s: Session, msg: Record<string, unknown>): void {
    this.csrs.push(s, msg);
    this.flowControl(s);
  }

  private signCsr(s: Session, msg: Record<string, unknown>): void {
    // An ended session (refused, revoked) gets nothing more signed.
    if (s.sock.destroyed || s.sock.writableEnded) return;
    try {
      writeFrame(s.sock, this.answerCsr(s, msg.id as number, msg.identity as string, msg.csr as string));
    } catch (err) {
      // Only this session is at stake (a write into a socket that went, say).
      this.opts.log.error({ node: s.node, err: (err as Error).message }, 'answering a CSR failed; closing that session');
      s.sock.destroy();
      return;
    }
    this.flowControl(s);
  }

  /** The SVID, or the refusal (counted and audited), for one CSR of `s`; a refusal is an answer, not a throw. */
  private answerCsr(s: Session, id: number, identity: string, csrPem: string): object {
    const refuse = (code: string, message: string): object => {
      this.opts.metrics?.svidRefusals.inc({ code });
      this.opts.log.warn({ audit: true, event: 'svid.refused', node: s.node, identity, ...(s.identity ? { boundIdentity: s.identity } : {}), code }, message);
      return { type: 'svid-error', id, code, message };
    };
    if (Date.now() >= s.expiresAt) return refuse('NODE_TOKEN_EXPIRED', `Cannot issue ${identity}: the node credential of "${s.node}" has expired; reconnect with a fresh one`);
    let svid: ReturnType<StreamServerOptions['issuance']['issue']>;
    try {
      svid = this.opts.issuance.issue({ node: s.node, credential: s.credential, identity, csrPem, ...(s.identity === undefined ? {} : { boundIdentity: s.identity }) });
    } catch (err) {
      const e = err as AmbitError;
      return refuse(e.code ?? 'SVID_REFUSED', e.message);
    }
    this.opts.metrics?.svidsSigned.inc();
    this.opts.log.info({ audit: true, event: 'svid.issued', node: s.node, identity, serial: svid.serial, notAfter: svid.notAfter.toISOString() }, 'SVID issued');
    return { type: 'svid', id, chain: svid.chain, serial: svid.serial, notAfter: svid.notAfter.toISOString() };
  }

  /**
   * A session is read only while it has fewer than CSR_QUEUE_MAX CSRs waiting and at most
   * UNREAD_REPLY_BYTES of answers unread; while its answers go unread it is not signed for either.
   */
  private flowControl(s: Session): void {
    const { sock } = s;
    if (sock.destroyed) return;
    const unread = sock.writableLength > UNREAD_REPLY_BYTES;
    if (unread && !s.awaitingDrain) {
      s.awaitingDrain = true;
      this.csrs.hold(s);
      sock.once('drain', () => {
        s.awaitingDrain = false;
        this.csrs.release(s);
        this.flowControl(s);
      });
    }
    const stop = unread || this.csrs.waiting(s) >= CSR_QUEUE_MAX;
    if (stop && !sock.isPaused()) sock.pause();
    else if (!stop && sock.isPaused()) sock.resume();
  }

  private push(s: Session): void {
    if (s.inFlight !== undefined || this.paused.has(s.node) || s.sock.destroyed) return;
    const view = this.opts.view;
    if (s.sameStore && view.version === s.ackedVersion) return;
    if (s.nackedVersion !== undefined && view.version <= s.nackedVersion) return;
    const plan = view.deltaSince(s.ackedVersion, s.sameStore);
    const head: Omit<Delta, 'upserts' | 'removes'> = {
      type: 'delta',
      version: plan.version,
      baseVersion: plan.reset ? 0 : s.ackedVersion,
      reset: plan.reset,
      storeId: this.opts.storeId,
    };
    // Splice cached JSON so 10,000 workloads cost one join, not a re-serialisation per proxy.
    const upserts = plan.upserts.map((u) => `{"key":${JSON.stringify(u.key)},"value":${u.json}}`).join(',');
    const frame = `${JSON.stringify(head).slice(0, -1)},"upserts":[${upserts}],"removes":${JSON.stringify(plan.removes)}}`;
    s.inFlight = plan.version;
    const st = this.status.get(s.key)!;
    st.sentVersion = plan.version;
    this.opts.metrics?.pushes.inc();
    writeFrame(s.sock, frame);
  }
}

/** A TLS handshake not finished this long after the TCP accept is dropped. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

/** The longest delay a Node timer takes (2^31-1 ms, 24.8 days); a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Calls `due` once the wall clock reaches `atMs` (never before, however far off: a longer wait
 * re-arms in steps of MAX_TIMER_MS), in a later turn even when it has passed already. Unref'd.
 */
export function timerUntil(atMs: number, due: () => void): { cancel(): void } {
  let t: NodeJS.Timeout;
  const arm = (): void => {
    t = setTimeout(() => (Date.now() < atMs ? arm() : due()), Math.min(Math.max(0, atMs - Date.now()), MAX_TIMER_MS));
    t.unref();
  };
  arm();
  return { cancel: () => clearTimeout(t) };
}
/** Answers a proxy has not read beyond which its session stops being read (and signed for). */
const UNREAD_REPLY_BYTES = 1024 * 1024;
/** CSRs waiting for one session beyond which it stops being read: it waits, nothing is refused. */
export const CSR_QUEUE_MAX = 64;

interface Session {
  /** `node`, or `node identity` for a workload session. */
  key: string;
  node: string;
  /** Workload sessions only: the one identity this session may obtain an SVID for. */
  identity?: string;
  sock: tls.TLSSocket;
  /** Ends the session with an error frame naming `code` (audited as stream.refused). */
  end: (code: string, message: string) => void;
  /** The ID of the credential it opened with. */
  credential: string;
  expiresAt: number;
  ackedVersion: number;
  /** False until the proxy holds state from this control plane's store. */
  sameStore: boolean;
  inFlight: number | undefined;
  nackedVersion: number | undefined;
  /** Its answers went unread past UNREAD_REPLY_BYTES: waiting for the socket's 'drain'. */
  awaitingDrain?: boolean;
}
