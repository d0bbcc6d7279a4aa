// Control-plane benchmark: the real `ambit control-plane` process and two proxy clients built
// on the shipped stream library, on loopback. Prints:
//   - SVIDs signed per second end to end (CSR over the stream, node-scoped authorization, signing),
//   - the time from applying 10,000 pods to every connected proxy having ACKed them,
//   - control-plane memory (RSS) at 10,000 and at 100,000 pods.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { ControlPlaneProcess } from '../src/testing/control-plane-process.js';
import { ConfigStreamClient } from '../src/stream/index.js';
import { controlPlaneIdentity } from '../src/controlplane/control-plane.js';
import { createCsr, parseSpiffeId } from '../src/identity/index.js';
import { silentLogger } from '../src/log.js';
import type { PodResource, Resource } from '../src/config/types.js';

export interface ControlPlaneBench {
  svidsPerSecond: number;
  svidRequests: number;
  ack10kMs: number;
  rss10kMB: number;
  rss100kMB: number;
  idleRssMB: number;
}

function pods(from: number, count: number): Resource[] {
  const out: PodResource[] = [];
  for (let i = from; i < from + count; i++) {
    out.push({
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: { name: `p-${i}`, namespace: 'default', labels: { app: `app-${i % 100}` }, annotations: {} },
      spec: { nodeName: i % 2 === 0 ? 'node-1' : 'node-2', serviceAccountName: `sa-${i % 50}`, containers: [{ name: 'main', command: ['ambit', 'app', 'echo'], args: [], env: [] }] },
    });
  }
  return out;
}

function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

async function until(cond: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('benchmark timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

export async function benchControlPlane(opts: { svidSeconds?: number } = {}): Promise<ControlPlaneBench> {
  const cp = await ControlPlaneProcess.start({});
  const clients: ConfigStreamClient[] = [];
  try {
    const bundle = await cp.admin.trustBundle();
    await cp.admin.apply([
      { kind: 'Node', apiVersion: 'v1', metadata: { name: 'node-1', labels: {}, annotations: {} }, spec: {} },
      { kind: 'Node', apiVersion: 'v1', metadata: { name: 'node-2', labels: {}, annotations: {} }, spec: {} },
    ]);
    for (const node of ['node-1', 'node-2']) {
      const c = new ConfigStreamClient({ address: cp.streamAddress, node, token: await cp.admin.issueNodeToken(node, 3600), trustBundle: bundle, serverIdentity: controlPlaneIdentity('cluster.local'), log: silentLogger() });
      c.start();
      clients.push(c);
    }
    await until(() => clients.every((c) => c.connected), 10_000);
    const idleRssMB = rssMB(cp.proc!.pid!);

    // 10,000 pods in one apply -> every proxy ACKed.
    const t0 = performance.now();
    await cp.admin.apply(pods(0, 10_000));
    const target = (await cp.admin.status()).configVersion;
    await until(async () => clients.every((c) => c.state.version >= target), 60_000);
    await until(async () => (await cp.admin.status()).proxies.every((p) => p.ackedVersion >= target), 60_000);
    const ack10kMs = performance.now() - t0;
    const rss10kMB = rssMB(cp.proc!.pid!);

    // SVIDs: CSRs made up front (the proxy side's cost is not the CA's), sent 64 at a time.
    const n1 = clients[0]!;
    const csrs = Array.from({ length: 50 }, (_, i) => {
      const id = `spiffe://cluster.local/ns/default/sa/sa-${i}`;
      return { id, pem: createCsr(parseSpiffeId(id)).csrPem };
    }).filter((_, i) => i % 2 === 0); // even service accounts run on node-1
    let done = 0;
    const seconds = opts.svidSeconds ?? 3;
    const tS = performance.now();
    const end = tS + seconds * 1000;
    await Promise.all(
      Array.from({ length: 64 }, async (_, w) => {
        for (let i = w; performance.now() < end; i += 64) {
          const c = csrs[i % csrs.length]!;
          await n1.requestSvid(c.id, c.pem);
          done++;
        }
      }),
    );
    const svidsPerSecond = done / ((performance.now() - tS) / 1000);

    // Up to 100,000 pods, in applies of 10,000.
    for (let from = 10_000; from < 100_000; from += 10_000) await cp.admin.apply(pods(from, 10_000));
    const t100 = (await cp.admin.status()).configVersion;
    await until(async () => clients.every((c) => c.state.version >= t100), 120_000);
    const rss100kMB = rssMB(cp.proc!.pid!);
    return { svidsPerSecond, svidRequests: done, ack10kMs, rss10kMB, rss100kMB, idleRssMB };
  } finally {
    for (const c of clients) c.stop();
    await cp.stop();
  }
}

export function printControlPlane(r: ControlPlaneBench): void {
  console.log('control plane (real process, 2 proxy clients, loopback)');
  console.log(`  SVIDs signed per second (end to end over the stream, one core): ${r.svidsPerSecond.toFixed(0)}  (${r.svidRequests} requests)   target >= 2000`);
  console.log(`  10,000 pods applied -> every proxy ACKed:                       ${r.ack10kMs.toFixed(0)} ms   target <= 2000 ms`);
  console.log(`  control-plane RSS: idle ${r.idleRssMB} MB, 10,000 pods ${r.rss10kMB} MB, 100,000 pods ${r.rss100kMB} MB   target < 500 MB at 100,000`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  printControlPlane(await benchControlPlane());
}
