// The node proxy's admin ports: 15000 config dump (JSON), 15020 Prometheus metrics, 15021 readiness.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface AdminSources {
  dump: () => unknown;
  ready: () => { ready: boolean; reason?: string };
  metrics: Registry;
}

export interface AdminPorts {
  host: string;
  configDump: number;
  metrics: number;
  readiness: number;
}

export const DEFAULT_ADMIN_PORTS = { configDump: 15000, metrics: 15020, readiness: 15021 } as const;

export async function serveNodeProxyAdmin(ports: AdminPorts, src: AdminSources): Promise<{ servers: http.Server[]; addresses: Record<string, number> }> {
  const json = (res: http.ServerResponse, code: number, body: unknown): void => {
    res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body, null, 2) + '\n');
  };
  // Each port serves its pages to GET and HEAD only; anything else is named in the answer.
  const page = (req: http.IncomingMessage, res: http.ServerResponse, paths: readonly string[]): boolean => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (!paths.includes(path)) {
      json(res, 404, { error: `no such page ${JSON.stringify(req.url)}; try ${paths.join(' or ')}` });
      return false;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      json(res, 405, { error: `method ${req.method} is not allowed on ${path}; use GET` });
      return false;
    }
    return true;
  };
  const dump = http.createServer((req, res) => {
    if (page(req, res, ['/config_dump', '/'])) json(res, 200, src.dump());
  });
  const metrics = http.createServer((req, res) => {
    if (!page(req, res, ['/metrics', '/stats/prometheus'])) return;
    src.metrics.metrics().then(
      (t) => res.writeHead(200, { 'content-type': src.metrics.contentType }).end(t),
      (e: Error) => json(res, 500, { error: e.message }),
    );
  });
  const ready = http.createServer((req, res) => {
    if (!page(req, res, ['/', '/healthz/ready'])) return;
    const r = src.ready();
    json(res, r.ready ? 200 : 503, r);
  });
  const servers = [dump, metrics, ready];
  const want = [ports.configDump, ports.metrics, ports.readiness];
  const addresses: Record<string, number> = {};
  for (let i = 0; i < 3; i++) {
    await new Promise<void>((r, j) => servers[i]!.once('error', j).listen(want[i], ports.host, () => r()));
    addresses[['configDump', 'metrics', 'readiness'][i]!] = (servers[i]!.address() as AddressInfo).port;
  }
  return { servers, addresses };
}
