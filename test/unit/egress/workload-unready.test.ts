// Before the egress gateway holds configuration and its SVID it fails closed: the HBONE listener
// is up but no handshake completes (there is no certificate to present, and never a shared one),
// readiness says why, and the process keeps running. The control plane here is unreachable.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { connect as tlsConnect } from 'node:tls';
import { EgressGatewayWorkload } from '../../../src/egress/workload.js';
import { silentLogger } from '../../../src/log.js';
import { MeshFixture, svidContext } from '../../../src/testing/svid-fixtures.js';
import { freePort } from '../../../src/testing/ports.js';

const mesh = MeshFixture.create();
const web = mesh.mint(mesh.workload('shop', 'web'));
let gw: EgressGatewayWorkload | undefined;
after(async () => gw?.stop(500));

test('no SVID yet: handshakes fail, readiness is 503 with the reason', async () => {
  gw = new EgressGatewayWorkload({
    node: 'node-1', controlPlane: { host: '127.0.0.1', port: await freePort() }, token: 'a.b.c', trustBundle: mesh.rootsPem.join(''),
    controlPlaneIdentity: 'spiffe://cluster.local/ambit/control-plane', pod: { namespace: 'ambit-system', name: 'egress-gateway' },
    listen: { host: '127.0.0.1', port: 0 }, dns: { host: '127.0.0.1', port: 9 }, adminHost: '127.0.0.1',
    adminPorts: { configDump: 0, metrics: 0, readiness: 0 }, log: silentLogger(),
  });
  await gw.start();
  const port = gw.listenAddress!.port;
  const err = await new Promise<Error | undefined>((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port, secureContext: svidContext(web), ALPNProtocols: ['h2'], rejectUnauthorized: false });
    s.once('secureConnect', () => (s.destroy(), resolve(undefined)));
    s.once('error', resolve);
  });
  assert.ok(err, 'the handshake must not complete without the gateway\'s SVID');
  const ready = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: gw!.adminAddresses.readiness }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ status: res.statusCode!, body }));
    }).once('error', reject);
  });
  assert.equal(ready.status, 503);
  assert.match(ready.body, /no configuration from the control plane yet/);
  assert.ok(gw.listenAddress, 'still serving');
});
