// Regression: an HBONE connection whose two directions are both busy must not stall. Node's
// HTTP/2 stops reading a connection while a write to it is pending, so two ends with pending
// writes used to wait on each other for good (src/hbone/send-buffer.ts). Before the fix this
// 40 MB full-duplex echo stalled in a third to all of the runs; eight rounds now must all complete.
// Real TLS 1.3 with mesh SVIDs, the real pool and server, a real TCP echo; both ends in this
// process, as on a node proxy whose client and server pods share a node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createServer, connect, type AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Harness } from './harness.js';
import { reserveSendBuffer, sendBufferFor } from '../../../src/hbone/send-buffer.js';
import { DEFAULT_POOL_LIMITS } from '../../../src/hbone/limits.js';

const MB = 1024 * 1024;

/** Echoes `total` bytes through one tunnel, writing and reading at once; rejects when stuck. */
async function fullDuplexEcho(h: Harness, total: number, stuckAfterMs: number): Promise<void> {
  const stream = await h.openTunnel();
  let echoed = 0;
  let progressAt = Date.now();
  stream.on('data', (c: Buffer) => {
    echoed += c.length;
    progressAt = Date.now();
  });
  const ended = new Promise<void>((resolve) => stream.once('end', resolve));
  const watchdog = new Promise<never>((_, reject) => {
    const t = setInterval(() => {
      if (Date.now() - progressAt < stuckAfterMs) return;
      clearInterval(t);
      // A stalled connection never closes gracefully: tear it down so the harness can stop.
      stream.session?.destroy();
      stream.destroy();
      reject(new Error(`stalled: ${echoed} of ${total} bytes echoed, nothing for ${stuckAfterMs} ms`));
    }, 100);
    void ended.then(() => clearInterval(t));
  });
  const chunk = Buffer.alloc(4 * MB, 5); // large writes keep a lot in flight at once
  const send = async (): Promise<void> => {
    for (let sent = 0; sent < total; sent += chunk.length) {
      if (!stream.write(chunk)) await new Promise((r) => stream.once('drain', r));
      progressAt = Date.now();
    }
    stream.end();
    await ended;
  };
  await Promise.race([send(), watchdog]);
  assert.equal(echoed, total);
}

test('40 MB each way through one tunnel, eight times, with both ends in one process: never stalls', async () => {
  const h = await Harness.start();
  try {
    for (let round = 0; round < 8; round++) await fullDuplexEcho(h, 40 * MB, 5000);
  } finally {
    await h.stop();
  }
});

test('an HBONE socket gets a send buffer of a connection window plus a quarter', async () => {
  assert.equal(sendBufferFor(8 * MB), 10 * MB);
  const server = createServer((s) => s.resume());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sock = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  try {
    const lines: string[] = [];
    const granted = reserveSendBuffer(sock, DEFAULT_POOL_LIMITS.initialWindowSize, pino({}, { write: (l: string) => lines.push(l) }));
    if (process.getuid?.() === 0) {
      // As root (CAP_NET_ADMIN) the kernel grants it whatever net.core.wmem_max says.
      assert.equal(granted, 2 * sendBufferFor(DEFAULT_POOL_LIMITS.initialWindowSize));
      assert.equal(lines.length, 0);
    }
  } finally {
    sock.destroy();
    server.close();
  }
});

test('without CAP_NET_ADMIN and a small net.core.wmem_max it warns once, naming both remedies', (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to start an unprivileged child');
  const script = `
    import { createServer, connect } from 'node:net';
    const { reserveSendBuffer } = await import(${JSON.stringify(new URL('../../../src/hbone/send-buffer.js', import.meta.url).href)});
    const lines = [];
    const log = { warn: (o, m) => lines.push({ ...o, msg: m }) };
    const server = createServer((s) => s.resume()).listen(0, '127.0.0.1', () => {
      const a = connect(server.address().port, '127.0.0.1', () => {
        const b = connect(server.address().port, '127.0.0.1', () => {
          reserveSendBuffer(a, 64 * 1024 * 1024, log);
          reserveSendBuffer(b, 64 * 1024 * 1024, log);
          console.log(JSON.stringify(lines));
          a.destroy(); b.destroy(); server.close();
        });
      });
    });`;
  // 64 MB windows: above any net.core.wmem_max a test machine has, so the unprivileged ask is capped.
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--', process.execPath, '--input-type=module', '-e', script], {
    encoding: 'utf8', cwd: fileURLToPath(new URL('.', import.meta.url)), timeout: 20_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const lines = JSON.parse(r.stdout.trim()) as { msg: string; wantBytes: number; grantedBytes: number }[];
  assert.equal(lines.length, 1, 'once per process, not per connection');
  assert.equal(lines[0]!.wantBytes, sendBufferFor(64 * MB));
  assert.ok(lines[0]!.grantedBytes < 2 * lines[0]!.wantBytes);
  assert.match(lines[0]!.msg, /Cannot reserve a \d+-byte HBONE send buffer: the kernel granted \d+ bytes \(net\.core\.wmem_max\); .*give this process CAP_NET_ADMIN, or raise net\.core\.wmem_max/);
});
