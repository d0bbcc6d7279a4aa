// `ambit egress-gateway` flags: every bad flag is named with its value; good flags become options.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { egressGatewayOptionsFromFlags, type EgressGatewayFlags } from '../../../src/cli/egress-gateway.js';
import { CLI_PATH } from '../../../src/testing/control-plane-process.js';

const dir = mkdtempSync(join(tmpdir(), 'ambit-egress-flags-'));
after(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'token'), 'a.b.c\n');
writeFileSync(join(dir, 'bundle.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
writeFileSync(join(dir, 'empty'), '\n');

const good: EgressGatewayFlags = {
  node: 'node-1', controlPlane: '10.0.0.2:15012', tokenFile: join(dir, 'token'), trustBundle: join(dir, 'bundle.pem'),
  pod: 'ambit-system/egress-gateway', listen: '0.0.0.0:15008', dns: '10.0.9.53:53', adminHost: '0.0.0.0', trustDomain: 'cluster.local',
};

describe('egress-gateway flags', () => {
  test('good flags', () => {
    const o = egressGatewayOptionsFromFlags(good);
    assert.equal(o.token, 'a.b.c');
    assert.deepEqual(o.pod, { namespace: 'ambit-system', name: 'egress-gateway' });
    assert.deepEqual(o.listen, { host: '0.0.0.0', port: 15008 });
    assert.deepEqual(o.controlPlane, { host: '10.0.0.2', port: 15012 }, 'parsed once, here');
    assert.deepEqual(o.dns, { host: '10.0.9.53', port: 53 });
    assert.equal(o.controlPlaneIdentity, 'spiffe://cluster.local/ambit/control-plane');
    assert.equal(o.allowLoopbackUpstreams, false, 'loopback upstreams stay forbidden unless asked for');
    assert.equal(egressGatewayOptionsFromFlags({ ...good, allowLoopbackUpstreams: true }).allowLoopbackUpstreams, true);
  });

  const bad: [keyof EgressGatewayFlags, string, string][] = [
    ['node', 'Node_1', 'Cannot use --node "Node_1": not a valid node name (a DNS subdomain)'],
    ['controlPlane', 'cp:15012', 'Cannot use --control-plane "cp:15012": the host must be an IP address'],
    ['controlPlane', '10.0.0.2', 'Cannot use --control-plane "10.0.0.2": expected HOST:PORT with a port from 0 to 65535'],
    ['pod', 'egress-gateway', 'Cannot use --pod "egress-gateway": expected <namespace>/<name>, both DNS labels (e.g. ambit-system/egress-gateway)'],
    ['pod', 'a/b/c', 'Cannot use --pod "a/b/c": expected <namespace>/<name>, both DNS labels (e.g. ambit-system/egress-gateway)'],
    ['listen', ':15008', 'Cannot use --listen ":15008": expected HOST:PORT with a port from 0 to 65535'],
    ['adminHost', 'localhost', 'Cannot use --admin-host "localhost": must be an IP address'],
    ['trustDomain', 'spiffe://cluster.local', 'Cannot use --trust-domain "spiffe://cluster.local": a trust domain is 1-255 of a-z 0-9 . _ - (no scheme)'],
    ['dns', '10.0.9.53', 'Cannot use --dns "10.0.9.53": expected IP:PORT of the resolver for external names (e.g. 10.0.0.53:53)'],
    ['tokenFile', join(dir, 'missing'), `Cannot use --token-file ${JSON.stringify(join(dir, 'missing'))}: cannot read it (ENOENT)`],
    ['trustBundle', join(dir, 'empty'), `Cannot use --trust-bundle ${JSON.stringify(join(dir, 'empty'))}: the file is empty`],
  ];
  for (const [flag, value, message] of bad) {
    test(`${flag} ${value}`, () => assert.throws(() => egressGatewayOptionsFromFlags({ ...good, [flag]: value }), { code: 'FLAG_INVALID', message }));
  }

  test('the process: --dns is required, and --help explains the command', () => {
    const missing = spawnSync(process.execPath, [CLI_PATH, 'egress-gateway', '--node', 'n', '--control-plane', '127.0.0.1:1', '--token-file', good.tokenFile, '--trust-bundle', good.trustBundle], { encoding: 'utf8' });
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /--dns <ip:port>/);
    const help = spawnSync(process.execPath, [CLI_PATH, 'egress-gateway', '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0);
    for (const flag of ['--node', '--control-plane', '--token-file', '--trust-bundle', '--pod', '--listen', '--dns', '--admin-host', '--trust-domain']) assert.ok(help.stdout.includes(flag), flag);
    assert.match(help.stdout, /egress connection/);
  });
});
