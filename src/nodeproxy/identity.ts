// The SVID manager: for every identity that a pod on this node runs as, a private key made in
// memory (never written anywhere), a certificate from the CA, renewed at half-life and whenever
// the trust bundle changes, with backoff on failure while the old certificate is still valid.
// Other modules see only `CertProvider`: an identity in, a TLS context out.

import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { Logger } from '../log.js';
import { createCsr, parseSpiffeId } from '../identity/index.js';
import { createHboneContext } from '../hbone/index.js';
import { AmbitError } from '../errors.js';
import type { Svid } from '../stream/index.js';

export interface Credential {
  identity: string;
  secureContext: tls.SecureContext;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  chain: string[];
}

/** The one seam between certificates and TLS users (inbound, outbound, pools). */
export interface CertProvider {
  current(identity: string): Credential | undefined;
  waitFor(identity: string, timeoutMs?: number): Promise<Credential>;
  trustedRoots(): string[];
}

export interface IdentityManagerOptions {
  requestSvid: (identity: string, csrPem: string) => Promise<Svid>;
  log: Logger;
  backoff?: { initialMs: number; maxMs: number };
  onChange?: (identity: string, cred: Credential | undefined) => void;
}

interface Slot {
  cred?: Credential;
  timer?: NodeJS.Timeout;
  inflight: boolean;
  failures: number;
  lastError?: string;
  waiters: ((c: Credential) => void)[];
}

export class IdentityManager implements CertProvider {
  private readonly slots = new Map<string, Slot>();
  private roots: string[] = [];
  private stopped = false;

  constructor(private readonly opts: IdentityManagerOptions) {}

  trustedRoots(): string[] {
    return this.roots;
  }

  /** New roots: every certificate is renewed, and contexts trust the new bundle. */
  setTrustRoots(roots: string[]): void {
    if (roots.join('') === this.roots.join('')) return;
    const first = this.roots.length === 0;
    this.roots = roots;
    if (first) return;
    this.opts.log.info({ roots: roots.length }, 'trust bundle changed: renewing every SVID');
    for (const id of this.slots.keys()) this.renew(id);
  }

  /** The identities local pods need; others are dropped (their keys leave memory). */
  setWanted(identities: Iterable<string>): void {
    const want = new Set(identities);
    for (const [id, slot] of this.slots) {
      if (want.has(id)) continue;
      clearTimeout(slot.timer);
      this.slots.delete(id);
      this.opts.onChange?.(id, undefined);
      this.opts.log.info({ identity: id }, 'SVID dropped: no pod on this node runs as this identity');
    }
    for (const id of want) {
      if (this.slots.has(id)) continue;
      this.slots.set(id, { inflight: false, failures: 0, waiters: [] });
      this.renew(id);
    }
  }

  current(identity: string): Credential | undefined {
    const c = this.slots.get(identity)?.cred;
    return c && c.notAfter.getTime() > Date.now() ? c : undefined;
  }

  waitFor(identity: string, timeoutMs = 10_000): Promise<Credential> {
    const c = this.current(identity);
    if (c) return Promise.resolve(c);
    const slot = this.slots.get(identity);
    if (!slot) return Promise.reject(new AmbitError('IDENTITY_NOT_LOCAL', `Cannot use identity ${identity}: no pod on this node runs as it`));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new AmbitError('SVID_UNAVAILABLE', `Cannot use identity ${identity}: no valid certificate yet (${slot.lastError ?? 'waiting for the CA'})`)), timeoutMs);
      slot.waiters.push((cred) => {
        clearTimeout(t);
        resolve(cred);
      });
    });
  }

  /** Renew now (e.g. after a trust bundle change); retried with backoff on failure. */
  renew(identity: string): void {
    const slot = this.slots.get(identity);
    if (!slot || slot.inflight || this.stopped) return;
    clearTimeout(slot.timer);
    slot.inflight = true;
    const { privateKey, csrPem } = createCsr(parseSpiffeId(identity));
    this.opts.requestSvid(identity, csrPem).then(
      (svid) => {
        slot.inflight = false;
        if (this.slots.get(identity) !== slot) return;
        const leaf = new X509Certificate(svid.chain[0]!);
        const cred: Credential = {
          identity,
          secureContext: createHboneContext({ chainPem: svid.chain, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, rootsPem: this.roots }),
          serial: svid.serial,
          notBefore: new Date(leaf.validFrom),
          notAfter: svid.notAfter,
          chain: svid.chain,
        };
        slot.cred = cred;
        slot.failures = 0;
        delete slot.lastError;
        const life = cred.notAfter.getTime() - Date.now();
        slot.timer = setTimeout(() => this.renew(identity), Math.max(life / 2, 100));
        slot.timer.unref();
        this.opts.log.info({ identity, serial: cred.serial, notAfter: cred.notAfter.toISOString() }, 'SVID ready');
        for (const w of slot.waiters.splice(0)) w(cred);
        this.opts.onChange?.(identity, cred);
      },
      (err: Error) => {
        slot.inflight = false;
        if (this.slots.get(identity) !== slot) return;
        slot.failures++;
        slot.lastError = err.message;
        const { initialMs, maxMs } = this.opts.backoff ?? { initialMs: 200, maxMs: 30_000 };
        const wait = Math.min(initialMs * 2 ** (slot.failures - 1), maxMs);
        const valid = slot.cred && slot.cred.notAfter.getTime() > Date.now();
        this.opts.log.warn({ identity, err: err.message, retryInMs: wait, stillValid: !!valid }, 'SVID request failed; retrying');
        slot.timer = setTimeout(() => this.renew(identity), wait);
        slot.timer.unref();
      },
    );
  }

  dump(): { identity: string; serial?: string; notBefore?: string; notAfter?: string; state: string; lastError?: string }[] {
    return [...this.slots].map(([identity, s]) => ({
      identity,
      ...(s.cred ? { serial: s.cred.serial, notBefore: s.cred.notBefore.toISOString(), notAfter: s.cred.notAfter.toISOString() } : {}),
      state: s.cred && s.cred.notAfter.getTime() > Date.now() ? 'valid' : s.inflight ? 'requesting' : 'pending',
      ...(s.lastError ? { lastError: s.lastError } : {}),
    }));
  }

  stop(): void {
    this.stopped = true;
    for (const s of this.slots.values()) clearTimeout(s.timer);
  }
}
