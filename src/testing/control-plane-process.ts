// Runs the real `ambit control-plane` as a child process on loopback, for tests, benchmarks and
// the demo: a temp data dir, a fixed stream port (so a restart keeps the address), the admin socket.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';

export { freePort };
import { AdminHttpClient } from '../controlplane/admin-client.js';

export const CLI_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');

export class ControlPlaneProcess {
  proc: ChildProcess | undefined;
  readonly admin: AdminHttpClient;
  readonly adminSocket: string;
  stderr = '';

  private constructor(
    readonly dataDir: string,
    readonly port: number,
    private readonly ownsDir: boolean,
    private readonly extraArgs: string[],
    adminSocket?: string,
  ) {
    this.adminSocket = adminSocket ?? join(dataDir, 'admin.sock');
    this.admin = new AdminHttpClient(this.adminSocket);
  }

  /** `adminSocket`: passed as `--admin-socket` (else the control plane's default, `<data-dir>/admin.sock`). */
  static async start(opts: { dataDir?: string; port?: number; args?: string[]; adminSocket?: string } = {}): Promise<ControlPlaneProcess> {
    const dir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'ambit-cp-'));
    const args = [...(opts.args ?? []), ...(opts.adminSocket !== undefined ? ['--admin-socket', opts.adminSocket] : [])];
    const cp = new ControlPlaneProcess(dir, opts.port ?? (await freePort()), !opts.dataDir, args, opts.adminSocket);
    try {
      await cp.run();
    } catch (err) {
      await cp.stop(); // its process and, if it made it, its data dir
      throw err;
    }
    return cp;
  }

  get streamAddress(): string {
    return `127.0.0.1:${this.port}`;
  }

  async run(): Promise<void> {
    this.stderr = '';
    const proc = spawn(
      process.execPath,
      [CLI_PATH, 'control-plane', '--data-dir', this.dataDir, '--stream-listen', this.streamAddress, '--metrics-listen', '127.0.0.1:0', ...this.extraArgs],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, AMBIT_LOG_LEVEL: process.env.AMBIT_LOG_LEVEL ?? 'info' } },
    );
    this.proc = proc;
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
      if (this.stderr.length > 4_000_000) this.stderr = this.stderr.slice(-2_000_000);
    });
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`control plane exited with ${proc.exitCode}: ${this.stderr.slice(-2000)}`);
      try {
        await this.admin.status();
        return;
      } catch {
        if (Date.now() > deadline) {
          await this.kill('SIGKILL'); // a process nobody can reach would outlive the test
          throw new Error(`control plane did not become ready on ${this.adminSocket}: ${this.stderr.slice(-2000)}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((r) => {
      p.once('exit', () => r());
      p.kill(signal);
    });
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.run();
  }

  /** Audit lines (JSON logs with audit:true) seen so far. */
  auditLines(): Record<string, unknown>[] {
    return this.stderr
      .split('\n')
      .filter((l) => l.includes('"audit":true'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  async stop(): Promise<void> {
    await this.kill();
    if (this.ownsDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}
