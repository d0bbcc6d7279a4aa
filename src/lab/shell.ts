// The one door to the system tools the lab drives (ip, nft, tc, sysctl). A failure becomes an
// AmbitError that carries the command line and the tool's stderr, so a broken step says
// exactly what was run and what the kernel answered.
import { spawn } from 'node:child_process';
import { AmbitError } from '../errors.js';

export interface RunOptions {
  /** Text written to the command's stdin (for `ip -batch -`, `nft -f -`). */
  input?: string;
  /** Resolve instead of throwing on a non-zero exit. */
  allowFail?: boolean;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const line = [cmd, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) =>
      reject(new AmbitError('LAB_COMMAND_FAILED', `Cannot run ${line}: ${err.message}`, { value: line, cause: err })),
    );
    child.on('close', (code) => {
      const result = { code: code ?? -1, stdout, stderr };
      if (result.code !== 0 && !opts.allowFail) {
        const why = stderr.trim().split('\n').slice(0, 4).join(' | ') || `exit code ${result.code}`;
        reject(new AmbitError('LAB_COMMAND_FAILED', `Cannot run ${line}: ${why}`, { value: line }));
      } else resolve(result);
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** `ip [-n NETNS] -batch -`: many ip commands in one process, stopping at the first failure. */
export function ipBatch(netns: string | undefined, lines: string[]): Promise<RunResult> {
  const args = netns === undefined ? ['-batch', '-'] : ['-n', netns, '-batch', '-'];
  return run('ip', args, { input: lines.join('\n') + '\n' });
}

/** Sets sysctls inside a namespace in one process. */
export function sysctlIn(netns: string, settings: Record<string, string | number>): Promise<RunResult> {
  const args = Object.entries(settings).map(([k, v]) => `${k}=${v}`);
  return run('ip', ['netns', 'exec', netns, 'sysctl', '-q', '-w', ...args]);
}

/** Loads an nftables script inside a namespace (atomic: all of it or none). */
export function nftIn(netns: string, script: string): Promise<RunResult> {
  return run('ip', ['netns', 'exec', netns, 'nft', '-f', '-'], { input: script });
}
