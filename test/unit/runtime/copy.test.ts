// The JS copy of a relay direction (src/runtime/copy.ts): merging the pieces of DATA frames out
// of an HBONE stream, and the larger send buffer for bulk into one.
//
// Test doubles: a Readable with an Http2Stream's `rstCode` and `session` stands for an HBONE
// stream as the source (copyInJs tells one by those two), and a recording Writable stands for the
// sink where the test must see each write (given the same two, it stands for an HBONE stream as
// the sink, for the send buffer). A bulk chunk out of such a source is held to the end of the
// turn, so those tests wait a turn after each push. The merging over a real tunnel and real sockets is in
// test/unit/nodeproxy/pipe.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { Readable, Writable } from 'node:stream';
import { copyInJs, COALESCE_MAX, COALESCE_MIN, TUNNEL_BUFFER_BUDGET, TUNNEL_BUFFER_BYTES, tunnelBuffersGranted } from '../../../src/runtime/index.js';

/** Gives a stream double the two properties by which copyInJs knows an HBONE stream. */
function asHboneStream<T extends object>(s: T): T {
  return Object.assign(s, { rstCode: undefined, session: null });
}

/** An HBONE-stream source whose pushes in flowing mode reach 'data' listeners at once. */
async function source(): Promise<Readable> {
  const r = asHboneStream(new Readable({ read() {} }));
  r.resume();
  await new Promise((res) => setImmediate(res));
  return r;
}

/** A sink that records a copy of every write and keeps the given buffers (as a queue would); an HBONE stream unless `plain`. */
function recorder(opts: { highWaterMark?: number; delayMs?: number; plain?: boolean } = {}): { sink: Writable; writes: Buffer[]; kept: Buffer[] } {
  const writes: Buffer[] = [];
  const kept: Buffer[] = [];
  const sink = new Writable({
    highWaterMark: opts.highWaterMark ?? 16 * 1024,
    write(chunk: Buffer, _enc, cb) {
      writes.push(Buffer.from(chunk));
      kept.push(chunk);
      if (opts.delayMs === undefined) cb();
      else setTimeout(cb, opts.delayMs);
    },
  });
  return { sink: opts.plain ? sink : asHboneStream(sink), writes, kept };
}

const filled = (n: number, byte: number): Buffer => Buffer.alloc(n, byte);
const turn = (): Promise<void> => new Promise((res) => setImmediate(res));

test('out of an HBONE stream, the two pieces of a DATA frame (16,375 + 9 bytes) arriving in one turn go out as one write', async () => {
  const from = await source();
  const { sink, writes } = recorder();
  const seen: number[] = [];
  copyInJs(from, sink, (n) => seen.push(n));
  from.push(filled(16_375, 1));
  from.push(filled(9, 2));
  assert.equal(writes.length, 0, 'a bulk piece is held until the turn ends');
  await turn();
  assert.deepEqual(writes.map((w) => w.length), [16_384]);
  assert.deepEqual(writes[0], Buffer.concat([filled(16_375, 1), filled(9, 2)]));
  assert.deepEqual(seen, [16_375, 9], 'each piece is counted as read');
});

test('small chunks (request/response traffic) are written at once, in order, never held', async () => {
  const from = await source();
  const { sink, writes } = recorder();
  copyInJs(from, sink, () => undefined);
  from.push(filled(1024, 3));
  assert.deepEqual(writes.map((w) => w.length), [1024], 'written before the turn ends');
  from.push(filled(COALESCE_MIN - 1, 4));
  assert.equal(writes.length, 2);
});

test('the chunk right after a bulk one is held too, whatever its size: the rest of a frame that a socket read cut goes out with the next frame\'s start', async () => {
  const from = await source();
  const { sink, writes } = recorder();
  copyInJs(from, sink, () => undefined);
  from.push(filled(16_375, 1));
  await turn();
  assert.deepEqual(writes.map((w) => w.length), [16_375]);
  from.push(filled(9, 2));
  assert.equal(writes.length, 1, 'the 9 bytes after a bulk chunk wait for the turn to end');
  from.push(filled(16_366, 3));
  await turn();
  assert.deepEqual(writes.map((w) => w.length), [16_375, 16_375]);
  // Small after small again (request/response traffic): at once.
  from.push(filled(9, 4));
  await turn();
  from.push(filled(100, 5));
  assert.deepEqual(writes.map((w) => w.length), [16_375, 16_375, 9, 100]);
});

