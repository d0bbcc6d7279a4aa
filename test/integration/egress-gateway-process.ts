// Runs the real `ambit egress-gateway` as a child process on loopback for the end-to-end test:
// its JSON log lines (stdout) collected, readiness polled on its admin address, stopped by SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { CLI_PATH } from '../../src/testing/control-plane-process.js';

export class EgressGatewayProcess {
  readonly lines: Record<string, unknown>[] = [];
  stderr = '';
  exit: Promise<{ code: number | null; signal: string | null }>;

  private constructor(readonly proc: ChildProcess, readonly adminHost: string) {
    let buf = '';
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          this.lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          this.stderr += `(not JSON on stdout) ${line}\n`;
        }
      }
    });
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exit = new Promise((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  }

  static spawn(args: string[], adminHost: string): EgressGatewayProcess {
    const proc = spawn(process.execPath, [CLI_PATH, 'egress-gateway', ...args, '--admin-host', adminHost], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, AMBIT_LOG_LEVEL: 'info' },
    });
    return new EgressGatewayProcess(proc, adminHost);
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** GET on one of the admin ports (15000 dump, 15021 readiness). */
  admin(port: number, path = '/'): Promise<{ status: number; body: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      http.get({ host: this.adminHost, port, path }, (res) => {
        let data = '';
        res.setEncoding('utf8').on('data', (d: string) => (data += d)).on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(data) as Record<string, unknown> });
          } catch (err) {
            reject(err as Error);
          }
        });
      }).once('error', reject);
    });
  }

  async until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 15_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      if (!this.running) throw new Error(`egress gateway exited while waiting for ${what}: ${this.stderr.slice(-2000)}`);
      const v = await Promise.resolve(probe()).catch(() => undefined);
      if (v !== undefined) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last log lines: ${JSON.stringify(this.lines.slice(-5))} ${this.stderr.slice(-1000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The config dump once `pred` holds for it. */
  dumpWhen(what: string, pred: (d: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    return this.until(what, async () => {
      const d = (await this.admin(15000, '/config_dump')).body;
      return pred(d) ? d : undefined;
    });
  }

  /** The first log line with msg "egress connection" matching `pred` (waits for it). */
  connection(pred: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    return this.until('an "egress connection" line', () => this.lines.find((l) => l.msg === 'egress connection' && pred(l)), 5000);
  }

  async stop(): Promise<{ code: number | null; signal: string | null }> {
    if (this.running) this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 8000);
    const r = await this.exit;
    clearTimeout(t);
    return r;
  }
}
