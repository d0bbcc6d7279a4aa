// `ambit lab agent --name X`: the long-running process `lab up` starts in the root namespace.
// It reconciles the lab with the control plane's store until SIGTERM. Its log is the place
// where a pod that could not be built says why.
import { AmbitError } from '../errors.js';
import { createLogger } from '../log.js';
import { adminSocketPath } from '../paths.js';
import { AdminHttpClient } from '../controlplane/admin-client.js';
import { LabReconciler } from './reconcile.js';
import { readLabState } from './state.js';
import { validateLabName } from './names.js';
import { assertLabHost } from './host-check.js';
import { restartDeadNodeProxies } from './supervise.js';

export async function runLabAgent(name: string): Promise<LabReconciler> {
  assertLabHost();
  const lab = validateLabName(name);
  const state = readLabState(lab);
  if (!state) throw new AmbitError('LAB_NOT_FOUND', `Cannot run the lab agent: lab ${lab} has no state file (run \`ambit lab up --name ${lab}\`)`, { value: lab });
  const log = createLogger('lab-agent');
  const reconciler = new LabReconciler(state.plan, new AdminHttpClient(adminSocketPath(lab)), log);
  reconciler.start();
  // Re-enrolls pods into node proxies that restarted (a snapshot is idempotent for the others).
  // Also what keeps this daemon alive while the control plane is away (the watch socket is gone then).
  // Node proxies are a DaemonSet: one that died is started again, and the poke re-enrolls its pods.
  let supervising = false;
  const seenDead = new Map<string, number>();
  setInterval(() => {
    if (supervising) return;
    supervising = true;
    restartDeadNodeProxies(lab, log, seenDead)
      .catch((err: Error) => log.error({ err: err.message }, 'node proxy supervision failed'))
      .finally(() => {
        supervising = false;
        reconciler.poke();
      });
  }, 3000);
  log.info({ lab, nodes: state.plan.nodes.map((n) => n.name) }, 'lab agent started');
  const stop = (signal: string): void => {
    log.info({ signal }, 'lab agent stopping');
    reconciler.stop();
    const hard = setTimeout(() => process.exit(0), 3000);
    hard.unref();
    reconciler.idle().then(() => process.exit(0), () => process.exit(1));
  };
  // A silent death is the worst kind for a reconciler: say how it ended, whatever ended it.
  process.on('exit', (code) => log.warn({ code }, 'lab agent exiting'));
  process.on('SIGHUP', () => log.warn('lab agent got SIGHUP; ignoring it (it is detached)'));
  process.on('uncaughtException', (err) => {
    log.fatal({ err: err.message, stack: err.stack }, 'lab agent crashed');
    process.exit(1);
  });
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return reconciler;
}
