// `make bench`: every benchmark, one after another (never concurrently: this machine has two
// cores), each printing its figures beside its baseline and target. Targets are printed, never
// asserted. Pass names to run a subset: node dist/bench/run.js ca controlplane lab hbone nodeproxy egress
import { benchCaSign } from './ca-sign.js';
import { benchControlPlane, printControlPlane } from './controlplane.js';
import { benchLabUp } from './lab-up.js';
import { benchHbone } from './hbone.js';
import { benchNodeProxy } from './nodeproxy.js';
import { benchEgress } from './egress.js';

const all: Record<string, () => Promise<void>> = {
  ca: async () => {
    const r = await benchCaSign({ seconds: 3 });
    console.log(`CA: ${r.signsPerSecond} SVIDs signed/s on one core, in process (target >= 2000; @peculiar/x509 baseline 180-330); proxy side key+CSR ${r.csrsPerSecond}/s`);
  },
  controlplane: async () => printControlPlane(await benchControlPlane()),
  lab: async () => {
    const r = await benchLabUp(20);
    console.log(`lab: up (2 nodes, mesh on) ${r.upSeconds.toFixed(2)} s; with 20 pods Running ${r.upWithPodsSeconds.toFixed(2)} s; down ${r.downSeconds.toFixed(2)} s`);
  },
  hbone: async () => {
    const r = await benchHbone();
    console.log(`HBONE on loopback (no namespaces): bulk ${r.bulkGbitPerSecond.toFixed(2)} Gbit/s; 1 KB seq p50/p99 ${r.seq1kP50Us.toFixed(0)}/${r.seq1kP99Us.toFixed(0)} µs; 50 tunnels ${r.concurrent50Rps.toFixed(0)} req/s (FIELD-NOTES: 3.7, 126/224, 32.7k)`);
  },
  nodeproxy: async () => {
    const r = await benchNodeProxy();
    console.log(`node proxy vs direct vs HAProxy (lab, client pod on node-1 -> server pod on node-2):\n${String(r.table)}`);
  },
  egress: async () => {
    const r = await benchEgress();
    console.log(`egress TLS passthrough (lab, pod on node-2 -> gateway on node-1 -> internet host) beside a direct connection:\n${r.table}`);
  },
};

const pick = process.argv.slice(2);
for (const name of pick.length ? pick : Object.keys(all)) {
  const run = all[name];
  if (!run) {
    console.error(`unknown benchmark ${JSON.stringify(name)}; choose from ${Object.keys(all).join(', ')}`);
    process.exit(2);
  }
  console.log(`\n== ${name} ==`);
  await run();
}
