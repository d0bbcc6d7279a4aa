import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EchoReport, startEchoServer } from '../../../src/apps/index.js';
import { RR_TYPE, queryDns } from '../../../src/dns/index.js';
import { freePort } from '../../../src/testing/ports.js';

const LO = '127.0.0.1';
const cliDir = new URL('../../../src/cli/', import.meta.url).href;
// The lead's main.ts is not ours: a minimal program that mounts our two registrations.
const harness = `
import { Command } from 'commander';
import { registerApp } from '${cliDir}app.js';
import { registerDnsServer } from '${cliDir}dns-server.js';
const program = new Command('ambit').exitOverride();
registerApp(program);
registerDnsServer(program);
program.parseAsync(process.argv.slice(1), { from: 'user' }).catch((err) => { console.error(err.code + ': ' + err.message); process.exit(2); });
`;

interface Proc { child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<number | null> }
const procs: ChildProcess[] = [];

function ambit(args: string[]): Proc {
  const child = spawn(process.execPath, ['--input-type=module', '-e', harness, ...args], { cwd: new URL('../../../../', import.meta.url).pathname, stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (err += c));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}


function getJson<T>(port: number): Promise<T> {
  return new Promise((resolve, reject) => {
    request({ host: LO, port, path: '/', agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(JSON.parse(body) as T));
    }).on('error', reject).end();
  });
}

describe('cli: ambit app / ambit dns-server as processes', async () => {
  const dir = await mkdtemp(join(tmpdir(), `ambit-cli-${process.pid}-`));
  after(async () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  test('app echo serves, logs JSON on stderr, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const p = ambit(['app', 'echo', '--listen', `${LO}:${port}`, '--name', 'cli-echo']);
    await until(() => p.stderr().includes('echo listening'), 'echo to listen');
    assert.equal((await getJson<EchoReport>(port)).pod, 'cli-echo');
    p.child.kill('SIGTERM');
    assert.equal(await p.exited, 0);
    const lines = p.stderr().trim().split('\n').map((l) => JSON.parse(l) as { component: string; msg: string });
    assert.ok(lines.every((l) => l.component === 'app-echo'));
    assert.deepEqual(lines.map((l) => l.msg), ['echo listening', 'stopping']);
  });

  test('app load prints JSON stats on stdout', async () => {
    const echo = await startEchoServer({ listen: { host: LO, port: 0 } });
    try {
      const p = ambit(['app', 'load', '--url', `http://${LO}:${echo.listeners.http!.port}/`, '--requests', '20', '--concurrency', '2']);
      assert.equal(await p.exited, 0);
      const stats = JSON.parse(p.stdout()) as { requests: number; errors: number };
      assert.deepEqual([stats.requests, stats.errors], [20, 0]);
    } finally {
      await echo.close();
    }
  });

  test('app echo --tls without files is refused with the reason', async () => {
    const p = ambit(['app', 'echo', '--port', '0', '--tls']);
    assert.equal(await p.exited, 2);
    assert.match(p.stderr(), /APP_INVALID_ARGUMENT: Cannot start echo: --tls needs --cert and --key/);
  });

  test('dns-server answers from its config file and stops on SIGTERM', async () => {
    const config = join(dir, 'dns.json');
    await writeFile(config, JSON.stringify({ records: [{ name: 'api.example.com', type: 'A', address: '203.0.113.10' }] }));
    const port = await freePort();
    const p = ambit(['dns-server', '--listen', `${LO}:${port}`, '--config', config]);
    await until(() => p.stderr().includes('dns server listening'), 'dns server to listen');
    const r = await queryDns({ host: LO, port }, 'api.example.com', RR_TYPE.A);
    assert.deepEqual(r.answers.map((a) => a.type === 'A' && a.address), ['203.0.113.10']);
    p.child.kill('SIGTERM');
    assert.equal(await p.exited, 0);
  });

  test('dns-server refuses a config with an unknown field, naming it', async () => {
    const config = join(dir, 'bad.json');
    await writeFile(config, JSON.stringify({ records: [{ name: 'a.example', type: 'A', address: '10.0.0.1', bogus: 1 }] }));
    const p = ambit(['dns-server', '--listen', `${LO}:53535`, '--config', config]);
    assert.equal(await p.exited, 2);
    assert.match(p.stderr(), /DNS_CONFIG_INVALID: Cannot load DNS server config: unknown field records\[0\]\.bogus/);
  });
});
