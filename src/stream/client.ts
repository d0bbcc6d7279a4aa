// The proxy's end of the configuration stream, shipped as a library for the node proxy (and the
// tests). It keeps the last good configuration, applies each delta all-or-nothing (decode, then
// the caller's validator, then swap), ACKs or NACKs it, asks for SVIDs, and reconnects with
// backoff, resuming from the version it holds. Without the control plane it keeps serving what it has.

import tls from 'node:tls';
import { EventEmitter } from 'node:events';
import { AmbitError } from '../errors.js';
import type { Logger } from '../log.js';
import { CLIENT_LIMITS, readFrames, writeFrame, PROTOCOL_VERSION, type Delta } from './protocol.js';
import { decodeResourceValue } from './resources.js';
import { unknownField } from '../config/fields.js';

const CONNECT_TIMEOUT_MS = 10_000;

export interface ConfigState {
  version: number;
  storeId: string | null;
  resources: ReadonlyMap<string, unknown>;
}

export interface Svid {
  chain: string[];
  serial: string;
  notAfter: Date;
}

export interface ConfigStreamClientOptions {
  /** `host:port` of the control plane's stream port (15012). */
  address: string;
  node: string;
  /** The node credential; a function lets the caller rotate it. */
  token: string | (() => string);
  /** PEM roots that the control plane's serving certificate must chain to. */
  trustBundle: string;
  /** SPIFFE ID the control plane must present (see controlPlaneIdentity); nothing else is trusted. */
  serverIdentity: string;
  /** Start from this state (e.g. kept across a proxy restart); default empty. */
  initialState?: ConfigState;
  /** Extra check before a version is applied; throw to NACK it. */
  validate?: (next: ConfigState) => void;
  log: Logger;
  backoff?: { initialMs: number; maxMs: number };
  /** Run inside another network namespace: supply the socket to connect over. */
  connect?: (host: string, port: number) => import('node:net').Socket;
}

export interface ConfigStreamEvents {
  update: [state: ConfigState, changed: { upserts: string[]; removes: string[]; reset: boolean }];
  connected: [];
  disconnected: [err?: Error];
  nack: [version: number, error: string];
  /**
   * A version was rejected (NACKed): the resources of it that decoded, for what a proxy must take
   * even from a version it cannot apply whole (the revocations). Not emitted for a malformed delta.
   */
  rejected: [version: number, decoded: ReadonlyMap<string, unknown>];
  refused: [err: AmbitError];
}

export class ConfigStreamClient extends EventEmitter<ConfigStreamEvents> {
  private st: ConfigState;
  private sock: tls.TLSSocket | undefined;
  private stopped = true;
  private delay: number;
  private timer: NodeJS.Timeout | undefined;
  private nextCsrId = 1;
  private readonly pendingCsr = new Map<number, { resolve: (s: Svid) => void; reject: (e: Error) => void }>();
  private welcomed = false;
  /** What the control plane's certificate must chain to: the bootstrap bundle, then the mesh's. */
  private trust: string | string[];

  constructor(private readonly opts: ConfigStreamClientOptions) {
    super();
    this.st = opts.initialState ?? { version: 0, storeId: null, resources: new Map() };
    this.trust = opts.trustBundle;
    this.followTrustBundle(this.st);
    this.delay = opts.backoff?.initialMs ?? 200;
  }

  get state(): ConfigState {
    return this.st;
  }

  get connected(): boolean {
    return this.welcomed;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.dial();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.sock?.destroy();
    this.failPending(new AmbitError('STREAM_CLOSED', 'Cannot get an SVID: the config stream client was stopped'));
  }

