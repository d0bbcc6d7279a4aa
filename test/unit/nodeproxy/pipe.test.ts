// The node proxy's relay (src/nodeproxy/pipe.ts) on real sockets and a real HBONE tunnel (mesh
// SVIDs, TLS 1.3, the real pool and server), run twice: copying in Node's C++ (the relaying
// daemons' way, runtime/native-pipe.ts; the test runner starts node with --expose-internals) and
// in JS (the fallback). Each case checks the bytes end to end (order included), the counts the
// relay reports, half-close and resets, and which copy actually carried the bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as h2connect, createServer as createHttp2Server } from 'node:http2';
import { connect as tlsConnect, createServer as tlsCreateServer } from 'node:tls';
import { join, relay } from '../../../src/nodeproxy/pipe.js';
import { spliceTunnel } from '../../../src/hbone/splice.js';
import { canPipeNatively, COALESCE_MIN, NATIVE_AFTER_READS, NATIVE_MAX_READ, NATIVE_MIN_READS_PER_SEC, noteRelayRead, relaysBusy, setRelaysBusy, nativePipeAvailable, pipeNatively, nativeMoveCounts, relayMode, setNativeMaxRead, setNativePipeEnabled, TUNNEL_BUFFER_BYTES } from '../../../src/runtime/index.js';
import { MeshFixture } from '../../../src/testing/svid-fixtures.js';
import { Harness, startEcho } from '../hbone/harness.js';

const MB = 1024 * 1024;
/** A relay that never ends fails its test instead of holding up the run. */
const LIMIT = { timeout: 60_000 };

/** A listener whose next accepted socket is handed out; the dialled end is returned with it. */
async function socketPair(): Promise<{ app: Socket; proxySide: Socket; server: Server }> {
  const server = createServer({ allowHalfOpen: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const app = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, allowHalfOpen: true });
  const [[proxySide]] = await Promise.all([accepted, once(app, 'connect')]);
  return { app, proxySide, server };
}

async function dial(port: number): Promise<Socket> {
  const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  await once(s, 'connect');
  return s;
}

/** Pseudo-random bytes (so a reordering or a lost chunk changes the digest). */
function payload(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeUInt32LE(x >>> 0, i);
  }
  return b;
}

const digest = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Collects what the app reads until its peer ends. */
function collect(s: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve, reject) => {
    s.once('end', () => resolve(Buffer.concat(chunks)));
    s.once('error', reject);
  });
}

/** Counts the bytes JS sees as 'data' on a stream from now on (a C++ copy leaves JS none). */
function spyData(s: Socket): { bytes: number; since: (fn: () => void) => void } {
  const spy = { bytes: 0, since: (fn: () => void) => { spy.bytes = 0; fn(); } };
  s.on('data', (c: Buffer) => { spy.bytes += c.length; });
  return spy;
}

/**
 * C++ mode: every connection moves, as on a busy proxy, bulk ones too (the harsher case for the
 * C++ copy, though by default bulk stays in JS); JS mode: C++ switched off.
 */
function useMode(native: boolean): void {
  setNativePipeEnabled(native);
  setRelaysBusy(native ? true : undefined);
  setNativeMaxRead(native ? Infinity : undefined);
}

