// One egress connection as the Duplex that the HBONE server splices to the tunnel stream. The
// client only sends once the tunnel answered 200, so the decision cannot come before it: this
// Duplex accepts the tunnel, holds the first bytes (bounded in size and time) until they name a
// destination, lets the gateway decide and dial, replays the held bytes, then relays both ways
// with half-close. A refusal destroys it with the reason, which resets the tunnel stream. A relay
// quiet in both directions for `idleTimeoutMs` is ended gracefully: FIN to the upstream and
// END_STREAM to the client (never a reset first: FIELD-NOTES, nghttp2 and RST_STREAM bursts),
// and destroyed only if the two ends have not closed after a grace period.
import { Duplex } from 'node:stream';
import { AmbitError } from '../errors.js';
import { readFirstBytesOrNeed, truncatedError, TLS_FIRST_BYTE as TLS_HANDSHAKE, type FirstBytes, type FirstBytesLimits } from './first-bytes.js';
import { HeldBytes } from './held-bytes.js';
import { headMayEnd } from './http-head.js';
import type { RequestHostGuard } from './host-guard.js';

export interface OpenedUpstream {
  upstream: Duplex;
  /** For originated HTTP: checks every request's Host before it goes upstream. */
  guard?: RequestHostGuard;
}

export interface EgressConnectionOptions extends FirstBytesLimits {
  /** Held bytes before a decision, over every TLS record or the HTTP head. */
  maxFirstBytes: number;
  firstBytesTimeoutMs: number;
  /** A relaying connection with no byte either way for this long is closed (0: never). */
  idleTimeoutMs?: number;
  /** Decides on the first bytes and dials; throws (AmbitError) to refuse. */
  open: (first: FirstBytes) => Promise<OpenedUpstream>;
}

export class EgressConnection extends Duplex {
  /** Bytes from the client (tunnel) and to the client. */
  bytesIn = 0;
  bytesOut = 0;
  /** Set once the upstream is connected: from here on errors are relay failures, not refusals. */
  relaying = false;
  /** Set when the idle timeout closed the connection: the audit line's `error`. */
  idleClosed: string | undefined;
  readonly #held = new HeldBytes();
  /** Held bytes are parsed again once there are this many (what the last parse said it lacked). */
  #parseAt = 0;
  /** How far the held bytes were searched for an LF (an HTTP head's end, or its error). */
  #searched = 0;
  #upstream: Duplex | undefined;
  #guard: RequestHostGuard | undefined;
  readonly #timer: NodeJS.Timeout;
  #idleTimer: NodeJS.Timeout | undefined;
  #lastActive = 0;
  /** push(null) was called: the upstream ended, or the idle timeout ended the client side. */
  #ended = false;

