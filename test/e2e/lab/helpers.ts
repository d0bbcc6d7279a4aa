// Shared helpers for the lab end-to-end tests: drive the real CLI, apply resources through the
// admin API, wait for pods, and list what a lab left on the machine.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdminHttpClient } from '../../../src/controlplane/admin-client.js';
import { parseDocuments } from '../../../src/config/index.js';
import { adminSocketPath, labRunDir } from '../../../src/paths.js';
import { labStatus, findLabLeftovers, listNetns } from '../../../src/lab/index.js';
import { run } from '../../../src/lab/shell.js';

export const MAIN = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function cli(args: string[], timeoutMs = 60000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: timeoutMs, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

export async function cliOk(args: string[]): Promise<string> {
  const r = await cli(args);
  if (r.code !== 0) throw new Error(`ambit ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

export function admin(lab: string): AdminHttpClient {
  return new AdminHttpClient(adminSocketPath(lab));
}

export async function apply(lab: string, yaml: string): Promise<void> {
  await admin(lab).apply(parseDocuments(yaml, 'test'));
}

export async function deletePod(lab: string, name: string, namespace = 'default'): Promise<void> {
  await admin(lab).delete([{ kind: 'Pod', namespace, name }]);
}

export async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 15000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export type PodView = ReturnType<typeof labStatus>['pods'][number];

export function podOf(lab: string, name: string, namespace = 'default'): PodView | undefined {
  return labStatus(lab).pods.find((p) => p.name === name && p.namespace === namespace);
}

export async function waitPod(lab: string, name: string, phase: 'Running' | 'Failed' = 'Running', namespace = 'default'): Promise<PodView> {
  try {
    return await waitFor(`pod ${namespace}/${name} ${phase}`, () => {
      const p = podOf(lab, name, namespace);
      return p?.phase === phase ? p : undefined;
    }, 30_000);
  } catch (err) {
    // What the lab agent said is the first thing anyone debugging this will want.
    const log = join(labRunDir(lab), 'logs', 'agent.log');
    const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-15).join('\n') : '(no agent log)';
    throw new Error(`${(err as Error).message}; pod is ${JSON.stringify(podOf(lab, name, namespace))}; agent log tail:\n${tail}`);
  }
}

export function waitPodGone(lab: string, name: string, namespace = 'default'): Promise<true> {
  return waitFor(`pod ${namespace}/${name} removed`, () => (podOf(lab, name, namespace) === undefined ? true : undefined));
}

/** A pod manifest whose container is a tiny HTTP server answering with its pod name. */
export function serverPod(name: string, node: string, labels: Record<string, string> = {}, annotations: Record<string, string> = {}): string {
  const code = "require('http').createServer((q,s)=>s.end('hello from '+process.env.POD_NAME+'\\n')).listen(8080)";
  return [
    'apiVersion: v1',
    'kind: Pod',
    `metadata: { name: ${name}, namespace: default, labels: ${JSON.stringify(labels)}, annotations: ${JSON.stringify(annotations)} }`,
    'spec:',
    `  nodeName: ${node}`,
    '  containers:',
    `    - { name: web, command: ["node", "-e", ${JSON.stringify(code)}] }`,
    '',
  ].join('\n');
}

export function sleeperPod(name: string, node: string): string {
  return `apiVersion: v1\nkind: Pod\nmetadata: { name: ${name}, namespace: default }\nspec:\n  nodeName: ${node}\n  containers:\n    - { name: main, command: [sleep, infinity] }\n`;
}

/** Everything of `lab` on this machine, from the kernel's and the process table's point of view. */
export async function labTraces(lab: string): Promise<{ netns: string[]; pids: number[]; etc: string[]; runDir: boolean; rootLinks: string[] }> {
  const left = await findLabLeftovers(lab);
  const netns = (await listNetns()).filter((n) => n.startsWith(`ambit-${lab}-`));
  const links = (await run('ip', ['-o', 'link', 'show'])).stdout;
  return {
    netns,
    pids: left.pids,
    etc: left.etcEntries,
    runDir: existsSync(labRunDir(lab)),
    rootLinks: links.split('\n').filter((l) => /: (ul|vp|br0)/.test(l)),
  };
}

export async function rootSnapshot(): Promise<{ links: string; addrs: string; routes: string; nft: string }> {
  const names = (await run('ip', ['-o', 'link', 'show'])).stdout.split('\n').map((l) => l.split(':')[1]?.trim() ?? '').sort().join('\n');
  return {
    links: names,
    addrs: (await run('ip', ['-o', 'addr', 'show'])).stdout.split('\n').map((l) => l.replace(/\s+valid_lft.*$/, '')).sort().join('\n'),
    routes: (await run('ip', ['route', 'show', 'table', 'all'])).stdout,
    nft: (await run('nft', ['list', 'ruleset'])).stdout,
  };
}

/** A pod is Running once its processes start; its server may need a moment to listen. */
export async function httpFromPod(lab: string, pod: string, url: string, expect: string): Promise<string> {
  const { execInPod } = await import('../../../src/lab/index.js');
  let last = '';
  await waitFor(`${url} from ${pod} to answer ${JSON.stringify(expect)}`, async () => {
    const r = await execInPod(lab, 'default', pod, ['curl', '-sS', '-m', '2', url]);
    last = r.stdout;
    return r.stdout === expect ? true : undefined;
  }, 10000);
  return last;
}