for (const native of [true, false]) {
  const mode = native ? 'in C++' : 'in JS';
  const setMode = (): void => useMode(native);

  test(`relay ${mode}: 8 MB through TCP to an echo, early bytes first, the app half-closes and still gets every byte back in order`, LIMIT, async () => {
    setMode();
    const echo = await startEcho();
    const { app, proxySide, server } = await socketPair();
    try {
      const up = await dial(echo.port);
      const r = relay(proxySide, up);
      const early = payload(64 * 1024, 1);
      const rest = payload(8 * MB - early.length, 2);
      const back = collect(app);
      app.write(early);
      // The early bytes reach the echo before the way back is joined.
      while (echo.received() < early.length) await new Promise((res) => setTimeout(res, 5));
      const spy = spyData(proxySide);
      let result!: Awaited<ReturnType<typeof r.join>>;
      spy.since(() => void r.join().then((x) => (result = x)));
      await new Promise((res) => setTimeout(res, 20));
      app.end(rest);
      const got = await back;
      assert.equal(got.length, 8 * MB);
      assert.equal(digest(got), digest(Buffer.concat([early, rest])));
      while (result === undefined) await new Promise((res) => setTimeout(res, 5));
      assert.equal(result.error, undefined);
      assert.equal(result.aToB, 8 * MB);
      assert.equal(result.bToA, 8 * MB);
      // TCP to TCP stays in JS in both modes (a write error into a socket sink crashes Node 20's StreamPipe).
      assert.ok(spy.bytes >= rest.length, `JS saw only ${spy.bytes} bytes`);
    } finally {
      app.destroy();
      server.close();
      echo.server.close();
    }
  });

  test(`relay ${mode}: the app's bytes over a real HBONE tunnel (mTLS, HTTP/2) and back, with the app not reading for a while`, LIMIT, async () => {
    setMode();
    const h = await Harness.start();
    const { app, proxySide, server } = await socketPair();
    try {
      const stream = await h.openTunnel();
      const r = relay(proxySide, stream);
      const sent = payload(16 * MB, 3);
      const spy = spyData(proxySide);
      app.pause();
      app.end(sent);
      const resultP = r.join();
      // 16 MB is more than the tunnel's window and the sockets' buffers: everything must wait.
      await new Promise((res) => setTimeout(res, 300));
      const back = collect(app);
      app.resume();
      const got = await back;
      assert.equal(digest(got), digest(sent));
      const result = await resultP;
      assert.equal(result.error, undefined);
      assert.equal(result.aToB, sent.length);
      assert.equal(result.bToA, sent.length);
      await new Promise((res) => setTimeout(res, 50));
      assert.equal(h.records.at(-1)?.bytesIn, sent.length);
      assert.equal(h.records.at(-1)?.bytesOut, sent.length);
      // Which copy carried the app's bytes into the tunnel: C++ leaves JS only the first reads
      // (NATIVE_AFTER_READS of up to 64 KB, and what JS read on while its send buffer had room,
      // up to TUNNEL_BUFFER_BYTES, before the move).
      if (native) assert.ok(spy.bytes <= (NATIVE_AFTER_READS + 1) * 64 * 1024 + TUNNEL_BUFFER_BYTES, `JS saw ${spy.bytes} bytes in C++ mode`);
      else assert.ok(spy.bytes === sent.length, `JS saw ${spy.bytes} bytes in JS mode`);
    } finally {
      app.destroy();
      server.close();
      await h.stop();
    }
  });

  test(`relay ${mode}: request, then the answer after the app's FIN (a server that replies only at end of input)`, LIMIT, async () => {
    setMode();
    const srv = createServer({ allowHalfOpen: true }, (s) => {
      let n = 0;
      s.on('data', (c: Buffer) => { n += c.length; });
      s.on('end', () => s.end(`got ${n}`));
    });
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    const { app, proxySide, server } = await socketPair();
    try {
      const resultP = join(proxySide, await dial((srv.address() as AddressInfo).port));
      const back = collect(app);
      app.end(payload(3 * MB, 4));
      assert.equal((await back).toString(), `got ${3 * MB}`);
      const result = await resultP;
      assert.equal(result.error, undefined);
      assert.equal(result.aToB, 3 * MB);
      assert.equal(result.bToA, `got ${3 * MB}`.length);
    } finally {
      app.destroy();
      server.close();
      srv.close();
    }
  });

  test(`relay ${mode}: an upstream reset mid-transfer tears the app's connection down and is reported`, LIMIT, async () => {
    setMode();
    const srv = createServer({ allowHalfOpen: true }, (s) => {
      let n = 0;
      s.on('data', (c: Buffer) => {
        n += c.length;
        if (n > MB) s.resetAndDestroy();
      });
    });
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    const { app, proxySide, server } = await socketPair();
    try {
      app.on('error', () => undefined);
      const resultP = join(proxySide, await dial((srv.address() as AddressInfo).port));
      const closed = new Promise((res) => app.once('close', res));
      app.write(payload(8 * MB, 5));
      const result = await resultP;
      assert.ok(result.error, 'the relay reports the reset');
      await closed;
      assert.ok(proxySide.destroyed);
    } finally {
      app.destroy();
      server.close();
      srv.close();
    }
  });
}

