// Serves the AdminApi (admin-api.ts) as HTTP/1.1 + JSON on a Unix socket. Routes map one-to-one
// onto AdminApi methods; errors come back as {error:{code,message,path,value}} with a 4xx/5xx.

import http from 'node:http';
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { AmbitError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AdminApi, StoreEvent } from './admin-api.js';
import { KINDS, type Kind } from '../config/types.js';

/** The server side needs the same API plus a synchronous watch registration. */
export interface AdminBackend extends Omit<AdminApi, 'watch'> {
  /** Replays what a watcher from `fromRevision` must see, then follows live events. */
  watch(fromRevision: number, onEvent: (e: StoreEvent) => void): () => void;
}

const MAX_BODY = 512 * 1024 * 1024;

export function serveAdmin(socketPath: string, backend: AdminBackend, log: Logger): Promise<http.Server> {
  if (existsSync(socketPath)) unlinkSync(socketPath);
  const server = http.createServer((req, res) => {
    handle(req, res, backend).catch((err: unknown) => {
      const e = err instanceof AmbitError ? err : new AmbitError('INTERNAL', (err as Error).message ?? String(err));
      const status = e.code === 'NOT_FOUND' ? 404 : e.code === 'INTERNAL' ? 500 : 400;
      if (status === 500) log.error({ err }, 'admin API request failed');
      if (!res.headersSent) res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: e.code, message: e.message, path: e.path, value: e.value } }));
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

async function handle(req: http.IncomingMessage, res: http.ServerResponse, api: AdminBackend): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin');
  const route = `${req.method} ${url.pathname}`;
  const send = (body: unknown): void => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  switch (route) {
    case 'POST /v1/apply':
      return send(await api.apply((await body(req)).resources as never));
    case 'POST /v1/delete':
      return send(await api.delete((await body(req)).refs as never));
    case 'GET /v1/resources': {
      const kind = url.searchParams.get('kind') ?? '';
      if (!(KINDS as readonly string[]).includes(kind)) throw new AmbitError('KIND_UNKNOWN', `Cannot list ${JSON.stringify(kind)}: not a kind ambit knows (${KINDS.join(', ')})`, { value: kind });
      const namespace = url.searchParams.get('namespace') ?? undefined;
      const name = url.searchParams.get('name') ?? undefined;
      return send(await api.get(kind as Kind, { ...(namespace ? { namespace } : {}), ...(name ? { name } : {}) }));
    }
    case 'POST /v1/pod-status': {
      const b = await body(req);
      await api.setPodStatus(String(b.namespace), String(b.name), b.status as never);
      return send({ ok: true });
    }
    case 'POST /v1/node-tokens': {
      const b = await body(req);
      return send({ token: await api.issueNodeToken(String(b.node), Number(b.ttlSeconds)) });
    }
    case 'POST /v1/workload-tokens': {
      const b = await body(req);
      return send({ token: await api.issueWorkloadToken(String(b.node), String(b.identity), Number(b.ttlSeconds)) });
    }
    case 'GET /v1/trust-bundle':
      return send({ pem: await api.trustBundle() });
    case 'GET /v1/status':
      return send(await api.status());
    case 'POST /v1/faults/pause-delivery': {
      const b = await body(req);
      await api.pauseDelivery(String(b.node), b.paused === true);
      return send({ ok: true });
    }
    case 'GET /v1/watch': {
      const from = Number(url.searchParams.get('from') ?? '0');
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.flushHeaders();
      const stop = api.watch(Number.isInteger(from) && from >= 0 ? from : 0, (e) => res.write(JSON.stringify(e) + '\n'));
      const ping = setInterval(() => res.write('\n'), 15_000);
      res.on('close', () => {
        stop();
        clearInterval(ping);
      });
      return;
    }
    default:
      throw new AmbitError('NOT_FOUND', `Cannot serve ${route}: no such admin API route`);
  }
}

async function body(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new AmbitError('REQUEST_TOO_LARGE', `Cannot read the request: over ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch {
    throw new AmbitError('REQUEST_INVALID', 'Cannot read the request: the body is not a JSON object');
  }
}
