// Removes everything a lab made, found by its name prefix rather than trusted from the state
// file, so a lab left by a crash (or a half-built one) is cleaned just as well: the agent
// first (so it recreates nothing), then every process inside a lab namespace, then the
// namespaces (their links, addresses, routes and nftables tables go with them), the
// /etc/netns entries, what the pods' users left in the shared scratch directories (/tmp,
// /var/tmp, /dev/shm), and the run directory (with the pods' HOME and TMPDIR in it, whoever
// owns them).
import { existsSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { labRunDir } from '../paths.js';
import { labPrefix } from './names.js';
import { ipBatch } from './shell.js';
import { listNetns } from './topology.js';
import { netnsInode, pidsByArgv, pidsByUidRange, pidsInNetns, stopProcesses } from './processes.js';
import { labUidRange, sweepPodFiles } from './pod-users.js';

export interface TeardownReport {
  namespaces: string[];
  processes: number;
  etcEntries: string[];
  runDir: boolean;
  /** Files and directories of the lab's pod users removed from /tmp, /var/tmp and /dev/shm. */
  podFiles: string[];
}

/** What of a lab exists on this machine right now. */
export async function findLabLeftovers(lab: string): Promise<{ namespaces: string[]; pids: number[]; etcEntries: string[]; runDir: boolean }> {
  const prefix = labPrefix(lab);
  const namespaces = (await listNetns()).filter((n) => n.startsWith(prefix));
  const inodes = new Set(namespaces.map(netnsInode).filter((i): i is number => i !== undefined));
  // By namespace, by the agent's argv, and by the pod users' uids (a process can leave its pod's
  // namespace for a user namespace of its own, or outlive a namespace whose name is gone). Never
  // by a recorded pid alone: once its process is gone, the pid may be anyone's.
  const { first, last } = labUidRange(lab);
  const pids = new Set([...pidsInNetns(inodes), ...pidsByArgv(['lab', 'agent', '--name', lab]), ...pidsByUidRange(first, last)]);
  const etcEntries = existsSync('/etc/netns') ? readdirSync('/etc/netns').filter((e) => e.startsWith(prefix)) : [];
  return { namespaces, pids: [...pids], etcEntries, runDir: existsSync(labRunDir(lab)) };
}

export async function teardownLab(lab: string): Promise<TeardownReport> {
  const agents = pidsByArgv(['lab', 'agent', '--name', lab]);
  await stopProcesses(agents, 1000);
  const found = await findLabLeftovers(lab);
  await stopProcesses(found.pids, 1500);
  // Processes started between the scan and the kill (a pod being created) are caught here.
  const prefix = labPrefix(lab);
  const again = await findLabLeftovers(lab);
  await stopProcesses(again.pids, 500);
  if (again.namespaces.length > 0) {
    await ipBatch(undefined, again.namespaces.map((n) => `netns del ${n}`)).catch(async () => {
      for (const n of again.namespaces) await ipBatch(undefined, [`netns del ${n}`]).catch(() => {});
    });
  }
  for (const e of again.etcEntries) rmSync(join('/etc/netns', e), { recursive: true, force: true });
  try {
    rmdirSync('/etc/netns'); // only when empty: another lab may be using it
  } catch {
    /* not empty, or gone */
  }
  // Every process of the lab is stopped by now, so nothing of its pods writes any more.
  const podFiles = sweepPodFiles(lab);
  const runDir = existsSync(labRunDir(lab));
  rmSync(labRunDir(lab), { recursive: true, force: true });
  return {
    namespaces: [...new Set([...found.namespaces, ...again.namespaces])].filter((n) => n.startsWith(prefix)),
    processes: new Set([...agents, ...found.pids, ...again.pids]).size,
    etcEntries: again.etcEntries,
    runDir,
    podFiles,
  };
}
