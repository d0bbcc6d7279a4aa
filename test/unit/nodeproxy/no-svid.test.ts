// Regression (review finding): a pod whose SVID is not ready used to make the HBONE certificate
// provider throw inside the server's connection handler, crashing the whole node proxy on a
// single TCP connect. Without an SVID the server now presents no certificate: handshakes fail
// closed and the process keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { createHboneServer } from '../../../src/hbone/index.js';
import { podServerContext } from '../../../src/nodeproxy/pods.js';
import { MeshFixture } from '../../../src/testing/svid-fixtures.js';
import { silentLogger } from '../../../src/log.js';

for (const [what, identity] of [['a pod not known yet (no identity)', undefined], ['a known pod whose SVID is not issued yet', 'spiffe://cluster.local/ns/default/sa/web']] as const) test(`an HBONE listener without an SVID refuses handshakes and stays up: ${what}`, async () => {
  const mesh = await MeshFixture.create();
  let asked = 0;
  const server = createHboneServer({
    refusePeerCertificate: () => undefined,
    // The node proxy's own provider, with no credential to give.
    secureContext: () => podServerContext(identity, () => {
      asked++;
      return undefined;
    }),
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
    assert.equal(asked, identity === undefined ? 0 : 3, 'the credential store is asked only for a known identity');
  } finally {
    await server.drain(100);
  }
});
