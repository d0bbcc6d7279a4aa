// Keeps every request on an originated (plain HTTP in, TLS out) egress connection aimed at the
// host that was decided on. Request heads are held back until whole, then released only if
// their Host is that host (and a port it names, the tunnel's port); bodies pass through by their
// framing. A second request (pipelined or kept alive) that names another host or another port is
// refused before any of its bytes reach the upstream.
import { AmbitError, showValue } from '../errors.js';
import { ChunkedScanner } from './chunked-body.js';
import { HeldBytes } from './held-bytes.js';
import { requestBodyLength } from './http-framing.js';
import { headMayEnd, parseRequestHead } from './http-head.js';

export class RequestHostGuard {
  readonly #held = new HeldBytes();
  /** Body bytes of the current request still to pass, or the chunked body's scanner until its end. */
  #body: number | ChunkedScanner = 0;
  #requests = 0;
  /** How far the held bytes were searched for the end of a head, without one. */
  #searched = 0;

  /** `port`: the tunnel's port; a Host (or absolute target) naming another port is refused. */
  constructor(readonly host: string, readonly port: number) {}

  /** Bytes that may go upstream now, in order. Throws when a request must be refused. */
  feed(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    const fresh = this.#held.length;
    let buf: Buffer;
    if (fresh === 0) {
      buf = chunk;
    } else {
      this.#held.append(chunk);
      buf = this.#held.view();
    }
    const start = buf;
    while (buf.length > 0) {
      if (typeof this.#body === 'number' && this.#body > 0) {
        const n = Math.min(this.#body, buf.length);
        out.push(buf.subarray(0, n));
        this.#body -= n;
        buf = buf.subarray(n);
        continue;
      }
      if (typeof this.#body !== 'number') {
        // Chunked: each chunk passes as it comes; only a chunk line not yet whole is held.
        const n = this.#body.feed(buf);
        if (n > 0) out.push(buf.subarray(0, n));
        buf = buf.subarray(n);
        if (this.#body.done) {
          this.#body = 0;
          continue;
        }
        break;
      }
      // Until an LF comes in new bytes the head cannot be whole: held bytes are not parsed again.
      if (!headMayEnd(buf, buf === start && fresh > 0 ? this.#searched : 0)) {
        this.#searched = buf.length;
        break;
      }
      const head = parseRequestHead(buf);
      if (head.kind === 'incomplete') {
        this.#searched = buf.length;
        break;
      }
      this.#searched = 0;
      this.#requests++;
      if (head.host !== this.host) {
        const [code, why] = this.#requests === 1
          ? ['EGRESS_HOST_MISMATCH', `Host ${showValue(head.host)} is not the tunnel's host ${showValue(this.host)} (domain fronting)`]
          : ['EGRESS_PIPELINED_HOST', `request ${this.#requests} names Host ${showValue(head.host)}, but this connection is for ${showValue(this.host)}`];
        throw new AmbitError(code, `Cannot forward egress HTTP: ${why}`, { path: 'headers.host', value: head.host });
      }
      if (head.port !== undefined && head.port !== this.port) {
        const [code, why] = this.#requests === 1
          ? ['EGRESS_HOST_MISMATCH', `Host port ${head.port} is not the tunnel's port ${this.port}`]
          : ['EGRESS_PIPELINED_HOST', `request ${this.#requests} names Host port ${head.port}, but this connection is for port ${this.port}`];
        throw new AmbitError(code, `Cannot forward egress HTTP: ${why}`, { path: 'headers.host', value: head.port });
      }
      if (head.method === 'CONNECT' || head.headers.some(([n]) => n.toLowerCase() === 'upgrade')) {
        throw new AmbitError('EGRESS_HTTP_UPGRADE', `Cannot forward egress HTTP: ${head.method === 'CONNECT' ? 'CONNECT' : 'Upgrade'} would carry bytes the gateway cannot inspect`, { path: 'method', value: head.method });
      }
      out.push(buf.subarray(0, head.headBytes));
      buf = buf.subarray(head.headBytes);
      const body = requestBodyLength(head);
      this.#body = body === 'chunked' ? new ChunkedScanner() : body;
    }
    // What is left is held: the start of a head, or of a chunk line. Held bytes of which nothing
    // was consumed stay where they are (copying them again per write would be quadratic).
    const consumed = start.length - buf.length;
    if (buf.length === 0) {
      if (this.#held.length > 0) this.#held.replace(Buffer.alloc(0));
      this.#searched = 0;
    } else if (fresh === 0 || consumed > 0) {
      this.#held.replace(buf);
    }
    return out;
  }

  /** Whether bytes of an unfinished head or chunk line are still held. */
  get holding(): boolean {
    return this.#held.length > 0;
  }
}