  constructor(private readonly opts: EgressConnectionOptions) {
    super({ allowHalfOpen: true });
    this.#timer = setTimeout(() => {
      this.destroy(new AmbitError('EGRESS_FIRST_BYTES_TIMEOUT', `Cannot route egress tunnel: no ClientHello or request head within ${opts.firstBytesTimeoutMs} ms (got ${this.#held.length} bytes)`, { path: 'stream', value: this.#held.length }));
    }, opts.firstBytesTimeoutMs);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.bytesIn += chunk.length;
    this.#lastActive = performance.now();
    // After an idle close the upstream is ended: what the client still sends (a TLS close_notify) goes nowhere.
    if (this.idleClosed !== undefined) return cb();
    if (this.#upstream !== undefined) return this.#forward(chunk, cb);
    this.#held.append(chunk);
    const buf = this.#held.view();
    const tooMany = (): void => cb(new AmbitError('EGRESS_FIRST_BYTES_TOO_LARGE', `Cannot route egress tunnel: ${buf.length} bytes without a whole ClientHello or request head, limit ${this.opts.maxFirstBytes}`, { path: 'stream', value: buf.length }));
    // Parsed again only when it can say more: a TLS record or handshake length says how many
    // bytes are missing, and an HTTP head (or a bare LF, its error) ends at an LF in new bytes.
    // Parsing the whole held prefix at every write would be quadratic in a byte-at-a-time client.
    const http = buf[0] !== TLS_HANDSHAKE;
    if (buf.length < this.#parseAt || (http && !headMayEnd(buf, this.#searched, this.opts.maxHeadBytes))) {
      this.#searched = buf.length;
      return buf.length > this.opts.maxFirstBytes ? tooMany() : cb();
    }
    let read: FirstBytes | { need: number };
    try {
      read = readFirstBytesOrNeed(buf, this.opts);
    } catch (err) {
      return cb(err as Error);
    }
    if ('need' in read) {
      this.#parseAt = buf.length + read.need;
      this.#searched = buf.length;
      return buf.length > this.opts.maxFirstBytes ? tooMany() : cb();
    }
    const first = read;
    clearTimeout(this.#timer);
    this.opts.open(first).then(
      ({ upstream, guard }) => {
        if (this.destroyed) {
          upstream.destroy();
          return;
        }
        this.#attach(upstream, guard);
        const held = Buffer.from(this.#held.view());
        this.#held.replace(Buffer.alloc(0));
        this.#forward(held, cb);
      },
      (err: Error) => cb(err),
    );
  }

  #attach(upstream: Duplex, guard: RequestHostGuard | undefined): void {
    this.#upstream = upstream;
    this.#guard = guard;
    this.relaying = true;
    upstream.on('data', (d: Buffer) => {
      if (this.#ended) return; // after an idle close: the client side is already ended
      this.bytesOut += d.length;
      this.#lastActive = performance.now();
      if (!this.push(d)) upstream.pause();
    });
    upstream.once('end', () => this.#end());
    upstream.once('error', (err) => this.destroy(err));
    upstream.once('close', () => {
      if (!this.#ended && !this.destroyed) this.destroy(new Error('upstream closed before it ended'));
    });
    this.#lastActive = performance.now();
    this.#armIdle(this.opts.idleTimeoutMs ?? 0);
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.push(null);
  }

  #armIdle(inMs: number): void {
    const idle = this.opts.idleTimeoutMs ?? 0;
    if (idle <= 0 || this.destroyed) return;
    this.#idleTimer = setTimeout(() => {
      const quiet = performance.now() - this.#lastActive;
      if (quiet < idle) return this.#armIdle(idle - quiet);
      this.idleClosed = `idle for ${idle} ms (no byte either way): closed with a half-close both ways`;
      this.#upstream?.end();
      this.#end();
      // Both ends normally close on their own now; one that does not is cut after the grace
      // (with an error, so the tunnel stream is reset: an end without one would leave it open).
      const grace = Math.min(idle, 30_000);
      this.#idleTimer = setTimeout(() => {
        this.idleClosed += `; reset after ${grace} ms more without a close`;
        this.destroy(new AmbitError('EGRESS_IDLE_TIMEOUT', `Cannot keep egress connection: idle for ${idle} ms and not closed ${grace} ms after a half-close`, { path: 'stream', value: idle }));
      }, grace);
      this.#idleTimer.unref();
    }, inMs);
    this.#idleTimer.unref();
  }

  #forward(chunk: Buffer, cb: (err?: Error | null) => void): void {
    let parts: Buffer[];
    try {
      parts = this.#guard ? this.#guard.feed(chunk) : [chunk];
    } catch (err) {
      return cb(err as Error);
    }
    let flowing = true;
    for (const p of parts) flowing = this.#upstream!.write(p) && flowing;
    if (flowing) cb();
    else this.#upstream!.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.#upstream === undefined) return cb(truncatedError(this.#held.view()));
    this.#upstream.end();
    cb();
  }

  override _read(): void {
    this.#upstream?.resume();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    clearTimeout(this.#timer);
    clearTimeout(this.#idleTimer);
    this.#upstream?.destroy();
    cb(err);
  }
}
