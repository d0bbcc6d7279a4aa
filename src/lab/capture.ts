// Packet capture on a lab's underlay bridge (tcpdump in the underlay namespace): the evidence
// for "only TLS to 15008 crosses the network" in tests and in the demo.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AmbitError } from '../errors.js';
import { underlayNetns } from './names.js';

/** Captures traffic matching `filter` (default: between pods) while `fn` runs. */
export async function captureUnderlay(lab: string, fn: () => Promise<void>, filter = ['net', '10.244.0.0/16']): Promise<{ summary: string; raw: Buffer }> {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-capture-'));
  const file = join(dir, 'cap.pcap');
  try {
    const p = spawn('ip', ['netns', 'exec', underlayNetns(lab), 'tcpdump', '-Z', 'root', '--immediate-mode', '-U', '-i', 'br0', '-nn', '-s', '0', '-w', file, ...filter], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const end = Date.now() + 10_000;
    while (!err.includes('listening on')) {
      if (Date.now() > end || p.exitCode !== null) {
        if (p.exitCode === null) p.kill('SIGKILL'); // a tcpdump that never said it listens must not outlive the call
        throw new AmbitError('LAB_CAPTURE_FAILED', `Cannot capture on the underlay of lab ${lab}: ${err.trim() || 'tcpdump did not start'}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    try {
      await fn();
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      p.kill('SIGINT');
      await new Promise((r) => p.once('close', r));
    }
    const summary = await new Promise<string>((resolve) => {
      const r = spawn('tcpdump', ['-nn', '-r', file], { stdio: ['ignore', 'pipe', 'ignore'] });
      let s = '';
      r.stdout.setEncoding('utf8').on('data', (d: string) => (s += d));
      r.on('close', () => resolve(s));
    });
    return { summary, raw: readFileSync(file) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
