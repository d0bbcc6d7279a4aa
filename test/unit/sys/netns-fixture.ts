// Real network namespaces for the sys tests: created with iproute2, named per test run so that
// parallel runs never collide, and removed in teardown even when a test fails.
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import type { Server, Socket } from 'node:net';

export function uniqueNetnsName(tag: string): string {
  return `ambit-t${process.pid}-${tag}`;
}

export function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Creates a namespace with `lo` up and returns its name. */
export function addNetns(name: string): string {
  ip('netns', 'add', name);
  ip('-n', name, 'link', 'set', 'lo', 'up');
  return name;
}

/** Deletes a namespace if it exists; never throws, so it is safe in `after`. */
export function deleteNetns(name: string): void {
  try {
    ip('netns', 'delete', name);
  } catch {
    // not created, or already gone
  }
}

/** Loads an nftables ruleset inside the namespace. */
export function nftInNetns(name: string, ruleset: string): void {
  execFileSync('ip', ['netns', 'exec', name, 'nft', '-f', '-'], { input: ruleset, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Resolves with the next connection a server accepts. */
export async function nextConnection(server: Server): Promise<Socket> {
  const [socket] = (await once(server, 'connection')) as [Socket];
  return socket;
}

/** Reads a socket to its end. */
export async function readToEnd(socket: Socket): Promise<string> {
  let data = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (data += chunk));
  await once(socket, 'end');
  return data;
}

/** Resolves when a connecting socket connects; rejects with its error. */
export async function connected(socket: Socket): Promise<Socket> {
  await once(socket, 'connect');
  return socket;
}
