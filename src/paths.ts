// Where ambit keeps runtime state on a machine. One place, so the CLI, the lab and the
// control plane agree on where to find each other.
import { join } from 'node:path';

/** Root of everything a lab creates on the filesystem; removed whole by `ambit lab down`. */
export function labRunDir(lab: string): string {
  return join(process.env.AMBIT_RUN_DIR ?? '/run/ambit', lab);
}

export function controlPlaneDataDir(lab: string): string {
  return join(labRunDir(lab), 'control-plane');
}

/** The control plane's admin API socket for a lab (the CLI's default target). */
export function adminSocketPath(lab: string): string {
  return join(controlPlaneDataDir(lab), 'admin.sock');
}

/** The lab the CLI talks to when none is named: $AMBIT_LAB or "default". */
export function currentLab(): string {
  return process.env.AMBIT_LAB ?? 'default';
}

/** The CLI's default admin socket: $AMBIT_ADMIN_SOCKET, else the current lab's. */
export function defaultAdminSocket(): string {
  return process.env.AMBIT_ADMIN_SOCKET ?? adminSocketPath(currentLab());
}
