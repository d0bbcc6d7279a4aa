// The SVID manager: for every identity that a pod on this node runs as, a private key made in
// memory (never written anywhere), a certificate from the CA, renewed at half-life and whenever
// the trust bundle changes, with backoff on failure while the old certificate is still valid.
// Other modules see only `CertProvider`: an identity in, a TLS context out.

import tls from 'node:tls';
import { X509Certificate, type KeyObject } from 'node:crypto';
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
  /** The trust bundle changed while a request was out: its answer was asked for under the old one. */
  renewAgain?: boolean;
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

  /** New roots: every certificate is renewed, and contexts trust the new bundle. Returns whether they changed. */
  setTrustRoots(roots: string[]): boolean {
    if (roots.join('') === this.roots.join('')) return false;
    const first = this.roots.length === 0;
    this.roots = roots;
    if (first) return true;
    this.opts.log.info({ roots: roots.length }, 'trust bundle changed: renewing every SVID');
    for (const [id, slot] of this.slots) {
      if (slot.inflight) slot.renewAgain = true; // asked again once the answer is in
      else this.renew(id);
    }
    return true;
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
      const waiter = (cred: Credential): void => {
        clearTimeout(t);
        resolve(cred);
      };
      slot.waiters.push(waiter);
      // A waiter that timed out must not stay behind (the CA may be away for a long time).
      t.unref?.();
      const drop = (): void => {
        const i = slot.waiters.indexOf(waiter);
        if (i >= 0) slot.waiters.splice(i, 1);
      };
      setTimeout(drop, timeoutMs + 1).unref();
    });
  }

  /** Renew now (e.g. after a trust bundle change); retried with backoff on failure. */
  renew(identity: string): void {
    const slot = this.slots.get(identity);
    if (!slot || slot.inflight || this.stopped) return;
    clearTimeout(slot.timer);
    let csr: ReturnType<typeof createCsr>;
    try {
      csr = createCsr(parseSpiffeId(identity));
    } catch (err) {
      slot.lastError = (err as Error).message;
      this.opts.log.error({ identity, err: slot.lastError }, 'cannot make a CSR for this identity');
      return;
    }
    const { privateKey, csrPem } = csr;
    slot.inflight = true;
    this.opts.requestSvid(identity, csrPem).then(
      (svid) => {
        slot.inflight = false;
        if (this.slots.get(identity) !== slot) return;
        let cred: Credential;
        try {
          cred = this.credentialFrom(identity, svid.chain, privateKey, svid.serial);
        } catch (err) {
          // A certificate we cannot use is a failed renewal, never a crash (nor a success).
          this.retryLater(identity, slot, (err as Error).message, 'the CA returned an unusable SVID; retrying');
          return;
        }
        slot.cred = cred;
        slot.failures = 0;
        delete slot.lastError;
        const life = cred.notAfter.getTime() - Date.now();
        slot.timer = setTimeout(() => this.renew(identity), Math.max(life / 2, 100));
        slot.timer.unref();
        this.opts.log.info({ identity, serial: cred.serial, notAfter: cred.notAfter.toISOString() }, 'SVID ready');
        for (const w of slot.waiters.splice(0)) w(cred);
        this.opts.onChange?.(identity, cred);
        this.renewIfAsked(identity, slot);
      },
      (err: Error) => {
        slot.inflight = false;
        if (this.slots.get(identity) !== slot) return;
        this.retryLater(identity, slot, err.message, 'SVID request failed; retrying');
        this.renewIfAsked(identity, slot);
      },
    );
  }

  /** A bundle change that came while a request was out: one more renewal, under the new bundle, now. */
  private renewIfAsked(identity: string, slot: Slot): void {
    if (!slot.renewAgain) return;
    slot.renewAgain = false;
    this.renew(identity);
  }

  /**
   * A failed renewal: tried again after a backoff that doubles per failure (opts.backoff, default
   * 200 ms to 30 s), spread by +-20% so that a node's identities, and the nodes of a mesh, do not
   * retry in lock-step after the CA comes back.
   */
  private retryLater(identity: string, slot: Slot, why: string, msg: string): void {
    slot.failures++;
    slot.lastError = why;
    const { initialMs, maxMs } = this.opts.backoff ?? { initialMs: 200, maxMs: 30_000 };
    const wait = Math.round(Math.min(initialMs * 2 ** (slot.failures - 1), maxMs) * (0.8 + Math.random() * 0.4));
    const valid = slot.cred && slot.cred.notAfter.getTime() > Date.now();
    this.opts.log.warn({ identity, err: why, retryInMs: wait, failures: slot.failures, stillValid: !!valid }, msg);
    slot.timer = setTimeout(() => this.renew(identity), wait);
    slot.timer.unref();
  }

  /**
   * The CA is reachable again (the config stream reconnected): every identity waiting out a
   * backoff asks now, so SVIDs that expired during an outage come back at once, not up to 30 s later.
   */
  retryFailed(): number {
    let n = 0;
    for (const [id, slot] of this.slots) {
      if (slot.failures === 0 || slot.inflight) continue;
      n++;
      this.renew(id);
    }
    return n;
  }

  /** Checks what the CA returned (our identity, our key, a real validity) and builds the TLS context. */
  private credentialFrom(identity: string, chain: string[], privateKey: KeyObject, serial: string): Credential {
    const leaf = new X509Certificate(chain[0]!);
    if (leaf.subjectAltName !== `URI:${identity}`) throw new AmbitError('SVID_INVALID', `Cannot use the SVID for ${identity}: it names ${leaf.subjectAltName ?? 'nothing'}`);
    if (!leaf.checkPrivateKey(privateKey)) throw new AmbitError('SVID_INVALID', `Cannot use the SVID for ${identity}: it is not for the key this proxy generated`);
    const notAfter = new Date(leaf.validTo);
    if (notAfter.getTime() <= Date.now()) {
      // Taken as a success it would be "renewed" again at once, forever, with no backoff.
      throw new AmbitError('SVID_INVALID', `Cannot use the SVID for ${identity}: it expired at ${notAfter.toISOString()} by this node's clock (now ${new Date().toISOString()}); is this node's clock ahead of the CA's?`);
    }
    return {
      identity,
      secureContext: createHboneContext({ chainPem: chain, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, rootsPem: this.roots }),
      serial,
      notBefore: new Date(leaf.validFrom),
      notAfter,
      chain,
    };
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
