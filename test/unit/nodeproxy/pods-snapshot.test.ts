// PodManager.snapshot tries every pod: one that cannot be captured (here: its add throws, as when
// a process squats a proxy port while the node proxy was down) must not leave the pods after it
// without listeners. The add is a test double (binding in a pod's namespace needs the lab); the
// loop, the error and its log line are the real ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { PodManager, type PodManagerOptions } from '../../../src/nodeproxy/pods.js';
import type { EnrolledPod } from '../../../src/nodeproxy/enroll.js';
import { AmbitError } from '../../../src/errors.js';

class AddDouble extends PodManager {
  readonly added: string[] = [];
  override async add(pod: EnrolledPod): Promise<void> {
    if (pod.name === 'squatter') throw new Error('listen EADDRINUSE: address already in use 127.0.0.1:15001');
    this.added.push(pod.name);
  }
}

test('snapshot: a pod that cannot be captured does not stop the pods after it; the error names it', async () => {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
  const pm = new AddDouble({ log, state: () => { throw new Error('unused'); } } as unknown as PodManagerOptions);
  const pod = (name: string, i: number): EnrolledPod => ({ namespace: 'default', name, ip: `10.244.1.${i}`, netns: `/run/netns/p${i}` });
  await assert.rejects(pm.snapshot([pod('a', 2), pod('squatter', 3), pod('b', 4), pod('c', 5)]), (err: AmbitError) => {
    assert.equal(err.code, 'POD_CAPTURE_FAILED');
    assert.match(err.message, /Cannot capture 1 of 4 pods: default\/squatter: listen EADDRINUSE/);
    return true;
  });
  assert.deepEqual(pm.added, ['a', 'b', 'c'], 'every other pod was still taken');
  assert.ok(lines.some((l) => l.pod === 'default/squatter' && /cannot capture pod/.test(String(l.msg))), 'logged with the pod');
});
