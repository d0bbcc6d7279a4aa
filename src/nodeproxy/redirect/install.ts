// Applies capture rules inside a pod's network namespace with nft (via nsenter, so the proxy's
// own namespace and mounts are untouched). One nft transaction per change: all or nothing.
import { spawn } from 'node:child_process';
import { AmbitError } from '../../errors.js';
import { captureRules, DROP_COUNTERS, TABLE } from './rules.js';

function nftIn(netnsPath: string, script: string): Promise<void> {
  return runNft(netnsPath, ['-f', '-'], script).then(() => undefined);
}

const NFT_TIMEOUT_MS = 10_000;

function runNft(netnsPath: string, args: string[], input?: string): Promise<string> {
  return runCommand('nsenter', [`--net=${netnsPath}`, 'nft', ...args], input, `nft ${args.join(' ')} in ${netnsPath}`, netnsPath);
}

/**
 * Runs a short command and resolves with its stdout. Without `input` the child gets no stdin at
 * all; with it, a child that exits before reading everything (EPIPE on our end of the pipe) is
 * judged by its exit code alone. An unhandled EPIPE there is an 'error' event on the pipe, which
 * would take the whole node proxy down (it did: a metrics scrape killed the proxy).
 */
export function runCommand(cmd: string, args: string[], input: string | undefined, what: string, value: string, opts: { code?: string; hint?: string } = {}): Promise<string> {
  const { code: errorCode = 'CAPTURE_RULES_FAILED', hint = 'is nftables installed?' } = opts;
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let err = '';
    let out = '';
    p.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    p.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.on('error', (e) => reject(new AmbitError(errorCode, `Cannot run ${what}: ${e.message} (${hint})`, { cause: e })));
    // A hung nft must not hold a scrape or a pod's release forever.
    const timer = setTimeout(() => p.kill('SIGKILL'), NFT_TIMEOUT_MS);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') return reject(new AmbitError(errorCode, `Cannot run ${what}: no answer within ${NFT_TIMEOUT_MS} ms`, { value }));
      if (code === 0) resolve(out);
      else reject(new AmbitError(errorCode, `Cannot run ${what}: exited ${code}: ${err.trim()}`, { value }));
    });
    if (p.stdin) {
      p.stdin.on('error', () => {});
      p.stdin.end(input);
    }
  });
}

export function installCapture(netnsPath: string): Promise<void> {
  return nftIn(netnsPath, captureRules());
}

/**
 * The sysctl the node proxy sets in every captured pod's namespace: reuse of TIME_WAIT ports for
 * new outgoing connections (safe with TCP timestamps, RFC 6191's rule; the kernel's default, 2,
 * allows it on loopback only). The proxy is the side that closes first on the sockets it dials
 * inside the pod (to the app, for every inbound tunnel, and for passthrough), so each leaves a
 * TIME_WAIT entry there for 60 s, all from the pod's IP to the same app port: without reuse, the
 * pod's ~14k even ephemeral ports run out after ~14k tunnels in a minute (~235 new connections/s)
 * and every connect() then scans the whole range (measured: 1,600 connections/s fell to 470).
 */
export const POD_SYSCTLS: Readonly<Record<string, string>> = Object.freeze({ 'net.ipv4.tcp_tw_reuse': '1' });

export async function tunePodNetwork(netnsPath: string): Promise<void> {
  const args = Object.entries(POD_SYSCTLS).map(([k, v]) => `${k}=${v}`);
  await runCommand('nsenter', [`--net=${netnsPath}`, 'sysctl', '-q', '-w', ...args], undefined, `sysctl -w ${args.join(' ')} in ${netnsPath}`, netnsPath, { code: 'POD_SYSCTL_FAILED', hint: 'is procps installed?' });
}

export interface DropCounts {
  out: { packets: number; bytes: number };
  in: { packets: number; bytes: number };
}

/** What the pod's capture filter chains have dropped so far (nft's named counters). */
export async function readDropCounters(netnsPath: string): Promise<DropCounts> {
  const text = await runNft(netnsPath, ['-j', 'list', 'counters', 'table', 'ip', TABLE]);
  const counts: DropCounts = { out: { packets: 0, bytes: 0 }, in: { packets: 0, bytes: 0 } };
  let doc: { nftables?: { counter?: { name?: string; packets?: number; bytes?: number } }[] };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch (err) {
    throw new AmbitError('CAPTURE_RULES_FAILED', `Cannot read drop counters in ${netnsPath}: nft printed no JSON`, { value: netnsPath, cause: err });
  }
  for (const item of doc.nftables ?? []) {
    const c = item.counter;
    if (c === undefined) continue;
    const dir = c.name === DROP_COUNTERS.out ? 'out' : c.name === DROP_COUNTERS.in ? 'in' : undefined;
    if (dir) counts[dir] = { packets: c.packets ?? 0, bytes: c.bytes ?? 0 };
  }
  return counts;
}
