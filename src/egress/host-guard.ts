// Keeps every request on an originated (plain HTTP in, TLS out) egress connection aimed at the
// host that was decided on. Request heads are held back until whole, then released only if
// their Host is that host (and a port it names, the tunnel's port); bodies pass through by their
// framing. A second request (pipelined or kept alive) that names another host or another port is
// refused before any of its bytes reach the upstream.
import { AmbitError, showValue } from '../errors.js';
import { chunkedBodyLength } from './chunked-body.js';
import { requestBodyLength } from './http-framing.js';
import { parseRequestHead } from './http-head.js';

/** A chunked body is held until whole; over this it is refused (default 1 MiB). */
export const DEFAULT_MAX_CHUNKED_BODY_BYTES = 1024 * 1024;

export class RequestHostGuard {
  #pending: Buffer = Buffer.alloc(0);
  /** Body bytes of the current request still to pass, or 'chunked' until its end is seen. */
  #body: number | 'chunked' = 0;
  #requests = 0;

  /** `port`: the tunnel's port; a Host (or absolute target) naming another port is refused. */
  constructor(readonly host: string, readonly port: number, private readonly maxChunkedBytes = DEFAULT_MAX_CHUNKED_BODY_BYTES) {}

  /** Bytes that may go upstream now, in order. Throws when a request must be refused. */
  feed(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let buf = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    this.#pending = Buffer.alloc(0);
    while (buf.length > 0) {
      if (typeof this.#body === 'number' && this.#body > 0) {
        const n = Math.min(this.#body, buf.length);
        out.push(buf.subarray(0, n));
        this.#body -= n;
        buf = buf.subarray(n);
        continue;
      }
      if (this.#body === 'chunked') {
        const n = chunkedBodyLength(buf, 0);
        if (n < 0) {
          if (buf.length > this.maxChunkedBytes) {
            throw new AmbitError('EGRESS_CHUNKED_BODY_TOO_LARGE', `Cannot forward egress HTTP: chunked body over ${this.maxChunkedBytes} bytes`, { path: 'body', value: buf.length });
          }
          this.#pending = buf;
          break;
        }
        out.push(buf.subarray(0, n));
        buf = buf.subarray(n);
        this.#body = 0;
        continue;
      }
      const head = parseRequestHead(buf);
      if (head.kind === 'incomplete') {
        this.#pending = buf;
        break;
      }
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
      this.#body = requestBodyLength(head);
    }
    return out;
  }

  /** Whether bytes of an unfinished head or chunked body are still held. */
  get holding(): boolean {
    return this.#pending.length > 0;
  }
}
