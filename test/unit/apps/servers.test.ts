import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type EchoReport, type RunningApp, type SiteReport, startEchoServer, startHttpsServer } from '../../../src/apps/index.js';
import { type PublicCaResult, createPublicCa } from '../../../src/lab/public-ca.js';

const run = promisify(execFile);
const LO = '127.0.0.1';

function getJson<T>(port: number, opts: { path?: string; method?: string; body?: Buffer; headers?: Record<string, string> } = {}): Promise<{ json: T; localPort: number }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: LO, port, path: opts.path ?? '/', method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ json: JSON.parse(Buffer.concat(chunks).toString()) as T, localPort: req.socket!.localPort! }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

function tcpRoundTrip(port: number, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect(port, LO, () => s.end(payload));
    const chunks: Buffer[] = [];
    s.on('data', (c) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
  });
}

describe('apps on real sockets', async () => {
  const dir = await mkdtemp(join(tmpdir(), `ambit-apps-${process.pid}-`));
  let ca: PublicCaResult;
  const apps: RunningApp[] = [];
  before(async () => {
    ca = await createPublicCa(dir, [{ names: ['api.example.com'] }, { names: ['echo.example.com'] }]);
  });
  after(async () => {
    await Promise.all(apps.map((a) => a.close()));
    await rm(dir, { recursive: true, force: true });
  });
  const tlsOf = async (i: number) => ({ cert: await readFile(ca.hosts[i]!.certPath), key: await readFile(ca.hosts[i]!.keyPath) });

  test('echo over HTTP reports peer, local, request line, headers and body size', async () => {
    const app = await startEchoServer({ listen: { host: LO, port: 0 }, name: 'web-1', tcpPort: 0 });
    apps.push(app);
    const port = app.listeners.http!.port;
    const { json, localPort } = await getJson<EchoReport>(port, { path: '/a/b?c=1', method: 'POST', body: Buffer.alloc(1234, 1), headers: { 'x-test': 'yes' } });
    assert.equal(json.pod, 'web-1');
    assert.deepEqual(json.peer, { address: LO, port: localPort });
    assert.deepEqual(json.local, { address: LO, port });
    assert.equal(json.method, 'POST');
    assert.equal(json.path, '/a/b?c=1');
    assert.equal(json.headers['x-test'], 'yes');
    assert.equal(json.bodyBytes, 1234);
    assert.equal(json.tls, null);
    // The second listener is a raw TCP echo.
    const payload = Buffer.from('hello over tcp\x00\xff');
    assert.deepEqual(await tcpRoundTrip(app.listeners.tcp!.port, payload), payload);
  });

  test('echo in tcp mode echoes bytes back unchanged', async () => {
    const app = await startEchoServer({ listen: { host: LO, port: 0 }, mode: 'tcp' });
    apps.push(app);
    const payload = Buffer.from(Array.from({ length: 256 * 1024 }, (_, i) => i % 251));
    assert.deepEqual(await tcpRoundTrip(app.listeners.tcp!.port, payload), payload);
  });

  test('echo with TLS reports SNI and ALPN', async () => {
    const app = await startEchoServer({ listen: { host: LO, port: 0 }, tls: await tlsOf(1), name: 'e' });
    apps.push(app);
    const json = await new Promise<EchoReport>((resolve, reject) => {
      // https passes TLS options through to tls.connect, ALPN included (its typings omit it).
      const opts = { host: LO, port: app.listeners.https!.port, servername: 'echo.example.com', ca: ca.rootPem, ALPNProtocols: ['http/1.1'], agent: false };
      const req = httpsRequest(opts, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(JSON.parse(body) as EchoReport));
      });
      req.on('error', reject);
      req.end();
    });
    assert.deepEqual(json.tls, { sni: 'echo.example.com', alpn: 'http/1.1', protocol: 'TLSv1.3' });
  });

  test('https-server with a public-CA certificate is verified by curl and reports SNI, Host, path', async () => {
    const app = await startHttpsServer({ listen: { host: LO, port: 0 }, tls: await tlsOf(0), name: 'api-site', httpPort: 0 });
    apps.push(app);
    const port = app.listeners.https!.port;
    const { stdout } = await run('curl', ['-sS', '--max-time', '5', '--cacert', ca.rootPath, '--resolve', `api.example.com:${port}:${LO}`, `https://api.example.com:${port}/v1/things?x=1`]);
    const site = JSON.parse(stdout) as SiteReport;
    assert.equal(site.server, 'api-site');
    assert.equal(site.tls, true);
    assert.equal(site.sni, 'api.example.com');
    assert.equal(site.host, `api.example.com:${port}`);
    assert.equal(site.path, '/v1/things?x=1');
    assert.equal(site.peer.address, LO);
    // A name the certificate does not carry fails verification (curl exit 60).
    await assert.rejects(run('curl', ['-sS', '--max-time', '5', '--cacert', ca.rootPath, '--resolve', `other.example.com:${port}:${LO}`, `https://other.example.com:${port}/`]), (err: { code?: number }) => err.code === 60);
    // Plain HTTP listener.
    const plain = await getJson<SiteReport>(app.listeners.http!.port, { path: '/p', headers: { host: 'api.example.com' } });
    assert.deepEqual([plain.json.tls, plain.json.sni, plain.json.host, plain.json.path], [false, null, 'api.example.com', '/p']);
  });

  test('https-server verified by Node tls against the root, and refused without it', async () => {
    const app = await startHttpsServer({ listen: { host: LO, port: 0 }, tls: await tlsOf(0), name: 'api-site' });
    apps.push(app);
    const port = app.listeners.https!.port;
    const verified = await new Promise<boolean>((resolve, reject) => {
      const s = tlsConnect({ host: LO, port, servername: 'api.example.com', ca: ca.rootPem }, () => { resolve(s.authorized); s.end(); });
      s.on('error', reject);
    });
    assert.equal(verified, true);
    await assert.rejects(
      new Promise((resolve, reject) => {
        const s = tlsConnect({ host: LO, port, servername: 'api.example.com' }, () => { s.end(); resolve(true); });
        s.on('error', reject);
      }),
      { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' },
    );
  });
});
