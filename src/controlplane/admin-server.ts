// Serves the AdminApi (admin-api.ts) as HTTP/1.1 + JSON on a Unix socket. Routes map one-to-one
// onto AdminApi methods; errors come back as {error:{code,message,path,value}} with a 4xx/5xx.

import http from 'node:http';
import { existsSync, unlinkSync } from 'node:fs';
import { parseStrictJson } from '../config/json.js';
import { AmbitError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AdminApi, StoreEvent } from './admin-api.js';
import { ADMIN_ROUTES, parseAdminRequest, takesBody } from './admin-requests.js';

/** The server side needs the same API plus a synchronous watch registration. */
export interface AdminBackend extends Omit<AdminApi, 'watch'> {
  /** Replays what a watcher from `fromRevision` must see, then follows live events. */
  watch(fromRevision: number, onEvent: (e: StoreEvent) => void): () => void;
}

/** A request body larger than this is refused (413) before it is parsed. */
export const MAX_BODY = 64 * 1024 * 1024;

/**
 * A watcher that leaves this much of its stream unread has its watch ended (it reconnects from
 * its last revision, as after any break): the control plane does not hold an unbounded backlog
 * for a reader that has stopped. One event may be larger on its own (a snapshot of the store).
 */
export const WATCH_MAX_UNREAD = 16 * 1024 * 1024;

/**
 * HTTP status by error code; anything else is the caller's mistake (400). The control plane's own
 * failures (its store, its CA, the credential registry) are 500, logged as errors: a caller that
 * retries a 400 as "my mistake" would never learn the store is failing.
 */
const STATUS: Record<string, number> = {
  NOT_FOUND: 404, METHOD_NOT_ALLOWED: 405, REQUEST_TOO_LARGE: 413, INTERNAL: 500,
  STORE_WRITE_FAILED: 500, STORE_CORRUPT: 500, CREDENTIAL_NOT_RECORDED: 500, CA_EXPIRED: 500,
};

export function serveAdmin(socketPath: string, backend: AdminBackend, log: Logger): Promise<http.Server> {
  if (existsSync(socketPath)) unlinkSync(socketPath);
  const server = http.createServer((req, res) => {
    handle(req, res, backend, log).catch((err: unknown) => {
      const e = err instanceof AmbitError ? err : new AmbitError('INTERNAL', (err as Error).message ?? String(err));
      const status = STATUS[e.code] ?? 400;
      if (status === 500) log.error({ err }, 'admin API request failed');
      if (res.headersSent) return void res.destroy();
      res.writeHead(status, { 'content-type': 'application/json', ...(status === 405 ? { allow: allowed(new URL(req.url ?? '/', 'http://admin').pathname) } : {}), ...(status === 413 ? { connection: 'close' } : {}) });
      res.end(JSON.stringify({ error: { code: e.code, message: e.message, path: e.path, value: e.value } }));
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // The socket is the admin's door: created owner-only (the bind happens inside listen(), under
    // this umask), never world-connectable for a moment as a chmod after the bind would leave it.
    const umask = process.umask(0o177);
    try {
      server.listen(socketPath, () => resolve(server));
    } finally {
      process.umask(umask);
    }
  });
}

/** The methods some route serves `path` with ("" for a path no route has). */
function allowed(path: string): string {
  return ADMIN_ROUTES.filter((r) => r.endsWith(` ${path}`)).map((r) => r.slice(0, r.indexOf(' '))).join(', ');
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse, api: AdminBackend, log: Logger): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin');
  const route = `${req.method} ${url.pathname}`;
  if (!ADMIN_ROUTES.includes(route) && allowed(url.pathname) !== '') {
    throw new AmbitError('METHOD_NOT_ALLOWED', `Cannot serve ${route}: ${url.pathname} takes ${allowed(url.pathname)}`);
  }
  const r = parseAdminRequest(route, url, takesBody(route) ? await body(req) : undefined);
  const send = (result: unknown): void => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(result));
  };
  switch (r.route) {
    case 'apply':
      return send(await api.apply(r.resources as never));
    case 'delete':
      return send(await api.delete(r.refs));
    case 'resources':
      return send(await api.get(r.kind, { ...(r.namespace !== undefined ? { namespace: r.namespace } : {}), ...(r.name !== undefined ? { name: r.name } : {}) }));
    case 'pod-status':
      await api.setPodStatus(r.namespace, r.name, r.status);
      return send({ ok: true });
    case 'node-tokens':
      return send({ token: await api.issueNodeToken(r.node, r.ttlSeconds) });
    case 'workload-tokens':
      return send({ token: await api.issueWorkloadToken(r.node, r.identity, r.ttlSeconds) });
    case 'trust-bundle':
      return send({ pem: await api.trustBundle() });
    case 'status':
      return send(await api.status());
    case 'node-revocations':
      return send(r.credential === undefined ? await api.revokeNode(r.node) : await api.revokeCredential(r.node, r.credential));
    case 'credentials':
      return send(await api.listCredentials(r.node));
    case 'pause-delivery':
      await api.pauseDelivery(r.node, r.paused);
      return send({ ok: true });
    case 'watch':
      return watch(res, api, r.from, log);
  }
}

function watch(res: http.ServerResponse, api: AdminBackend, from: number, log: Logger): void {
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  res.flushHeaders();
  let cut = false;
  const stop = api.watch(from, (e) => {
    if (cut) return;
    if (res.writableLength > WATCH_MAX_UNREAD) {
      cut = true;
      log.warn({ unreadBytes: res.writableLength, limit: WATCH_MAX_UNREAD, revision: e.revision }, 'admin watch ended: the watcher left too much unread (it may watch again from its last revision)');
      res.destroy();
      return;
    }
    res.write(JSON.stringify(e) + '\n');
  });
  const ping = setInterval(() => res.write('\n'), 15_000);
  res.on('close', () => {
    stop();
    clearInterval(ping);
  });
}

async function body(req: http.IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  const tooLarge = (): AmbitError => new AmbitError('REQUEST_TOO_LARGE', `Cannot read the request: the body is over ${MAX_BODY} bytes`);
  if (declared > MAX_BODY) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw tooLarge();
    chunks.push(c as Buffer);
  }
  return parseStrictJson(Buffer.concat(chunks).toString('utf8'), 'the request');
}