test('bulk out of a real HBONE tunnel reaches the app in whole writes, not in the pieces that TLS records cut DATA frames into', LIMIT, async () => {
  useMode(false);
  const h = await Harness.start();
  const { app, proxySide, server } = await socketPair();
  try {
    const r = relay(proxySide, await h.openTunnel());
    const resultP = r.join();
    // Every write the relay makes into the app's socket (the echo's answer coming out of the tunnel).
    const writes: number[] = [];
    const write = proxySide.write.bind(proxySide) as (c: Buffer) => boolean;
    (proxySide as unknown as { write: (c: Buffer) => boolean }).write = (c: Buffer) => {
      writes.push(c.length);
      return write(c);
    };
    const sent = payload(8 * MB, 21);
    const back = collect(app);
    app.end(sent);
    assert.equal(digest(await back), digest(sent));
    assert.equal((await resultP).bToA, sent.length);
    // A DATA frame is 9 + 16,384 bytes and a TLS record at most 16,384: each frame arrives in at
    // least two pieces, one of them often 9-36 bytes. Written as they came, many writes were
    // such pieces (a third of 779 writes, 10.8 KB on average, in this test before the merge);
    // merged per turn, 135-138 writes of ~61 KB with at most one such piece.
    const tiny = writes.filter((n) => n < 1024).length;
    assert.ok(tiny <= 0.02 * writes.length, `${tiny} of ${writes.length} writes into the app were under 1 KB`);
    assert.ok(sent.length / writes.length >= 4 * COALESCE_MIN, `writes of ${Math.round(sent.length / writes.length)} bytes on average`);
  } finally {
    app.destroy();
    server.close();
    await h.stop();
  }
});

test('relays count as busy from NATIVE_MIN_READS_PER_SEC reads a second, measured over windows of at least 250 ms', async () => {
  setRelaysBusy(undefined);
  const pause = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));
  // Close the window that is open now, then a slow one: 128 reads in ~260 ms.
  await pause(260);
  for (let i = 0; i < 64; i++) noteRelayRead();
  for (let i = 0; i < 64; i++) noteRelayRead();
  await pause(260);
  for (let i = 0; i < 64; i++) noteRelayRead();
  assert.equal(relaysBusy(), false, 'about 500 reads a second is not busy');
  // A fast one: 64 x 100 reads within ~260 ms.
  for (let i = 0; i < 6400; i++) noteRelayRead();
  await pause(260);
  for (let i = 0; i < 64; i++) noteRelayRead();
  assert.ok(6464 / 0.26 > NATIVE_MIN_READS_PER_SEC);
  assert.equal(relaysBusy(), true, 'about 25,000 reads a second is busy');
  setRelaysBusy(false);
  assert.equal(relaysBusy(), false, 'a test can pin it');
  setRelaysBusy(undefined);
});

