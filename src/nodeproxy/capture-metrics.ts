// What capture drops inside each pod (UDP other than DNS, ICMP, anything that is not TCP the proxy
// carries), as Prometheus gauges read from the pod's nft counters at scrape time: an attempt to
// get around the proxy is refused silently by the kernel, but never unseen (invariant 8).
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from '../log.js';
import type { EnrolledPod } from './enroll.js';
import { readDropCounters } from './redirect/install.js';

export function registerCaptureDropMetrics(registry: Registry, pods: () => EnrolledPod[], log: Logger): void {
  const packets = new Gauge({
    name: 'ambit_capture_dropped_packets',
    help: 'Packets the capture rules in a pod dropped (direction out: sent by the pod; in: sent to it), since the pod was captured',
    labelNames: ['pod', 'direction'] as const,
    registers: [registry],
    async collect() {
      packets.reset();
      await Promise.all(pods().map(async (p) => {
        try {
          const c = await readDropCounters(p.netns);
          packets.set({ pod: `${p.namespace}/${p.name}`, direction: 'out' }, c.out.packets);
          packets.set({ pod: `${p.namespace}/${p.name}`, direction: 'in' }, c.in.packets);
        } catch (err) {
          // A pod released while scraping has no table any more: not worth more than a debug line.
          log.debug({ pod: `${p.namespace}/${p.name}`, err: (err as Error).message }, 'cannot read capture drop counters');
        }
      }));
    },
  });
}
