// Times `lab up` with 2 nodes and 20 pods (until every pod is Running) and `lab down`, through
// the library. Run directly: node dist/bench/lab-up.js
import { fileURLToPath } from 'node:url';
import { labUp, labDown, labStatus, defaultLabSpec, findLabLeftovers } from '../src/lab/index.js';

export interface LabUpTimings {
  pods: number;
  /** from `up` until the control plane answers and the agent runs */
  upSeconds: number;
  /** from `up` until all pods are Running */
  upWithPodsSeconds: number;
  downSeconds: number;
}

function podsYaml(n: number): string {
  return Array.from({ length: n }, (_, i) =>
    `apiVersion: v1\nkind: Pod\nmetadata: { name: bench-${i}, namespace: default, labels: { app: bench } }\nspec:\n  nodeName: node-${(i % 2) + 1}\n  containers:\n    - { name: main, command: [sleep, infinity] }\n`,
  ).join('---\n');
}

export async function benchLabUp(pods = 20, lab = `bench${process.pid}`): Promise<LabUpTimings> {
  const t0 = performance.now();
  try {
    await labUp({ name: lab, spec: defaultLabSpec(), resourcesText: podsYaml(pods), resourcesSource: 'bench' });
    const up = performance.now();
    const deadline = Date.now() + 60000;
    // Only the bench's own pods (the lab's egress gateway runs in ambit-system).
    while (labStatus(lab).pods.filter((p) => p.namespace === 'default' && p.phase === 'Running').length < pods) {
      if (Date.now() > deadline) throw new Error(`only ${labStatus(lab).pods.length} of ${pods} pods ran within 60 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const ready = performance.now();
    await labDown(lab);
    const down = performance.now();
    const left = await findLabLeftovers(lab);
    if (left.namespaces.length + left.pids.length > 0) throw new Error(`lab down left ${left.namespaces.length} namespaces and ${left.pids.length} processes`);
    return { pods, upSeconds: (up - t0) / 1000, upWithPodsSeconds: (ready - t0) / 1000, downSeconds: (down - ready) / 1000 };
  } finally {
    await labDown(lab).catch(() => {});
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const t = await benchLabUp();
  console.log(`lab up (2 nodes, ${t.pods} pods): ${t.upWithPodsSeconds.toFixed(2)} s; lab down: ${t.downSeconds.toFixed(2)} s (control plane and agent ready after ${t.upSeconds.toFixed(2)} s)`);
}
