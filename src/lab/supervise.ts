// The lab's DaemonSet behaviour for node proxies: a node proxy that died (crashed, or killed with
// `lab kill node-proxy-<node>` as a crash drill) is started again with the same command line, as
// a kubelet would restart it; the agent's next resync re-enrolls its pods. While it is down the
// node's pods fail closed (capture points at listeners that are gone; nothing goes out in clear).
import type { Logger } from '../log.js';
import { restartComponent } from './faults.js';
import { isAlive } from './processes.js';
import { readLabState } from './state.js';

const NODE_PROXY = /^node-proxy-/;

/**
 * Restarts every node proxy of `lab` that was found dead, with the same recorded pid, on two
 * checks in a row (`seenDead` carries the first sighting between calls), so a `lab restart`
 * caught between its stop and its start is left to finish. Returns the names restarted.
 */
export async function restartDeadNodeProxies(lab: string, log: Logger, seenDead: Map<string, number>): Promise<string[]> {
  const state = readLabState(lab);
  if (!state?.ready) return [];
  const restarted: string[] = [];
  for (const [name, c] of Object.entries(state.components)) {
    if (!NODE_PROXY.test(name)) continue;
    if (isAlive(c.pid)) {
      seenDead.delete(name);
      continue;
    }
    if (seenDead.get(name) !== c.pid) {
      seenDead.set(name, c.pid);
      continue;
    }
    seenDead.delete(name);
    try {
      const pid = await restartComponent(lab, name);
      log.warn({ component: name, oldPid: c.pid, pid, log: c.logFile }, `${name} was not running (pid ${c.pid}); restarted it (see its log for why it ended)`);
      restarted.push(name);
    } catch (err) {
      log.error({ component: name, err: (err as Error).message }, `cannot restart ${name}`);
    }
  }
  return restarted;
}
