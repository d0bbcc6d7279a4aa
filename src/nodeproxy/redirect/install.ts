// Applies capture rules inside a pod's network namespace with nft (via nsenter, so the proxy's
// own namespace and mounts are untouched). One nft transaction per change: all or nothing.
import { spawn } from 'node:child_process';
import { AmbitError } from '../../errors.js';
import { captureRules, removeRules } from './rules.js';

function nftIn(netnsPath: string, script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('nsenter', [`--net=${netnsPath}`, 'nft', '-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    p.on('error', (e) => reject(new AmbitError('CAPTURE_RULES_FAILED', `Cannot run nft in ${netnsPath}: ${e.message} (is nftables installed?)`, { cause: e })));
    p.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new AmbitError('CAPTURE_RULES_FAILED', `Cannot install capture rules in ${netnsPath}: nft exited ${code}: ${err.trim()}`, { value: netnsPath }));
    });
    p.stdin.end(script);
  });
}

export function installCapture(netnsPath: string): Promise<void> {
  return nftIn(netnsPath, captureRules());
}

export function removeCapture(netnsPath: string): Promise<void> {
  return nftIn(netnsPath, removeRules());
}
