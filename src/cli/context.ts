// What every CLI command shares: which control plane to talk to.
import type { Command } from 'commander';
import { AdminHttpClient } from '../controlplane/admin-client.js';
import { adminSocketPath, defaultAdminSocket } from '../paths.js';

export function adminSocketOf(program: Command): string {
  const o = program.opts<{ adminSocket?: string; lab?: string }>();
  if (o.adminSocket) return o.adminSocket;
  if (o.lab) return adminSocketPath(o.lab);
  return defaultAdminSocket();
}

export function adminClient(program: Command): AdminHttpClient {
  return new AdminHttpClient(adminSocketOf(program));
}
