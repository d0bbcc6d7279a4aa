// A dial that throws at once (EMFILE, the pod's namespace gone while it is released) fails that
// tunnel only: the pool keeps no empty group for it, and the next tunnel dials normally.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { HbonePool } from '../../../src/hbone/index.js';
import { silentLogger } from '../../../src/log.js';
import { Harness } from './harness.js';

const harnesses: Harness[] = [];
after(async () => { for (const h of harnesses) await h.stop(); });

test('a connectSocket that throws rejects the open and leaves nothing in the pool', async () => {
  const h = await Harness.start();
  harnesses.push(h);
  const pool = new HbonePool({ logger: silentLogger(), refusePeerCertificate: () => undefined });
  try {
    const emfile = Object.assign(new Error('EMFILE: too many open files, socket'), { code: 'EMFILE' });
    await assert.rejects(h.openTunnel({ connectSocket: () => { throw emfile; } }, pool), /EMFILE/);
    assert.equal((pool as unknown as { groups: Map<string, unknown[]> }).groups.size, 0, 'no empty group left behind');
    assert.deepEqual(pool.stats(), { sessions: 0, streams: 0 });
    const t = await h.openTunnel({ connectSocket: () => connect({ host: '127.0.0.1', port: h.port }) }, pool);
    t.write('ok');
    assert.equal(String((await once(t, 'data'))[0]), 'ok', 'the next tunnel dials and flows');
    t.destroy();
  } finally {
    await pool.close();
  }
});