test('by default only a busy proxy moves, and only connections of small reads: 1 KB echoes move to C++; bulk, an idle proxy and a short connection stay in JS', LIMIT, async () => {
  setNativePipeEnabled(true);
  setNativeMaxRead(undefined);
  const h = await Harness.start();
  /**
   * JS's share of the app's bytes into the tunnel for `rounds` echoes of `size` bytes: after the
   * first NATIVE_AFTER_READS + 1 of them, or after an `opening` of other echoes (counted from the
   * first of the `rounds`).
   */
  const jsShare = async (size: number, rounds: number, opening?: { size: number; rounds: number }): Promise<number> => {
    const { app, proxySide, server } = await socketPair();
    try {
      app.setNoDelay(true);
      const r = relay(proxySide, await h.openTunnel());
      const resultP = r.join();
      const spy = spyData(proxySide);
      const sizes = [...(Array(opening?.rounds ?? 0).fill(opening?.size ?? 0) as number[]), ...(Array(rounds).fill(size) as number[])];
      const from = opening ? opening.rounds : NATIVE_AFTER_READS + 1;
      for (let i = 0; i < sizes.length; i++) {
        if (i === from) spy.since(() => undefined);
        const n = sizes[i]!;
        // One request at a time: each read on the proxy side is this one message.
        let got = 0;
        const back = new Promise<void>((res) => {
          const on = (c: Buffer): void => {
            got += c.length;
            if (got >= n) {
              app.off('data', on);
              res();
            }
          };
          app.on('data', on);
        });
        app.write(payload(n, 11));
        await back;
      }
      app.end();
      await resultP;
      return spy.bytes / sizes.slice(from).reduce((a, b) => a + b, 0);
    } finally {
      app.destroy();
      server.close();
    }
  };
  try {
    setRelaysBusy(true);
    assert.ok((await jsShare(1024, 60)) < 0.1, '1 KB echoes on a busy proxy go through C++');
    // 64 KB messages: reads of NATIVE_MAX_READ or more (loopback seldom splits a write finer)
    // stay in JS, where 64 KB reads and a larger send buffer beat StreamPipe's 16 KB ones.
    assert.ok((await jsShare(4 * NATIVE_MAX_READ, 20)) > 0.9, 'bulk reads stay in JS');
    // Small reads first, then bulk: a stream's first reads can be small. Only a run of them moves.
    assert.ok((await jsShare(4 * NATIVE_MAX_READ, 20, { size: 1024, rounds: NATIVE_AFTER_READS - 1 })) > 0.9, 'a bulk stream that began with small reads stays in JS');
    assert.ok((await jsShare(1024, 60, { size: 4 * NATIVE_MAX_READ, rounds: 3 })) < 0.6, 'small reads after a bulk start still move, once there is a run of them');
    // A connection that ends before its NATIVE_AFTER_READS-th read never moves (one request each).
    // An empty opening: JS's share counted from the first read, not after NATIVE_AFTER_READS + 1.
    const fromFirstRead = { size: 0, rounds: 0 };
    assert.equal(await jsShare(1024, NATIVE_AFTER_READS - 1, fromFirstRead), 1, 'a connection of fewer reads stays in JS');
    setRelaysBusy(false);
    assert.equal(await jsShare(1024, 60), 1, 'on an idle proxy 1 KB echoes stay in JS');
  } finally {
    setRelaysBusy(undefined);
    await h.stop();
  }
});

test('early data that began with a run of small reads and went on in bulk stays in JS at join() (only a run that still holds moves)', LIMIT, async () => {
  setNativePipeEnabled(true);
  setNativeMaxRead(undefined);
  setRelaysBusy(true);
  const h = await Harness.start();
  const { app, proxySide, server } = await socketPair();
  try {
    app.setNoDelay(true);
    // The way in starts before join(), as outbound's early data does.
    const r = relay(proxySide, await h.openTunnel());
    const spy = spyData(proxySide);
    /** Writes `n` bytes and waits until the relay has read them. */
    const send = async (n: number, seed: number): Promise<void> => {
      const target = spy.bytes + n;
      app.write(payload(n, seed));
      while (spy.bytes < target) await new Promise((res) => setTimeout(res, 1));
    };
    for (let i = 0; i < NATIVE_AFTER_READS + 4; i++) await send(1024, 40 + i);
    for (let i = 0; i < 3; i++) await send(4 * NATIVE_MAX_READ, 60 + i);
    const back = collect(app);
    const resultP = r.join();
    spy.since(() => undefined);
    const bulk = 20 * 4 * NATIVE_MAX_READ;
    // After join(), no waiting on JS's reads: a copy that moved to C++ leaves JS none.
    for (let i = 0; i < 20; i++) {
      app.write(payload(4 * NATIVE_MAX_READ, 70 + i));
      await new Promise((res) => setTimeout(res, 2));
    }
    app.end();
    const total = (NATIVE_AFTER_READS + 4) * 1024 + 23 * 4 * NATIVE_MAX_READ;
    assert.equal((await back).length, total);
    assert.equal((await resultP).aToB, total);
    assert.ok(spy.bytes / bulk > 0.9, `JS saw ${spy.bytes} of the ${bulk} bulk bytes after join()`);
  } finally {
    setRelaysBusy(undefined);
    app.destroy();
    server.close();
    await h.stop();
  }
});

