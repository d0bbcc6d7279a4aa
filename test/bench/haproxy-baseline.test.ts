// The HAProxy baseline on loopback (no namespaces): the two-hop pair forwards, the tunnel hop
// demands a client certificate from the bench CA, and stop() leaves no process or file behind.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Server, type Socket, createServer } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { runLoad } from '../../src/apps/index.js';
import { isAlive } from '../../src/lab/index.js';
import { checkDistinctPorts, startHaproxyPair, type HaproxyPair } from '../../bench/haproxy-baseline.js';
import { startTcpSink } from '../../bench/tcp-sink.js';
import { freePorts } from '../../src/testing/ports.js';

const LO = '127.0.0.1';


describe('HAProxy baseline port checks', () => {
  test('freePorts hands out distinct ports', async () => {
    const ports = await freePorts(16);
    assert.equal(new Set(ports).size, 16);
  });

  test('a port shared by two listeners in one namespace is refused before any HAProxy starts', () => {
    const base = { clientNetns: undefined, clientIP: LO, serverNetns: undefined, serverIP: LO, podIP: LO };
    assert.throws(() => checkDistinctPorts({ ...base, ports: [{ listenPort: 4000, tunnelPort: 4000, targetPort: 1 }] }),
      /ports\[0\]\.tunnelPort 127\.0\.0\.1:4000 is also ports\[0\]\.listenPort/);
    assert.throws(() => checkDistinctPorts({ ...base, ports: [{ listenPort: 4000, tunnelPort: 4001, targetPort: 1 }, { listenPort: 4002, tunnelPort: 4001, targetPort: 2 }] }),
      /ports\[1\]\.tunnelPort 127\.0\.0\.1:4001 is also ports\[0\]\.tunnelPort/);
    // Separate namespaces (the lab's two nodes) may reuse a port number.
    checkDistinctPorts({ ...base, clientNetns: 'n1', serverNetns: 'n2', ports: [{ listenPort: 4000, tunnelPort: 4000, targetPort: 1 }] });
  });
});

describe('HAProxy two-hop mTLS baseline (loopback)', () => {
  let echo: Server;
  const open = new Set<Socket>();
  let sink: { port: number; close(): void };
  let pair: HaproxyPair | undefined;
  let ports: { listenPort: number; tunnelPort: number; targetPort: number }[];
  before(async () => {
    echo = createServer((s) => { open.add(s); s.on('close', () => open.delete(s)); s.on('error', () => {}); s.pipe(s); });
    await new Promise<void>((r) => echo.listen(0, LO, () => r()));
    sink = await startTcpSink(0, LO);
    const [l0, t0, l1, t1] = await freePorts(4);
    ports = [
      { listenPort: l0!, tunnelPort: t0!, targetPort: (echo.address() as { port: number }).port },
      { listenPort: l1!, tunnelPort: t1!, targetPort: sink.port },
    ];
    pair = await startHaproxyPair({ clientNetns: undefined, clientIP: LO, serverNetns: undefined, serverIP: LO, podIP: LO, ports });
  });
  after(async () => {
    await pair?.stop();
    for (const s of open) s.destroy();
    sink.close();
    await new Promise((r) => echo.close(r));
  });

  /** What the two HAProxy processes printed, for a failure message. */
  const pairLogs = () => ['client.log', 'server.log'].map((f) => {
    const file = join(pair!.dir, f);
    return `${f}: ${existsSync(file) ? readFileSync(file, 'utf8').trim() || '(empty)' : '(none)'}`;
  }).join('; ');

  test('round trips and a stream cross both hops', async () => {
    const rt = await runLoad({ target: { kind: 'tcp', host: LO, port: ports[0]!.listenPort }, requests: 50, concurrency: 2, size: 1024 });
    assert.deepEqual([rt.requests, rt.errors, rt.bytesReceived], [50, 0, 50 * 1024], `first error: ${rt.firstError}; ${pairLogs()}`);
    const st = await runLoad({ target: { kind: 'tcp', host: LO, port: ports[1]!.listenPort }, mode: 'stream', requests: 20 });
    assert.deepEqual([st.requests, st.errors, st.bytesSent], [20, 0, 20 * 65536], `first error: ${st.firstError}; ${pairLogs()}`);
  });

  test('the configs pin TLS 1.3 and require a verified peer on both hops', () => {
    const client = readFileSync(join(pair!.dir, 'client.cfg'), 'utf8');
    const server = readFileSync(join(pair!.dir, 'server.cfg'), 'utf8');
    assert.match(client, new RegExp(`server peer ${LO}:${ports[0]!.tunnelPort} ssl verify required ca-file \\S+ca\\.pem crt \\S+client\\.pem ssl-min-ver TLSv1\\.3`));
    assert.match(server, new RegExp(`bind ${LO}:${ports[0]!.tunnelPort} ssl crt \\S+server\\.pem ca-file \\S+ca\\.pem verify required ssl-min-ver TLSv1\\.3`));
    assert.match(client, /nbthread 1\n/);
  });

  test('the tunnel hop refuses a TLS client without a certificate', async () => {
    const ca = readFileSync(join(pair!.dir, 'ca.pem'), 'utf8');
    const outcome = await new Promise<string>((resolve) => {
      const s = tlsConnect({ host: LO, port: ports[0]!.tunnelPort, ca, checkServerIdentity: () => undefined }, () => s.write('hello'));
      s.on('data', () => resolve('echoed'));
      s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      s.on('close', () => resolve('closed'));
      setTimeout(() => { s.destroy(); resolve('timeout'); }, 3000);
    });
    assert.equal(outcome, 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
  });

  test('stop() ends both processes and removes the temp dir', async () => {
    const p = pair!;
    pair = undefined;
    await p.stop();
    assert.equal(isAlive(p.pids.client), false);
    assert.equal(isAlive(p.pids.server), false);
    assert.equal(existsSync(p.dir), false);
  });
});