test('a turn of more than COALESCE_MAX bytes goes out in writes of at most COALESCE_MAX, every byte in order', async () => {
  const from = await source();
  const { sink, writes } = recorder();
  copyInJs(from, sink, () => undefined);
  const pieces: Buffer[] = [];
  for (let i = 0; i < 12; i++) pieces.push(filled(i % 2 === 0 ? 16_375 : 9, i + 1));
  for (const p of pieces) from.push(p);
  await turn();
  assert.ok(writes.length >= 2, `${writes.length} writes`);
  for (const w of writes) assert.ok(w.length <= COALESCE_MAX, `a write of ${w.length} bytes`);
  assert.deepEqual(Buffer.concat(writes), Buffer.concat(pieces));
});

test('flush() writes what is held at once (the relay calls it before ending the sink), and stop() too', async () => {
  const from = await source();
  const { sink, writes } = recorder();
  const copy = copyInJs(from, sink, () => undefined);
  from.push(filled(20_000, 5));
  copy.flush();
  assert.deepEqual(writes.map((w) => w.length), [20_000]);
  from.push(filled(20_000, 6));
  copy.stop();
  assert.deepEqual(writes.map((w) => w.length), [20_000, 20_000]);
  from.push(filled(10, 7));
  await turn();
  assert.equal(writes.length, 2, 'nothing is copied after stop()');
  assert.ok(from.isPaused(), 'the source is left paused');
});

test('a sink that keeps what it is given (not a socket) gets a fresh buffer per merge: earlier writes are never overwritten', async () => {
  const from = await source();
  const { sink, kept } = recorder();
  copyInJs(from, sink, () => undefined);
  const sent: Buffer[] = [];
  for (let round = 0; round < 5; round++) {
    const a = filled(16_375, 10 + round);
    const b = filled(9, 20 + round);
    sent.push(a, b);
    from.push(a);
    from.push(b);
    await turn();
  }
  assert.equal(kept.length, 5);
  assert.deepEqual(Buffer.concat(kept), Buffer.concat(sent));
});

test('merged writes into a real socket whose writes back up: every byte arrives in order (the shared merge buffer is not reused under a pending write)', async () => {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const to = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port });
  const [[peer]] = await Promise.all([accepted, once(to, 'connect')]);
  try {
    peer.pause();
    const from = await source();
    copyInJs(from, to, () => undefined);
    const sent: Buffer[] = [];
    // ~8 MB: more than the socket buffers hold while the peer does not read.
    for (let round = 0; round < 250; round++) {
      for (let i = 0; i < 4; i++) {
        const a = filled(16_375, (round * 7 + i) % 251);
        const b = filled(9, (round * 3 + i) % 253);
        sent.push(a, b);
        from.push(a);
        from.push(b);
      }
      await turn();
    }
    assert.ok(to.writableLength > 0, 'the socket backed up (writes pending)');
    const total = sent.reduce((n, b) => n + b.length, 0);
    const got: Buffer[] = [];
    let n = 0;
    const done = new Promise<void>((res) => peer.on('data', (c: Buffer) => {
      got.push(c);
      n += c.length;
      if (n >= total) res();
    }));
    peer.resume();
    await done;
    assert.deepEqual(Buffer.concat(got), Buffer.concat(sent));
  } finally {
    to.destroy();
    peer.destroy();
    server.close();
  }
});

test('bulk into an HBONE stream: a write that fills the 16 KB buffer raises it to TUNNEL_BUFFER_BYTES from the budget, instead of pausing the source; given back at stop()', async () => {
  const before = tunnelBuffersGranted();
  const from = await source();
  const { sink } = recorder({ highWaterMark: 16 * 1024, delayMs: 50 });
  const copy = copyInJs(from, sink, () => undefined);
  from.push(filled(64 * 1024, 1));
  await turn();
  assert.equal(sink.writableHighWaterMark, TUNNEL_BUFFER_BYTES);
  assert.equal(tunnelBuffersGranted(), before + TUNNEL_BUFFER_BYTES);
  assert.equal(from.isPaused(), false, 'the source keeps reading');
  // Past the larger buffer too: then the source waits for 'drain'.
  for (let i = 0; i < 16; i++) {
    from.push(filled(64 * 1024, 2));
    await turn();
  }
  assert.equal(from.isPaused(), true, 'paused once the larger buffer is full');
  copy.stop();
  assert.equal(tunnelBuffersGranted(), before);
  assert.equal(sink.writableHighWaterMark, 16 * 1024, 'back to the stream\'s own mark');
  sink.destroy();
});

