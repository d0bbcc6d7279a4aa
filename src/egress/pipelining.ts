// Walks requests sent back to back on one connection, head then body then head, so that a
// gateway that decided on the first request's Host can see a second request that names another
// host in the same bytes (the "pipelined requests to two hosts" attack).
import { chunkedBodyLength } from './chunked-body.js';
import { requestBodyLength } from './http-framing.js';
import { parseRequestHead, type RequestHeadOptions } from './http-head.js';

/** The Host of every complete request head found back to back in `buf`, in order. */
export function pipelinedHosts(buf: Buffer, opts: RequestHeadOptions = {}): (string | undefined)[] {
  const hosts: (string | undefined)[] = [];
  let at = 0;
  while (at < buf.length) {
    const head = parseRequestHead(buf, { ...opts, offset: at });
    if (head.kind === 'incomplete') break;
    hosts.push(head.host);
    at += head.headBytes;
    const body = requestBodyLength(head);
    if (body === 'chunked') {
      const n = chunkedBodyLength(buf, at);
      if (n < 0) break;
      at += n;
    } else {
      at += body;
    }
  }
  return hosts;
}
