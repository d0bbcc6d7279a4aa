// The HAProxy baseline of the node-proxy benchmark: the same two-hop mutual-TLS shape as ambit,
// built from two HAProxy 2.6 processes in a mesh-off lab. haproxy-1 runs in node-1's namespace,
// takes plain TCP from the client pod on the node's underlay address and opens mTLS to
// haproxy-2 in node-2's namespace, which verifies the client certificate and forwards to the
// server pod. Certificates are SPIFFE SVIDs minted by the project's own CA into a temp dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateAuthority } from '../src/ca/index.js';
import { createCsr, workloadId } from '../src/identity/index.js';

export interface ForwardedPort {
  /** Where the client pod connects (on node-1's underlay address). */
  listenPort: number;
  /** Where haproxy-2 listens with mTLS (on node-2's underlay address). */
  tunnelPort: number;
  /** The server pod's port. */
  targetPort: number;
}

export interface HaproxyPairOptions {
  /** Network namespaces to run each haproxy in (undefined: the caller's own, e.g. for loopback tests). */
  clientNetns: string | undefined;
  clientIP: string;
  serverNetns: string | undefined;
  serverIP: string;
  podIP: string;
  ports: ForwardedPort[];
  /** HAProxy threads per process (default 1: the node proxy's data path is one Node thread). */
  threads?: number;
}

export interface HaproxyPair {
  pids: { client: number; server: number };
  dir: string;
  stop(): Promise<void>;
}

function mintSvid(ca: CertificateAuthority, sa: string): string {
  const spiffeId = workloadId(ca.trustDomain, 'default', sa);
  const csr = createCsr(spiffeId);
  const svid = ca.signCsr(csr.csrPem, { spiffeId, ttlSeconds: 3600, issuedTo: null });
  return svid.chainPem.join('') + csr.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

const GLOBAL = (threads: number) => `global
  nbthread ${threads}
  maxconn 4000
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
`;

export function clientConfig(o: HaproxyPairOptions, dir: string): string {
  return GLOBAL(o.threads ?? 1) + o.ports.map((p) => `
listen fwd${p.listenPort}
  bind ${o.clientIP}:${p.listenPort}
  server peer ${o.serverIP}:${p.tunnelPort} ssl verify required ca-file ${join(dir, 'ca.pem')} crt ${join(dir, 'client.pem')} ssl-min-ver TLSv1.3
`).join('');
}

export function serverConfig(o: HaproxyPairOptions, dir: string): string {
  return GLOBAL(o.threads ?? 1) + o.ports.map((p) => `
listen term${p.tunnelPort}
  bind ${o.serverIP}:${p.tunnelPort} ssl crt ${join(dir, 'server.pem')} ca-file ${join(dir, 'ca.pem')} verify required ssl-min-ver TLSv1.3
  server pod ${o.podIP}:${p.targetPort}
`).join('');
}

/** argv run inside `netns` (or here when undefined). */
function inNetns(netns: string | undefined, argv: string[]): [string, string[]] {
  return netns === undefined ? [argv[0]!, argv.slice(1)] : ['ip', ['netns', 'exec', netns, ...argv]];
}

function startHaproxy(netns: string | undefined, cfg: string, log: string): ChildProcess {
  const child = spawn(...inNetns(netns, ['haproxy', '-f', cfg, '-db']), { stdio: ['ignore', 'ignore', 'pipe'] });
  child.on('error', () => {});
  child.stderr?.on('data', (d: Buffer) => writeFileSync(log, d, { flag: 'a' }));
  return child;
}

async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise<void>((r) => c.once('exit', () => r()));
  c.kill('SIGTERM');
  const timer = setTimeout(() => c.kill('SIGKILL'), 2000);
  await gone;
  clearTimeout(timer);
}

/** Mints certificates, writes both configs and starts the pair; waits until both listen. */
export async function startHaproxyPair(o: HaproxyPairOptions): Promise<HaproxyPair> {
  checkDistinctPorts(o);
  const dir = mkdtempSync(join(tmpdir(), `ambit-bench-haproxy-${process.pid}-`));
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(children.map(stopChild));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ca = CertificateAuthority.generate({ trustDomain: 'cluster.local' });
    writeFileSync(join(dir, 'ca.pem'), ca.rootPem);
    writeFileSync(join(dir, 'client.pem'), mintSvid(ca, 'bench-client'), { mode: 0o600 });
    writeFileSync(join(dir, 'server.pem'), mintSvid(ca, 'bench-server'), { mode: 0o600 });
    writeFileSync(join(dir, 'client.cfg'), clientConfig(o, dir));
    writeFileSync(join(dir, 'server.cfg'), serverConfig(o, dir));
    const server = startHaproxy(o.serverNetns, join(dir, 'server.cfg'), join(dir, 'server.log'));
    children.push(server);
    const client = startHaproxy(o.clientNetns, join(dir, 'client.cfg'), join(dir, 'client.log'));
    children.push(client);
    await waitListening(o.serverNetns, o.ports.map((p) => p.tunnelPort), children, dir);
    await waitListening(o.clientNetns, o.ports.map((p) => p.listenPort), children, dir);
    return { pids: { client: client.pid!, server: server.pid! }, dir, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * HAProxy binds with SO_REUSEPORT, so two of its listeners on one address and port both start
 * and the kernel splits connections between them: refuse such a configuration up front.
 */
export function checkDistinctPorts(o: HaproxyPairOptions): void {
  const seen = new Map<string, string>();
  const claim = (netns: string | undefined, ip: string, port: number, what: string) => {
    const key = `${netns ?? ''} ${ip}:${port}`;
    const prior = seen.get(key);
    if (prior !== undefined) throw new Error(`Cannot start the HAProxy baseline: ${what} ${ip}:${port} is also ${prior}; every listener needs its own port`);
    seen.set(key, what);
  };
  o.ports.forEach((p, i) => {
    claim(o.clientNetns, o.clientIP, p.listenPort, `ports[${i}].listenPort`);
    claim(o.serverNetns, o.serverIP, p.tunnelPort, `ports[${i}].tunnelPort`);
  });
}

/** Polls `ss` in the namespace until every port listens (bounded: 5 s). */
async function waitListening(netns: string | undefined, ports: number[], children: ChildProcess[], dir: string): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const dead = children.find((c) => c.exitCode !== null);
    if (dead) {
      const logs = ['server.log', 'client.log'].map((f) => join(dir, f)).filter(existsSync).map((f) => readFileSync(f, 'utf8').trim()).join(' | ');
      throw new Error(`Cannot start the HAProxy baseline: haproxy exited with code ${dead.exitCode} (${logs})`);
    }
    const out = await new Promise<string>((resolve) => {
      let s = '';
      const p = spawn(...inNetns(netns, ['ss', '-Hltn']), { stdio: ['ignore', 'pipe', 'ignore'] });
      p.stdout.on('data', (d: Buffer) => (s += d.toString()));
      p.on('close', () => resolve(s));
      p.on('error', () => resolve(''));
    });
    if (ports.every((port) => new RegExp(`:${port}\\s`).test(out))) return;
    if (Date.now() > deadline) throw new Error(`Cannot start the HAProxy baseline: ports ${ports.join(', ')} in ${netns ?? 'this namespace'} not listening after 5 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