test('the send-buffer budget is shared: past TUNNEL_BUFFER_BUDGET a bulk copy keeps the 16 KB buffer (and pauses), and a closed stream gives its share back', async () => {
  const before = tunnelBuffersGranted();
  const slots = Math.floor((TUNNEL_BUFFER_BUDGET - before) / TUNNEL_BUFFER_BYTES);
  const sinks: Writable[] = [];
  /** A bulk copy into a slow sink, one 64 KB chunk in. */
  const bulkCopy = async (): Promise<{ from: Readable; sink: Writable }> => {
    const from = await source();
    const { sink } = recorder({ delayMs: 1000 });
    sinks.push(sink);
    copyInJs(from, sink, () => undefined);
    from.push(filled(64 * 1024, 1));
    await turn();
    return { from, sink };
  };
  try {
    for (let i = 0; i < slots; i++) await bulkCopy();
    assert.equal(tunnelBuffersGranted(), before + slots * TUNNEL_BUFFER_BYTES);
    const { from, sink } = await bulkCopy();
    assert.equal(sink.writableHighWaterMark, 16 * 1024);
    assert.equal(from.isPaused(), true);
    sinks[0]!.destroy();
    await once(sinks[0]!, 'close');
    assert.equal(tunnelBuffersGranted(), before + (slots - 1) * TUNNEL_BUFFER_BYTES);
  } finally {
    for (const s of sinks) s.destroy();
    await turn();
  }
  assert.equal(tunnelBuffersGranted(), before, 'every share is back once the streams closed');
});

test('the larger send buffer is held only while a backlog lasts: once the stream\'s queue drains, the share goes back to the budget', async () => {
  const before = tunnelBuffersGranted();
  const from = await source();
  const { sink } = recorder({ delayMs: 5 });
  copyInJs(from, sink, () => undefined);
  from.push(filled(64 * 1024, 1));
  await turn();
  assert.equal(tunnelBuffersGranted(), before + TUNNEL_BUFFER_BYTES, 'granted while 64 KB wait in the queue');
  await once(sink, 'drain');
  await turn();
  assert.equal(tunnelBuffersGranted(), before, 'an idle copy holds no share');
  assert.equal(sink.writableHighWaterMark, 16 * 1024);
  // The next burst takes it again.
  from.push(filled(64 * 1024, 2));
  await turn();
  assert.equal(tunnelBuffersGranted(), before + TUNNEL_BUFFER_BYTES);
  sink.destroy();
  await once(sink, 'close');
  assert.equal(tunnelBuffersGranted(), before);
});

test('a sink that is neither a socket nor an HBONE stream keeps its own buffer (no share of the budget), and a plain source is not held', async () => {
  const before = tunnelBuffersGranted();
  const from = new Readable({ read() {} });
  const { sink, writes } = recorder({ delayMs: 50, plain: true });
  copyInJs(from, sink, () => undefined);
  await turn();
  from.push(filled(64 * 1024, 1));
  assert.equal(writes.length, 1, 'written at once: only an HBONE stream\'s chunks are merged');
  assert.equal(sink.writableHighWaterMark, 16 * 1024);
  assert.equal(tunnelBuffersGranted(), before);
  assert.equal(from.isPaused(), true, 'the source waits for the sink instead');
  sink.destroy();
});

test('a copy started on a source that was paused (as after a move to C++ that could not be made) makes it flow', async () => {
  const from = await source();
  from.pause();
  const { sink, writes } = recorder();
  copyInJs(from, sink, () => undefined);
  from.push(filled(100, 1));
  await turn();
  assert.deepEqual(writes.map((w) => w.length), [100]);
});
