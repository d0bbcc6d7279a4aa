// A connection proves its peer only until the peer's certificate ends: after that no new tunnel
// rides it, at either end (a pooled connection used to carry new tunnels for as long as it was
// busy, past invariant 9's "until certificates expire"). Real TLS on loopback; certificates from
// the real CA code, signed so that they end ~2.5 s from now.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { X509Certificate } from 'node:crypto';
import { HbonePool } from '../../../src/hbone/index.js';
import { svidContext } from '../../../src/testing/svid-fixtures.js';
import { silentLogger } from '../../../src/log.js';
import { Harness } from './harness.js';

const harnesses: Harness[] = [];
const opened: import('node:stream').Duplex[] = [];
after(async () => {
  for (const t of opened) t.destroy();
  for (const h of harnesses) await h.stop();
});

/** An SVID that ends `ms` from now (signed an hour minus that ago, for an hour). */
const endingIn = (h: Harness, id: string, ms: number) => h.mesh.mint(id, { now: new Date(Date.now() - 3_600_000 + ms), ttlSeconds: 3600 });
const untilPast = async (certPem: string): Promise<void> => {
  const end = Date.parse(new X509Certificate(certPem).validTo) + 150;
  await new Promise((r) => setTimeout(r, Math.max(0, end - Date.now())));
};
async function echoes(t: import('node:stream').Duplex, what: string): Promise<void> {
  opened.push(t);
  t.write(what);
  assert.equal(String((await once(t, 'data'))[0]), what);
}

test('client: once the destination\'s certificate has expired, a new tunnel opens a new connection (and the renewed certificate is checked)', async () => {
  const h = await Harness.start();
  harnesses.push(h);
  const svid = endingIn(h, h.serverId, 2500);
  h.serverContext = svidContext(svid);
  const pool = new HbonePool({ logger: silentLogger(), refusePeerCertificate: () => undefined });
  try {
    const first = await h.openTunnel({}, pool);
    await echoes(first, 'a');
    await untilPast(svid.certPem);
    h.serverContext = svidContext(h.mesh.mint(h.serverId)); // the destination renewed
    const second = await h.openTunnel({}, pool);
    await echoes(second, 'b');
    assert.equal(h.secureConnections, 2, 'the second tunnel did not ride the connection whose proof had ended');
    first.destroy();
    second.destroy();
  } finally {
    for (const t of opened) t.destroy(); // a pool closes once its tunnels have ended
    await pool.close();
  }
});

test('server: a connection whose client certificate has expired takes no new tunnel; it is refused, logged, and a fresh connection works', async () => {
  const h = await Harness.start();
  harnesses.push(h);
  const svid = endingIn(h, h.clientId, 2500);
  const ctx = svidContext(svid);
  const pool = new HbonePool({ logger: silentLogger(), refusePeerCertificate: () => undefined });
  try {
    const first = await h.openTunnel({ secureContext: ctx }, pool);
    await echoes(first, 'a');
    await untilPast(svid.certPem);
    const tunnelsBefore = h.tunnels.length;
    await assert.rejects(h.openTunnel({ secureContext: ctx }, pool), 'the stream on the old connection is refused');
    assert.equal(h.tunnels.length, tunnelsBefore, 'no tunnel decision was asked for');
    const r = await h.refusal('TLS_FAILURE');
    assert.match(r.detail, /spiffe:\/\/cluster\.local\/ns\/shop\/sa\/frontend: its certificate expired at .*; new tunnels need a new connection/);
    const fresh = await h.openTunnel({ secureContext: svidContext(h.mesh.mint(h.clientId)) }, pool);
    await echoes(fresh, 'c');
    fresh.destroy();
    first.destroy();
  } finally {
    for (const t of opened) t.destroy(); // a pool closes once its tunnels have ended
    await pool.close();
  }
});
