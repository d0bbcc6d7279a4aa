// The SVID manager's failure paths, against a real mesh CA (MeshFixture signs each CSR the manager
// makes). The test double is only the transport: requestSvid is a function here, where the node
// proxy sends the CSR over its config stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { IdentityManager } from '../../../src/nodeproxy/identity.js';
import { MeshFixture } from '../../../src/testing/svid-fixtures.js';
import { parseSpiffeId } from '../../../src/identity/index.js';
import type { Svid } from '../../../src/stream/index.js';

const mesh = MeshFixture.create();
const ID = mesh.workload('shop', 'web');

/** Signs the manager's CSR with the fixture CA, `now` as the signing time (a CA whose clock is behind the node's). */
function signAt(csrPem: string, now: Date, ttlSeconds: number): Svid {
  const s = mesh.ca.signCsr(csrPem, { spiffeId: parseSpiffeId(ID), ttlSeconds, now, issuedTo: null });
  return { chain: s.chainPem, serial: s.serial, notAfter: s.notAfter };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function manager(requestSvid: (id: string, csr: string) => Promise<Svid>, lines: Record<string, unknown>[] = []): IdentityManager {
  const log = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
  const m = new IdentityManager({ requestSvid, log, backoff: { initialMs: 100, maxMs: 1000 } });
  m.setTrustRoots(mesh.rootsPem);
  return m;
}

test('an SVID already expired by this node\'s clock is a failed renewal with backoff, not a success renewed every 100 ms', async () => {
  let asked = 0;
  const lines: Record<string, unknown>[] = [];
  // The CA's clock is an hour behind: a 60 s SVID it signs is expired here on arrival.
  const m = manager(async (_id, csr) => {
    asked++;
    return signAt(csr, new Date(Date.now() - 3600_000), 60);
  }, lines);
  try {
    m.setWanted([ID]);
    await sleep(1000);
    assert.equal(m.current(ID), undefined, 'never served');
    // Backoff 100, 200, 400 (+-20%): about 4 requests in a second, where "success" at 100 ms made ~10.
    assert.ok(asked >= 2 && asked <= 6, `asked ${asked} times in 1 s`);
    const waits = lines.filter((l) => l.msg === 'the CA returned an unusable SVID; retrying').map((l) => Number(l.retryInMs));
    assert.ok(waits.length >= 2 && waits.every((w, i) => i === 0 || w > waits[i - 1]!), `each wait longer than the last: ${waits.join(', ')}`);
    const d = m.dump()[0]!;
    assert.equal(d.state, 'pending');
    assert.match(String(d.lastError), /^Cannot use the SVID for spiffe:\/\/cluster\.local\/ns\/shop\/sa\/web: it expired at .* by this node's clock \(now .*\); is this node's clock ahead of the CA's\?$/);
    assert.ok(lines.some((l) => l.msg === 'the CA returned an unusable SVID; retrying' && typeof l.retryInMs === 'number' && Number(l.failures) >= 2));
  } finally {
    m.stop();
  }
});

test('retryFailed (the stream reconnected): an identity waiting out its backoff asks at once, then is served', async () => {
  let up = false;
  let asked = 0;
  const m = new IdentityManager({
    requestSvid: async (_id, csr) => {
      asked++;
      if (!up) throw new Error('config stream is not connected');
      return signAt(csr, new Date(), 600);
    },
    log: pino({ level: 'silent' }),
    backoff: { initialMs: 60_000, maxMs: 60_000 },
  });
  m.setTrustRoots(mesh.rootsPem);
  try {
    m.setWanted([ID]);
    await sleep(50);
    assert.equal(asked, 1, 'failed once, now waiting a minute');
    up = true;
    assert.equal(m.retryFailed(), 1);
    const cred = await m.waitFor(ID, 2000);
    assert.equal(cred.identity, ID);
    assert.equal(asked, 2);
    assert.equal(m.retryFailed(), 0, 'nothing is waiting any more');
  } finally {
    m.stop();
  }
});

test('a trust-bundle change while a request is out asks again once its answer is in (it was asked under the old bundle)', async () => {
  const answers: ((s: Svid) => void)[] = [];
  const csrs: string[] = [];
  const m = manager((_id, csr) => {
    csrs.push(csr);
    return new Promise<Svid>((resolve) => answers.push(resolve));
  });
  try {
    m.setWanted([ID]);
    assert.equal(csrs.length, 1, 'the first request is out');
    m.setTrustRoots([...mesh.rootsPem, MeshFixture.create().rootsPem[0]!]);
    assert.equal(csrs.length, 1, 'not asked twice at once');
    answers[0]!(signAt(csrs[0]!, new Date(), 3600));
    for (let i = 0; i < 50 && csrs.length < 2; i++) await sleep(10);
    assert.equal(csrs.length, 2, 'asked again at once, not at half-life (30 min here)');
    answers[1]!(signAt(csrs[1]!, new Date(), 3600));
    for (let i = 0; i < 50 && m.current(ID) === undefined; i++) await sleep(10);
    assert.ok(m.current(ID), 'served');
    await sleep(50);
    assert.equal(csrs.length, 2, 'and only once');
  } finally {
    m.stop();
  }
});
