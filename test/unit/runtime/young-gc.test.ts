// The relay collector: a minor GC (a real one, seen by V8's own GC observer) once every
// `everyBytes` relayed, none before; no gc() leaks to other contexts or Workers; and the node
// proxy's relay (pipe.ts) and the HBONE splice feed the process's one collector. Real sockets and
// a real mTLS HBONE tunnel, no double.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { RelayGc, relayGc, DEFAULT_RELAY_GC_BYTES } from '../../../src/runtime/index.js';
import vm from 'node:vm';
import { Worker } from 'node:worker_threads';
import { join } from '../../../src/nodeproxy/pipe.js';
import { Harness } from '../hbone/harness.js';

const MB = 1024 * 1024;

/** Minor GCs V8 reports while fn runs (entries arrive asynchronously, so wait a tick after). */
async function minorGcsDuring(fn: () => void | Promise<void>): Promise<number> {
  let minor = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (((e as unknown as { detail?: { kind?: number } }).detail)?.kind === constants.NODE_PERFORMANCE_GC_MINOR) minor++;
  });
  obs.observe({ entryTypes: ['gc'] });
  await fn();
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  return minor;
}

test('one minor GC per everyBytes relayed, and none before the first everyBytes', async () => {
  const c = new RelayGc(1 * MB);
  c.note(MB / 2);
  assert.equal(c.collections, 0);
  c.note(MB / 2 - 1);
  assert.equal(c.collections, 0, 'one byte short of the threshold');
  const seen = await minorGcsDuring(() => {
    c.note(1);
    for (let i = 0; i < 4; i++) c.note(MB);
  });
  assert.equal(c.collections, 5);
  assert.ok(seen >= 5, `V8 reported ${seen} minor GCs, expected at least the collector's 5`);
});

test('everyBytes 0 counts but never collects; a bad threshold is refused by name', () => {
  const off = new RelayGc(0);
  off.note(100 * MB);
  assert.equal(off.collections, 0);
  assert.throws(() => new RelayGc(-1), { code: 'INVALID_RELAY_GC_BYTES', message: /Cannot collect relayed memory: everyBytes must be a whole number of bytes >= 0, got -1/ });
  assert.throws(() => new RelayGc(1.5), /got 1\.5/);
  assert.equal(DEFAULT_RELAY_GC_BYTES, 16 * MB);
});

test('the node proxy relay feeds the shared collector: 40 MB through join() runs at least two minor GCs', async () => {
  // A TCP pair relayed through join(): client -> [a | b] -> sink.
  const sink = net.createServer((s) => s.resume());
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const front = net.createServer((a) => {
    const b = net.connect((sink.address() as net.AddressInfo).port, '127.0.0.1');
    void join(a, b);
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  try {
    const before = relayGc.collections;
    const client = net.connect((front.address() as net.AddressInfo).port, '127.0.0.1');
    const chunk = Buffer.alloc(MB, 7);
    for (let i = 0; i < 40; i++) if (!client.write(chunk)) await new Promise((r) => client.once('drain', r));
    await new Promise<void>((r) => client.end(r));
    await new Promise((r) => client.once('close', r));
    assert.ok(relayGc.collections - before >= 2, `${relayGc.collections - before} collections for 40 MB relayed`);
  } finally {
    front.close();
    sink.close();
  }
});

test('after the collector took gc(), no other context or Worker of the process sees one', async () => {
  const c = new RelayGc(1);
  c.note(1);
  assert.equal(c.collections, 1, 'the collector did obtain gc');
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined');
  assert.equal(vm.runInNewContext('typeof gc'), 'undefined');
  const w = new Worker('require("node:worker_threads").parentPort.postMessage(typeof gc)', { eval: true });
  const [seen] = await Promise.all([new Promise((r) => w.once('message', r)), new Promise((r) => w.once('exit', r))]);
  assert.equal(seen, 'undefined');
});

test('the HBONE splice feeds the shared collector: 40 MB through a real mTLS tunnel runs at least two minor GCs', async () => {
  const h = await Harness.start();
  try {
    const before = relayGc.collections;
    const stream = await h.openTunnel();
    let echoed = 0;
    stream.on('data', (c: Buffer) => (echoed += c.length)); // read the echo so flow control keeps the upload going
    const ended = new Promise((r) => stream.once('end', r));
    const chunk = Buffer.alloc(MB, 9);
    for (let i = 0; i < 40; i++) if (!stream.write(chunk)) await new Promise((r) => stream.once('drain', r));
    stream.end();
    await ended;
    assert.equal(echoed, 40 * MB);
    // The splice counts both ways (40 MB in, 40 MB echoed back); the client side is the test's.
    assert.ok(relayGc.collections - before >= 2, `${relayGc.collections - before} collections for 40 MB each way through the splice`);
  } finally {
    await h.stop();
  }
});
