import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AmbitError } from '../../../src/errors.js';
import { createPublicCa } from '../../../src/lab/public-ca.js';

describe('lab public CA', async () => {
  const dir = await mkdtemp(join(tmpdir(), `ambit-pubca-${process.pid}-`));
  after(() => rm(dir, { recursive: true, force: true }));

  test('issues a root and serverAuth host certificates with the names as DNS SANs', async () => {
    const ca = await createPublicCa(dir, [{ names: ['api.example.com', 'www.example.com'] }, { names: ['*.wild.example.com'] }]);
    const root = new X509Certificate(ca.rootPem);
    assert.equal(await readFile(ca.rootPath, 'utf8'), ca.rootPem);
    assert.match(root.subject, /CN=ambit lab public CA/);
    assert.equal(root.ca, true);
    assert.equal(ca.hosts.length, 2);
    const [api, wild] = ca.hosts as [typeof ca.hosts[0], typeof ca.hosts[0]];
    assert.deepEqual(api.names, ['api.example.com', 'www.example.com']);
    const cert = new X509Certificate(await readFile(api.certPath));
    assert.equal(cert.subjectAltName, 'DNS:api.example.com, DNS:www.example.com');
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']);
    assert.equal(cert.ca, false);
    assert.ok(cert.checkIssued(root));
    assert.ok(cert.verify(root.publicKey));
    const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000;
    assert.ok(Math.abs(days - 30) < 0.01, `validity ${days} days`);
    const wildCert = new X509Certificate(await readFile(wild.certPath));
    assert.equal(wildCert.checkHost('foo.wild.example.com'), '*.wild.example.com');
    assert.equal(wildCert.checkHost('a.b.wild.example.com'), undefined);
    for (const h of ca.hosts) assert.equal((await stat(h.keyPath)).mode & 0o777, 0o600);
  });

  test('a second run over the same directory tightens key modes and replaces the files', async () => {
    const a = await createPublicCa(dir, [{ names: ['api.example.com'] }]);
    const b = await createPublicCa(dir, [{ names: ['api.example.com'] }]);
    assert.notEqual(a.rootPem, b.rootPem);
    assert.equal((await stat(b.hosts[0]!.keyPath)).mode & 0o777, 0o600);
  });

  const bad: [string, { names: string[] }[], string, string][] = [
    ['no names', [{ names: [] }], 'hosts[0].names', 'Cannot issue a public certificate: hosts[0].names is empty'],
    ['a path in a name', [{ names: ['ok.example'] }, { names: ['../etc/passwd'] }], 'hosts[1].names[0]', 'Cannot issue a public certificate: hosts[1].names[0] "../etc/passwd" is not a lower-case DNS name'],
    ['a wildcard not first', [{ names: ['a.*.example'] }], 'hosts[0].names[0]', 'Cannot issue a public certificate: hosts[0].names[0] "a.*.example" is not a lower-case DNS name'],
  ];
  for (const [name, hosts, path, message] of bad) {
    test(`rejects ${name}`, async () => {
      await assert.rejects(createPublicCa(dir, hosts), (err: unknown) => {
        assert.ok(err instanceof AmbitError);
        assert.equal(err.code, 'PUBLIC_CA_INVALID_HOST');
        assert.equal(err.path, path);
        assert.equal(err.message, message);
        return true;
      });
    });
  }
});
