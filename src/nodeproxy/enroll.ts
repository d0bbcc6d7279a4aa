// Pod enrollment: how a node proxy learns which pods run on its node and where their network
// namespaces are (Istio's CNI hand-off, as a tiny protocol). The lab (or a CNI plugin) connects to
// the proxy's Unix socket and sends newline-delimited JSON: a snapshot of every pod on the node,
// then adds and removes. The proxy answers each message once the pod's capture rules and
// listeners are in place (or removed), so a pod's app starts only after it is captured.

import net from 'node:net';
import { existsSync, unlinkSync, chmodSync } from 'node:fs';
import { unknownField } from '../config/index.js';
import { AmbitError } from '../errors.js';
import type { Logger } from '../log.js';

export interface EnrolledPod {
  namespace: string;
  name: string;
  ip: string;
  /** Path of the pod's network namespace, e.g. /run/netns/<name>. */
  netns: string;
}

export type EnrollMessage =
  | { op: 'snapshot'; pods: EnrolledPod[] }
  | { op: 'add'; pod: EnrolledPod }
  | { op: 'remove'; pod: { namespace: string; name: string } };

export interface EnrollReply {
  ok: boolean;
  op: string;
  error?: string;
}

export interface EnrollHandler {
  snapshot(pods: EnrolledPod[]): Promise<void>;
  add(pod: EnrolledPod): Promise<void>;
  remove(pod: { namespace: string; name: string }): Promise<void>;
}

export function podKey(p: { namespace: string; name: string }): string {
  return `${p.namespace}/${p.name}`;
}

/** Refuses any field of `o` (at `path`) beyond `known`: a half-understood enrollment is a hole. */
function onlyFields(o: unknown, path: string, known: readonly string[]): void {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return; // the field checks name what is missing
  const extra = unknownField(o, known);
  if (extra !== undefined) throw new AmbitError('ENROLL_INVALID', `Cannot enroll: ${path === '' ? '' : `${path}.`}${extra} is not a known field (known: ${known.join(', ')})`);
}

/** A line longer than this closes the connection (a snapshot of 10,000 pods is ~1.5 MB). */
export const MAX_ENROLL_LINE = 8 * 1024 * 1024;

function checkPod(v: unknown, path: string): EnrolledPod {
  const o = v as Record<string, unknown>;
  onlyFields(o, path, ['namespace', 'name', 'ip', 'netns']);
  for (const f of ['namespace', 'name', 'ip', 'netns']) {
    if (typeof o?.[f] !== 'string' || o[f] === '') throw new AmbitError('ENROLL_INVALID', `Cannot enroll: ${path}.${f} must be a non-empty string, got ${JSON.stringify(o?.[f])}`);
  }
  return { namespace: o.namespace as string, name: o.name as string, ip: o.ip as string, netns: o.netns as string };
}

export function parseEnrollMessage(line: string): EnrollMessage {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new AmbitError('ENROLL_INVALID', 'Cannot enroll: the message is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new AmbitError('ENROLL_INVALID', 'Cannot enroll: the message must be a JSON object with an op');
  if (v.op !== 'snapshot' && v.op !== 'add' && v.op !== 'remove') {
    throw new AmbitError('ENROLL_INVALID', `Cannot enroll: unknown op ${JSON.stringify(v.op)} (expected snapshot, add or remove)`);
  }
  onlyFields(v, '', v.op === 'snapshot' ? ['op', 'pods'] : ['op', 'pod']);
  switch (v.op) {
    case 'snapshot':
      if (!Array.isArray(v.pods)) throw new AmbitError('ENROLL_INVALID', 'Cannot enroll: snapshot.pods must be a list');
      return { op: 'snapshot', pods: v.pods.map((p, i) => checkPod(p, `pods[${i}]`)) };
    case 'add':
      return { op: 'add', pod: checkPod(v.pod, 'pod') };
    case 'remove': {
      const p = v.pod as Record<string, unknown>;
      onlyFields(p, 'pod', ['namespace', 'name']);
      if (typeof p?.namespace !== 'string' || typeof p?.name !== 'string') throw new AmbitError('ENROLL_INVALID', 'Cannot enroll: remove needs pod.namespace and pod.name');
      return { op: 'remove', pod: { namespace: p.namespace, name: p.name } };
    }
  }
}

/** The proxy side: serves the enrollment socket, one message at a time per connection. */
export function serveEnrollment(socketPath: string, handler: EnrollHandler, log: Logger): Promise<net.Server> {
  if (existsSync(socketPath)) unlinkSync(socketPath);
  const server = net.createServer((sock) => {
    let buf = '';
    let chain = Promise.resolve();
    sock.setEncoding('utf8');
    sock.on('error', () => {});
    sock.on('data', (d: string) => {
      buf += d;
      if (buf.length > MAX_ENROLL_LINE && !buf.includes('\n')) {
        log.warn({ bytes: buf.length, limit: MAX_ENROLL_LINE }, 'enrollment message longer than the limit without a newline; closing the connection');
        sock.destroy();
        return;
      }
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!line.trim()) continue;
        chain = chain.then(async () => {
          let reply: EnrollReply;
          try {
            const msg = parseEnrollMessage(line);
            if (msg.op === 'snapshot') await handler.snapshot(msg.pods);
            else if (msg.op === 'add') await handler.add(msg.pod);
            else await handler.remove(msg.pod);
            reply = { ok: true, op: msg.op };
          } catch (err) {
            log.warn({ err: (err as Error).message }, 'enrollment request failed');
            reply = { ok: false, op: 'error', error: (err as Error).message };
          }
          if (!sock.destroyed) sock.write(JSON.stringify(reply) + '\n');
        });
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      chmodSync(socketPath, 0o600);
      resolve(server);
    });
  });
}

/** The lab/CNI side: sends one message and waits for the proxy's answer. */
export function sendEnrollment(socketPath: string, msg: EnrollMessage, timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(socketPath);
    let buf = '';
    const t = setTimeout(() => {
      sock.destroy();
      reject(new AmbitError('ENROLL_TIMEOUT', `Cannot enroll via ${socketPath}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify(msg) + '\n'));
    sock.on('data', (d: string) => {
      buf += d;
      if (!buf.includes('\n')) return;
      clearTimeout(t);
      sock.end();
      const reply = JSON.parse(buf.slice(0, buf.indexOf('\n'))) as EnrollReply;
      if (reply.ok) resolve();
      else reject(new AmbitError('ENROLL_REFUSED', `Cannot enroll: the node proxy said: ${reply.error}`));
    });
    sock.on('error', (err) => {
      clearTimeout(t);
      reject(new AmbitError('NODE_PROXY_UNREACHABLE', `Cannot enroll via ${socketPath}: ${(err as NodeJS.ErrnoException).code ?? err.message} (is the node proxy running?)`, { cause: err }));
    });
  });
}