  /** Resolves when the client holds at least `version` (or any version, when omitted). */
  waitForVersion(version = 1, timeoutMs = 30_000): Promise<ConfigState> {
    if (this.st.version >= version) return Promise.resolve(this.st);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.off('update', on);
        reject(new AmbitError('STREAM_TIMEOUT', `Cannot reach config version ${version}: still at ${this.st.version} after ${timeoutMs} ms`));
      }, timeoutMs);
      const on = (s: ConfigState): void => {
        if (s.version < version) return;
        clearTimeout(t);
        this.off('update', on);
        resolve(s);
      };
      this.on('update', on);
    });
  }

  /** Sends a CSR for `identity` (a SPIFFE ID) and resolves with the signed chain. */
  requestSvid(identity: string, csrPem: string, timeoutMs = 10_000): Promise<Svid> {
    if (!this.sock || !this.welcomed) {
      return Promise.reject(new AmbitError('STREAM_DISCONNECTED', `Cannot get an SVID for ${identity}: not connected to the control plane`));
    }
    const id = this.nextCsrId++;
    const sock = this.sock;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.pendingCsr.delete(id);
        reject(new AmbitError('STREAM_TIMEOUT', `Cannot get an SVID for ${identity}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pendingCsr.set(id, {
        resolve: (s) => (clearTimeout(t), resolve(s)),
        reject: (e) => (clearTimeout(t), reject(e)),
      });
      writeFrame(sock, { type: 'csr', id, identity, csr: csrPem });
    });
  }

  private dial(): void {
    const { log } = this.opts;
    const [host, portText] = splitHostPort(this.opts.address);
    const token = typeof this.opts.token === 'function' ? this.opts.token() : this.opts.token;
    const expected = this.opts.serverIdentity;
    const sock = tls.connect({
      host,
      port: Number(portText),
      ...(this.opts.connect ? { socket: this.opts.connect(host, Number(portText)) } : {}),
      ca: this.trust,
      minVersion: 'TLSv1.3',
      servername: 'control-plane.ambit',
      checkServerIdentity: (_h, cert) => {
        const uris = (cert.subjectaltname ?? '').split(', ').filter((s) => s.startsWith('URI:')).map((s) => s.slice(4));
        return uris.includes(expected) ? undefined : new AmbitError('STREAM_SERVER_IDENTITY', `Cannot trust the control plane: it presented ${uris.join(',') || 'no URI SAN'}, expected ${expected}`);
      },
    });
    this.sock = sock;
    this.welcomed = false;
    sock.setNoDelay(true);
    // A dead path must not look like a quiet one: keepalive probes, and a deadline for the welcome.
    sock.setKeepAlive(true, 10_000);
    const welcomeDeadline = setTimeout(() => {
      if (!this.welcomed) sock.destroy(new AmbitError('STREAM_TIMEOUT', `Cannot open the config stream to ${this.opts.address}: no welcome within ${CONNECT_TIMEOUT_MS} ms`));
    }, CONNECT_TIMEOUT_MS);
    welcomeDeadline.unref();
    sock.once('close', () => clearTimeout(welcomeDeadline));
    sock.on('secureConnect', () => {
      writeFrame(sock, { type: 'hello', protocol: PROTOCOL_VERSION, node: this.opts.node, token, version: this.st.version, storeId: this.st.storeId });
    });
    readFrames(
      sock,
      (msg) => this.onMessage(sock, msg),
      (err) => log.warn({ code: err.code }, err.message),
    );
    sock.on('error', (err) => log.debug({ err: err.message }, 'config stream error'));
    sock.on('close', () => {
      if (this.sock !== sock) return;
      const was = this.welcomed;
      this.welcomed = false;
      this.sock = undefined;
      this.failPending(new AmbitError('STREAM_DISCONNECTED', 'Cannot get an SVID: the config stream closed before the answer'));
      if (was) this.emit('disconnected');
      if (this.stopped) return;
      const wait = Math.round(this.delay * (0.8 + Math.random() * 0.4));
      this.delay = Math.min(this.delay * 2, this.opts.backoff?.maxMs ?? 5_000);
      log.info({ retryInMs: wait, version: this.st.version }, 'config stream lost; keeping the last good configuration and reconnecting');
      this.timer = setTimeout(() => this.dial(), wait);
    });
  }

  private onMessage(sock: tls.TLSSocket, msg: Record<string, unknown>): void {
    switch (msg.type) {
      case 'welcome':
        this.welcomed = true;
        this.delay = this.opts.backoff?.initialMs ?? 200;
        this.opts.log.info({ node: msg.node, version: this.st.version }, 'config stream connected');
        this.emit('connected');
        return;
      case 'delta':
        return this.onDelta(sock, msg as unknown as Delta);
      case 'svid': {
        const p = this.pendingCsr.get(msg.id as number);
        this.pendingCsr.delete(msg.id as number);
        p?.resolve({ chain: msg.chain as string[], serial: String(msg.serial), notAfter: new Date(String(msg.notAfter)) });
        return;
      }
      case 'svid-error': {
        const p = this.pendingCsr.get(msg.id as number);
        this.pendingCsr.delete(msg.id as number);
        p?.reject(new AmbitError(String(msg.code), String(msg.message)));
        return;
      }
      case 'error': {
        const err = new AmbitError(String(msg.code), String(msg.message));
        this.opts.log.error({ code: err.code }, `control plane refused the stream: ${err.message}`);
        this.emit('refused', err);
        return;
      }
      default:
        this.opts.log.warn({ type: msg.type }, 'ignoring an unknown config-stream message type');
    }
  }

  private onDelta(sock: tls.TLSSocket, d: Delta): void {
    const nack = (error: string): void => {
      this.opts.log.warn({ version: d.version, error }, 'rejecting configuration version (NACK); keeping the previous one');
      writeFrame(sock, { type: 'nack', version: d.version, error: error.slice(0, CLIENT_LIMITS.nackErrorChars) });
      this.emit('nack', d.version, error);
    };
    const malformed = deltaProblem(d);
    if (malformed) return nack(`malformed delta: ${malformed}`);
    const errors: string[] = [];
    const clean = new Map<string, unknown>();
    const decoded = d.upserts.map((u) => {
      const r = decodeResourceValue(u.key, u.value);
      errors.push(...r.problems);
      if (r.problems.length === 0) clean.set(u.key, r.value);
      return [u.key, r.value] as const;
    });
    const reject = (error: string): void => {
      nack(error);
      this.emit('rejected', d.version, clean);
    };
    if (!d.reset && (d.baseVersion !== this.st.version || d.storeId !== this.st.storeId)) {
      return reject(`delta is based on version ${d.baseVersion}, but this proxy holds ${this.st.version}`);
    }
    if (errors.length) return reject(errors.slice(0, 5).join('; '));
    const next = new Map(d.reset ? [] : this.st.resources);
    for (const [key, value] of decoded) next.set(key, value);
    for (const k of d.removes) next.delete(k);
    const state: ConfigState = { version: d.version, storeId: d.storeId, resources: next };
    try {
      this.opts.validate?.(state);
    } catch (err) {
      return reject((err as Error).message);
    }
    this.st = state;
    this.followTrustBundle(state);
    writeFrame(sock, { type: 'ack', version: d.version });
    this.emit('update', state, { upserts: d.upserts.map((u) => u.key), removes: d.removes, reset: d.reset });
  }

  /**
   * The control plane is verified, from the next connection on, against the trust bundle the mesh
   * delivers (the bootstrap file only until one arrives): after a root rotation its certificate
   * may chain only to a root the file never had, and a proxy that kept the file alone could not
   * reconnect, so it could renew no SVID.
   */
  private followTrustBundle(state: ConfigState): void {
    const roots = (state.resources.get('trust-bundle/mesh') as { roots?: unknown } | undefined)?.roots;
    if (!Array.isArray(roots) || roots.length === 0 || !roots.every((r) => typeof r === 'string')) return;
    // One PEM per entry: joined, two roots without a newline between them read as one broken one.
    if (Array.isArray(this.trust) && this.trust.join('\n') === roots.join('\n')) return;
    this.trust = [...(roots as string[])];
    this.opts.log.info({ roots: roots.length }, 'config stream: the control plane is verified against the mesh\'s trust bundle from the next connection on');
  }

  private failPending(err: Error): void {
    for (const p of this.pendingCsr.values()) p.reject(err);
    this.pendingCsr.clear();
  }
}

/** What is wrong with a delta's envelope (its resources are decoded after), or undefined. */
export function deltaProblem(d: Delta): string | undefined {
  const raw = d as unknown as Record<string, unknown>;
  const extra = unknownField(raw, DELTA_FIELDS);
  if (extra !== undefined) return `unknown field ${JSON.stringify(extra)} (known: ${DELTA_FIELDS.join(', ')})`;
  const whole = (f: string): string | undefined => (Number.isSafeInteger(raw[f]) && (raw[f] as number) >= 0 ? undefined : `${f}: must be a whole number, got ${JSON.stringify(raw[f])}`);
  const bad = whole('version') ?? whole('baseVersion');
  if (bad) return bad;
  if (typeof raw.reset !== 'boolean') return `reset: must be true or false, got ${JSON.stringify(raw.reset)}`;
  if (typeof raw.storeId !== 'string') return `storeId: must be a string, got ${JSON.stringify(raw.storeId)}`;
  if (!Array.isArray(raw.upserts)) return 'upserts: must be a list';
  for (const [i, u] of (raw.upserts as unknown[]).entries()) {
    const ok = typeof u === 'object' && u !== null && !Array.isArray(u) && typeof (u as { key?: unknown }).key === 'string' && unknownField(u, ['key', 'value']) === undefined;
    if (!ok) return `upserts[${i}]: must be {key: string, value}, got ${JSON.stringify(u)?.slice(0, 200)}`;
  }
  if (!Array.isArray(raw.removes) || !(raw.removes as unknown[]).every((k) => typeof k === 'string')) return 'removes: must be a list of keys (strings)';
  return undefined;
}
const DELTA_FIELDS = ['type', 'version', 'baseVersion', 'reset', 'storeId', 'upserts', 'removes'];

function splitHostPort(address: string): [string, string] {
  const i = address.lastIndexOf(':');
  if (i <= 0) throw new AmbitError('ADDRESS_INVALID', `Cannot parse address ${JSON.stringify(address)}: expected host:port`);
  return [address.slice(0, i).replace(/^\[|\]$/g, ''), address.slice(i + 1)];
}
