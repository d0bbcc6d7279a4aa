// HBONE micro-benchmark on loopback, with the real server, pool and SVIDs from a throw-away CA:
//   - bulk throughput over one tunnel (client -> upstream),
//   - sequential 1 KB request/response latency through one tunnel (p50/p99),
//   - requests per second with 50 concurrent tunnels, each doing 1 KB request/response.
// FIELD-NOTES baseline for "Node h2 CONNECT over mTLS, tuned windows": 3.7 Gbit/s, 126/224 µs, 32.7k rps.
import { once } from 'node:events';
import { createServer, connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { createHboneServer, HbonePool, RevokedSvids } from '../src/hbone/index.js';
import { silentLogger } from '../src/log.js';
import { MeshFixture, svidContext } from '../src/testing/svid-fixtures.js';

export interface HboneBench {
  bulkGbitPerSecond: number;
  seq1kP50Us: number;
  seq1kP99Us: number;
  concurrent50Rps: number;
}

const BULK_BYTES = 256 * 1024 * 1024;
const SEQ_ROUNDS = 3000;
const CONCURRENT = 50;
const CONCURRENT_MS = 2000;

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Writes `msg`, resolves once `msg.length` bytes came back. */
function exchange(stream: Duplex, msg: Buffer): Promise<void> {
  return new Promise((resolve) => {
    let got = 0;
    const onData = (d: Buffer): void => {
      got += d.length;
      if (got >= msg.length) {
        stream.off('data', onData);
        resolve();
      }
    };
    stream.on('data', onData);
    stream.write(msg);
  });
}

export async function benchHbone(): Promise<HboneBench> {
  const mesh = MeshFixture.create();
  const serverId = mesh.workload('bench', 'server');
  const clientId = mesh.workload('bench', 'client');
  const serverContext = svidContext(mesh.mint(serverId));
  const clientContext = svidContext(mesh.mint(clientId));

  // Upstream: "/sink" connections count bytes and answer with the count at the end; others echo.
  let sinkMode = false;
  const upstream = createServer({ allowHalfOpen: true }, (s: Socket) => {
    if (sinkMode) {
      let n = 0;
      s.on('data', (d: Buffer) => { n += d.length; });
      s.on('end', () => s.end(String(n)));
    } else {
      s.pipe(s);
    }
    s.on('error', () => undefined);
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const upstreamPort = (upstream.address() as AddressInfo).port;

  const server = createHboneServer({
    secureContext: () => serverContext,
    trustedRoots: () => mesh.rootsPem,
    // What the node proxy checks when nothing is revoked.
    refusePeerCertificate: RevokedSvids.NONE.check,
    logger: silentLogger(),
    onTunnel: () => new Promise((resolve) => {
      const s = netConnect({ host: '127.0.0.1', port: upstreamPort, allowHalfOpen: true, noDelay: true });
      s.once('connect', () => resolve({ status: 200, upstream: s }));
      s.once('error', () => resolve({ status: 503 }));
    }),
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const pool = new HbonePool({ logger: silentLogger(), refusePeerCertificate: RevokedSvids.NONE.check });
  const open = (): Promise<Duplex> => pool.open({
    sourceIdentity: clientId, secureContext: clientContext, trustedRoots: mesh.rootsPem, expectedIdentity: serverId,
    address: { host: '127.0.0.1', port }, authority: '10.0.0.1:80',
  });

  try {
    // Bulk: one tunnel, 256 MB one way, until the upstream has counted every byte.
    sinkMode = true;
    const bulk = await open();
    const chunk = Buffer.alloc(256 * 1024, 7);
    const answer: Buffer[] = [];
    bulk.on('data', (d: Buffer) => answer.push(d));
    const started = performance.now();
    for (let sent = 0; sent < BULK_BYTES; sent += chunk.length) {
      if (!bulk.write(chunk)) await once(bulk, 'drain');
    }
    bulk.end();
    await once(bulk, 'end');
    const bulkSeconds = (performance.now() - started) / 1000;
    if (Number(Buffer.concat(answer).toString()) !== BULK_BYTES) throw new Error('bulk transfer lost bytes');
    sinkMode = false;

    // Sequential 1 KB request/response through one tunnel.
    const msg = Buffer.alloc(1024, 1);
    const seq = await open();
    for (let i = 0; i < 200; i++) await exchange(seq, msg);
    const times: number[] = [];
    for (let i = 0; i < SEQ_ROUNDS; i++) {
      const t0 = performance.now();
      await exchange(seq, msg);
      times.push((performance.now() - t0) * 1000);
    }
    seq.end();
    times.sort((a, b) => a - b);

    // 50 concurrent tunnels, request/response loops for a fixed time.
    const tunnels = await Promise.all(Array.from({ length: CONCURRENT }, open));
    let done = 0;
    const deadline = performance.now() + CONCURRENT_MS;
    const t0 = performance.now();
    await Promise.all(tunnels.map(async (t) => {
      while (performance.now() < deadline) {
        await exchange(t, msg);
        done++;
      }
    }));
    const rps = done / ((performance.now() - t0) / 1000);
    for (const t of tunnels) t.end();

    return {
      bulkGbitPerSecond: (BULK_BYTES * 8) / bulkSeconds / 1e9,
      seq1kP50Us: quantile(times, 0.5),
      seq1kP99Us: quantile(times, 0.99),
      concurrent50Rps: rps,
    };
  } finally {
    await pool.close();
    await server.drain(500);
    upstream.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await benchHbone();
  console.log('HBONE (Node h2 CONNECT over mTLS 1.3, loopback)      measured   FIELD-NOTES baseline');
  console.log(`bulk, one tunnel               Gbit/s          ${r.bulkGbitPerSecond.toFixed(2).padStart(8)}   3.7`);
  console.log(`1 KB sequential p50/p99        µs       ${`${r.seq1kP50Us.toFixed(0)}/${r.seq1kP99Us.toFixed(0)}`.padStart(15)}   126/224`);
  console.log(`50 concurrent tunnels          req/s           ${r.concurrent50Rps.toFixed(0).padStart(8)}   32.7k`);
}
