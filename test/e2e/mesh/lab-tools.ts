// What the mesh's lab tests share: reading a lab's pods and node-proxy logs, curl from a pod,
// processes whose output lines a test follows, and an app that holds one connection open.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { execInPod, readLabState } from '../../../src/lab/index.js';
import { labRunDir } from '../../../src/paths.js';
import { podOf } from '../lab/helpers.js';

export function labTools(lab: string) {
  const nodeProxyLog = (node: string): string => readFileSync(join(labRunDir(lab), 'logs', `node-proxy-${node}.log`), 'utf8');
  return {
    ipOf: (name: string): string => {
      const ip = podOf(lab, name)?.ip;
      assert.ok(ip, `pod ${name} has an IP`);
      return ip;
    },
    nodeNetns: (name: string): string => basename(readLabState(lab)!.plan.nodes.find((n) => n.name === name)!.netns),
    nodeProxyLog,
    accessLines: (node: string): Record<string, unknown>[] =>
      nodeProxyLog(node).split('\n').filter((l) => l.includes('"access":true')).map((l) => JSON.parse(l) as Record<string, unknown>),
    curl: (from: string, url: string): Promise<{ code: number; stdout: string; stderr: string }> =>
      execInPod(lab, 'default', from, ['curl', '-sS', '-m', '3', url], { timeoutMs: 10_000 }),
  };
}

/** Processes a test follows line by line; killAll() in its teardown. */
export class Followed {
  private readonly children = new Set<ChildProcessWithoutNullStreams>();

  /** Runs `argv`; its stdout lines as they come (stderr as one last `STDERR` line), and its exit code. */
  linesOf(argv: string[]): { lines: string[]; done: Promise<number> } {
    const p = spawn(argv[0]!, argv.slice(1));
    this.children.add(p);
    const lines: string[] = [];
    let partial = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => {
      const parts = (partial + d).split('\n');
      partial = parts.pop()!;
      lines.push(...parts);
    });
    let err = '';
    p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const done = new Promise<number>((resolve) => p.once('close', (code) => {
      this.children.delete(p);
      if (err) lines.push(`STDERR ${err}`);
      resolve(code ?? -1);
    }));
    return { lines, done };
  }

  killAll(): void {
    for (const c of this.children) c.kill('SIGKILL');
  }
}

/**
 * An app (for `node -e` in a captured pod) holding one TCP connection to `ip`'s echo port 9000
 * open, a line every 200 ms: prints `ECHO <n>` per answer, `CLOSED` when the connection ends,
 * `ERR <code>` on an error; gives up (exit 2) after two minutes.
 */
export const longLivedApp = (ip: string): string => `const s=require('net').connect(9000,'${ip}');let n=0,b='';s.setEncoding('utf8');
s.on('connect',()=>{setInterval(()=>s.write('ping\\n'),200);s.write('ping\\n')});
s.on('data',(d)=>{b+=d;for(let i=b.indexOf('\\n');i>=0;i=b.indexOf('\\n')){b=b.slice(i+1);console.log('ECHO '+(++n))}});
s.on('error',(e)=>console.log('ERR '+e.code));s.on('close',()=>{console.log('CLOSED');process.exit(0)});setTimeout(()=>process.exit(2),120000);`;
