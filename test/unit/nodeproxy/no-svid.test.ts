// Regression (review finding): a pod whose SVID is not ready used to make the HBONE certificate
// provider throw inside the server's connection handler, crashing the whole node proxy on a
// single TCP connect. Without an SVID the server now presents no certificate: handshakes fail
// closed and the process keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { createHboneServer } from '../../../src/hbone/index.js';
import { MeshFixture } from '../../../src/testing/svid-fixtures.js';
import { silentLogger } from '../../../src/log.js';

test('an HBONE listener without an SVID refuses handshakes and stays up', async () => {
  const mesh = await MeshFixture.create();
  const server = createHboneServer({
    refusePeerCertificate: () => undefined,
    secureContext: () => tls.createSecureContext({ minVersion: 'TLSv1.3' }),
    trustedRoots: () => mesh.rootsPem,
    onTunnel: async () => ({ status: 503 }),
    logger: silentLogger(),
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  try {
    for (let i = 0; i < 3; i++) {
      const err = await new Promise<Error | undefined>((resolve) => {
        const s = tls.connect({ host: '127.0.0.1', port, ALPNProtocols: ['h2'], rejectUnauthorized: false });
        s.once('secureConnect', () => {
          s.destroy();
          resolve(undefined);
        });
        s.once('error', (e) => resolve(e));
      });
      assert.ok(err, `handshake ${i + 1} failed closed`);
    }
    assert.equal(server.listening, true, 'the server is still serving');
  } finally {
    await server.drain(100);
  }
});
