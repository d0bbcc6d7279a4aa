// The node proxy's admin ports on loopback: each serves its own pages to GET and HEAD, answers
// 404 naming the pages it has and 405 (with Allow) to any other method, and readiness is 503 with
// its reason until the proxy is ready.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Counter, Registry } from 'prom-client';
import { serveNodeProxyAdmin } from '../../../src/nodeproxy/admin.js';

let servers: http.Server[] = [];
let ports: Record<string, number> = {};
let ready: { ready: boolean; reason?: string } = { ready: false, reason: 'no configuration from the control plane yet' };

before(async () => {
  const registry = new Registry();
  new Counter({ name: 'ambit_test_total', help: 'a counter', registers: [registry] }).inc(3);
  const served = await serveNodeProxyAdmin({ host: '127.0.0.1', configDump: 0, metrics: 0, readiness: 0 }, { dump: () => ({ node: 'node-1' }), ready: () => ready, metrics: registry });
  servers = served.servers;
  ports = served.addresses;
});
after(() => { for (const s of servers) s.close(); });

function ask(port: number, path: string, method = 'GET'): Promise<{ status: number; body: string; allow?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ status: res.statusCode!, body, ...(res.headers.allow ? { allow: res.headers.allow } : {}) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('each port serves its pages to GET', async () => {
  assert.deepEqual(JSON.parse((await ask(ports.configDump!, '/config_dump')).body), { node: 'node-1' });
  assert.match((await ask(ports.metrics!, '/metrics')).body, /^ambit_test_total 3$/m);
  assert.match((await ask(ports.metrics!, '/stats/prometheus')).body, /^ambit_test_total 3$/m);
});

test('readiness is 503 with its reason until ready, then 200, on / and /healthz/ready', async () => {
  ready = { ready: false, reason: 'no configuration from the control plane yet' };
  const not = await ask(ports.readiness!, '/healthz/ready');
  assert.deepEqual([not.status, JSON.parse(not.body)], [503, { ready: false, reason: 'no configuration from the control plane yet' }]);
  ready = { ready: true };
  for (const path of ['/', '/healthz/ready']) assert.deepEqual([(await ask(ports.readiness!, path)).status], [200]);
});

test('an unknown page is 404 naming the pages there are', async () => {
  const r = await ask(ports.readiness!, '/anything');
  assert.equal(r.status, 404);
  assert.equal(JSON.parse(r.body).error, 'no such page "/anything"; try / or /healthz/ready');
  assert.equal((await ask(ports.configDump!, '/secrets')).status, 404);
  assert.equal((await ask(ports.metrics!, '/')).status, 404);
});

test('a method other than GET or HEAD is 405 with Allow, on every port', async () => {
  for (const [port, path] of [[ports.configDump!, '/config_dump'], [ports.metrics!, '/metrics'], [ports.readiness!, '/']] as const) {
    const r = await ask(port, path, 'DELETE');
    assert.deepEqual([r.status, r.allow, JSON.parse(r.body).error], [405, 'GET, HEAD', `method DELETE is not allowed on ${path}; use GET`]);
  }
  assert.equal((await ask(ports.configDump!, '/config_dump', 'HEAD')).status, 200);
});