test('a move to C++ that gives up (the tunnel stays backed up for over a second) leaves the JS copy reading: every byte arrives and the relay ends', { timeout: 20_000 }, async () => {
  useMode(true);
  // A plain HTTP/2 server (no TLS needed for this) with a small window that reads nothing for 1.5 s.
  let received = 0;
  let sawEnd = false;
  const srv = createHttp2Server({ settings: { initialWindowSize: 8192 } });
  srv.on('stream', (s) => {
    s.respond({ ':status': 200 });
    s.pause();
    setTimeout(() => {
      s.on('data', (c: Buffer) => { received += c.length; });
      s.on('end', () => { sawEnd = true; s.end('bye'); });
      s.resume();
    }, 1500);
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const session = h2connect(`http://127.0.0.1:${(srv.address() as AddressInfo).port}`);
  const { app, proxySide, server } = await socketPair();
  try {
    const stream = session.request({ ':method': 'POST', ':path': '/' });
    await once(stream, 'response');
    app.setNoDelay(true);
    const moves0 = nativeMoveCounts();
    const resultP = relay(proxySide, stream).join();
    // Small writes; the proxy counts as busy only once the stream's queue backs up, so the move
    // starts then, and the queue does not empty within the second it waits.
    setRelaysBusy(false);
    const msg = payload(1024, 12);
    let sent = 0;
    const writer = setInterval(() => {
      app.write(msg);
      sent += msg.length;
      if (stream.writableLength > 0) setRelaysBusy(true);
    }, 2);
    await new Promise((res) => setTimeout(res, 1300));
    clearInterval(writer);
    app.on('data', () => undefined);
    app.end();
    const result = await resultP;
    assert.equal(result.error, undefined);
    assert.equal(result.aToB, sent);
    assert.equal(received, sent);
    assert.ok(sawEnd, 'the app\'s FIN reached the server');
    const moves = nativeMoveCounts();
    assert.ok(moves.gaveUp > moves0.gaveUp, `the move was tried and given up (the case this is about): ${JSON.stringify({ moves0, moves })}`);
  } finally {
    app.destroy();
    server.close();
    session.destroy();
    srv.close();
    useMode(false);
  }
});

test('the HBONE server side: a move of the way back to C++ that gives up (the client reads nothing for 2 s) leaves the JS copy flowing: every byte arrives and the stream ends', { timeout: 60_000 }, async () => {
  useMode(true);
  setNativeMaxRead(undefined);
  const total = 300_000 + 300 * 1000;
  /** One run of the case; whether a move was tried and given up during it. */
  const attempt = async (): Promise<{ gaveUp: boolean; counts: string }> => {
    // The upstream: a burst, then small writes (a run of small reads, so the way back tries to move).
    const target = createServer({ allowHalfOpen: true }, (s) => {
      s.setNoDelay(true); // each small write its own segment: on a busy machine Nagle merged them into reads too large to move
      s.write(payload(300_000, 31));
      let i = 0;
      const t = setInterval(() => {
        s.write(payload(1000, 32 + i));
        if (++i === 300) {
          clearInterval(t);
          s.end();
        }
      }, 3);
    });
    target.listen(0, '127.0.0.1');
    await once(target, 'listening');
    const srv = createHttp2Server();
    let spliced: Promise<{ bytesOut: number; error?: string }> | undefined;
    srv.on('stream', (stream) => {
      const up = connect({ host: '127.0.0.1', port: (target.address() as AddressInfo).port, allowHalfOpen: true });
      up.once('connect', () => {
        stream.respond({ ':status': 200 });
        spliced = spliceTunnel(stream, up);
      });
    });
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    const session = h2connect(`http://127.0.0.1:${(srv.address() as AddressInfo).port}`);
    try {
      const moves0 = nativeMoveCounts();
      const req = session.request({ ':method': 'POST', ':path': '/' });
      let got = 0;
      req.on('data', (c: Buffer) => { got += c.length; });
      // A slow reader: the stream's window and queue stay full for longer than the move waits (~1 s).
      req.pause();
      await new Promise((res) => setTimeout(res, 2000));
      req.resume();
      const ended = await Promise.race([once(req, 'end').then(() => true), new Promise<boolean>((res) => setTimeout(() => res(false), 5000))]);
      // Whatever the move did, every byte arrives and the stream ends.
      assert.ok(ended, `the stream ended (got ${got} of ${total} bytes)`);
      assert.equal(got, total);
      req.end();
      const result = await spliced!;
      assert.equal(result.error, undefined);
      assert.equal(result.bytesOut, total);
      const moves = nativeMoveCounts();
      return { gaveUp: moves.gaveUp > moves0.gaveUp, counts: JSON.stringify({ moves0, moves }) };
    } finally {
      session.destroy();
      srv.close();
      target.close();
    }
  };
  try {
    // The case needs the move to be tried while the reader is slow; a busy machine can make the
    // reads too large for that on one run, so up to three runs (each must deliver every byte).
    const runs: string[] = [];
    let gaveUp = false;
    while (!gaveUp && runs.length < 3) {
      const r = await attempt();
      runs.push(r.counts);
      gaveUp = r.gaveUp;
    }
    assert.ok(gaveUp, `the move was tried and given up (the case this is about) in one of ${runs.length} runs: ${runs.join('; ')}`);
  } finally {
    useMode(false);
  }
});

test('the test process relays in C++, says so, and can be switched to JS', () => {
  setNativePipeEnabled(true);
  assert.equal(nativePipeAvailable(), true, 'the test runner starts node with --expose-internals');
  assert.deepEqual(relayMode(), { mode: 'native' });
  setNativePipeEnabled(false);
  assert.equal(nativePipeAvailable(), false);
  assert.deepEqual(relayMode(), { mode: 'js', why: 'switched off (AMBIT_NATIVE_RELAY=off)' });
  setNativePipeEnabled(true);
});

test('only TCP into an HBONE stream is copied in C++: a TLS source, a TCP sink, an HBONE source are declined', LIMIT, async () => {
  setNativePipeEnabled(true);
  const mesh = MeshFixture.create();
  const svid = mesh.mint(mesh.workload('shop', 'tls'));
  const srv = tlsCreateServer({ cert: svid.chainPem, key: svid.keyPem }, (s) => s.on('error', () => undefined));
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const h = await Harness.start();
  // Only the kind of handle matters here, not whom the certificate names.
  const tls = tlsConnect({ host: '127.0.0.1', port: (srv.address() as AddressInfo).port, rejectUnauthorized: false });
  await once(tls, 'secureConnect');
  const stream = await h.openTunnel();
  const { app, proxySide, server } = await socketPair();
  try {
    assert.equal(canPipeNatively(tls, stream), false, 'a TLS socket into an HBONE stream');
    assert.equal(pipeNatively(tls, stream), undefined);
    assert.equal(canPipeNatively(proxySide, app), false, 'TCP into TCP');
    assert.equal(canPipeNatively(stream, proxySide), false, 'an HBONE stream into TCP');
    assert.equal(canPipeNatively(proxySide, stream), true, 'TCP into an HBONE stream');
  } finally {
    tls.destroy();
    stream.destroy();
    app.destroy();
    server.close();
    srv.close();
    await h.stop();
  }
});

/** An app that keeps writing until its connection fails or `bytes` are out; never reads. */
function flood(app: Socket, bytes: number): void {
  const chunk = payload(64 * 1024, 9);
  let sent = 0;
  const pump = (): void => {
    while (sent < bytes && !app.destroyed) {
      sent += chunk.length;
      if (!app.write(chunk)) return void app.once('drain', pump);
    }
  };
  app.on('error', () => undefined);
  pump();
}

/** A server that takes in bytes, sends some back, and resets its connection after `after(i)` bytes. */
async function resettingServer(after: (i: number) => number): Promise<{ server: Server; port: number }> {
  let i = 0;
  const server = createServer({ allowHalfOpen: true }, (s) => {
    const limit = after(i++);
    let n = 0;
    s.on('error', () => undefined);
    s.on('data', (c: Buffer) => {
      n += c.length;
      if (s.writable) s.write(c.subarray(0, 1024));
      if (n >= limit) s.resetAndDestroy();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

// Playing the attacker (or a failing network): resets and lost connections at every stage. In C++
// mode these are the paths where Node's StreamPipe has crash bugs (runtime/native-pipe.ts).
for (const native of [true, false]) {
  const mode = native ? 'in C++' : 'in JS';
  const setMode = (): void => useMode(native);

  test(`relay ${mode}: resets while bytes flow both ways, 150 tunnels: the server resets its app socket, the tunnel is reset under a client still writing, and every relay ends`, LIMIT, async () => {
    setMode();
    const h = await Harness.start();
    // Seeded sizes: resets at every stage, from the first bytes to megabytes in.
    let seed = 7;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const up = await resettingServer(() => Math.floor(rnd() * 2 * MB));
    h.decide = async () => ({ status: 200, upstream: await dial(up.port) });
    try {
      for (let round = 0; round < 15; round++) {
        await Promise.all(Array.from({ length: 10 }, async () => {
          const { app, proxySide, server } = await socketPair();
          try {
            const stream = await h.openTunnel();
            stream.on('error', () => undefined);
            const r = relay(proxySide, stream);
            flood(app, 4 * MB);
            const result = await r.join();
            // Every server resets before 2 MB of the 4 MB sent: the reset reaches the relay.
            assert.ok(result.error, `relay ended without error after ${result.aToB} bytes`);
          } finally {
            app.destroy();
            server.close();
          }
        }));
      }
    } finally {
      up.server.close();
      await h.stop();
    }
  });

  test(`relay ${mode}: an app that resets mid-flood, and an HBONE connection torn down under 20 flooding tunnels: every relay ends and reports it`, LIMIT, async () => {
    setMode();
    const h = await Harness.start();
    const sink = createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => undefined);
      s.on('data', () => undefined);
      flood(s, 8 * MB); // the way back is busy too
    });
    sink.listen(0, '127.0.0.1');
    await once(sink, 'listening');
    h.decide = async () => ({ status: 200, upstream: await dial((sink.address() as AddressInfo).port) });
    try {
      /** A flooding app's relay into a new tunnel, `fault` after `delay` ms: the relay must end with an error. */
      const faulted = async (delay: number, fault: (t: { app: Socket; proxySide: Socket; stream: Duplex }) => void, what: string): Promise<void> => {
        const { app, proxySide, server } = await socketPair();
        const stream = await h.openTunnel();
        stream.on('error', () => undefined);
        const r = relay(proxySide, stream);
        flood(app, 16 * MB);
        const resultP = r.join();
        setTimeout(() => fault({ app, proxySide, stream }), delay);
        assert.ok((await resultP).error, `${what} is reported`);
        await new Promise((res) => setTimeout(res, 20)); // the handles are freed meanwhile
        app.destroy();
        server.close();
      };
      // The app resets its own connection at once, a little later, or much later.
      for (const delay of [0, 1, 5, 20, 50, 0, 2, 10]) await faulted(delay, (t) => t.app.resetAndDestroy(), 'the app reset');
      // The proxy itself drops the app's connection (its pod is being removed) while bytes flow.
      for (const delay of [0, 10, 20, 40, 60, 80]) await faulted(delay, (t) => t.proxySide.destroy(), 'dropping the app side');
      // The proxy resets the tunnel itself (from a timer: the app socket is read before the next check phase).
      for (let i = 0; i < 20; i++) await faulted(i % 5, (t) => t.stream.destroy(), 'a reset tunnel');
      // A whole session goes while its tunnels are busy both ways.
      const pairs = await Promise.all(Array.from({ length: 20 }, async () => {
        const p = await socketPair();
        const stream = await h.openTunnel();
        stream.on('error', () => undefined);
        const r = relay(p.proxySide, stream);
        flood(p.app, 16 * MB);
        return { ...p, stream, done: r.join() };
      }));
      await new Promise((res) => setTimeout(res, 30));
      pairs[0]!.stream.session?.destroy();
      const results = await Promise.all(pairs.map((p) => p.done));
      for (const res of results) assert.ok(res.error, 'a relay on the torn-down session reports it');
      for (const p of pairs) {
        p.app.destroy();
        p.server.close();
      }
    } finally {
      sink.close();
      await h.stop();
    }
  });
}
