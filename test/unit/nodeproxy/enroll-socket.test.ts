// The enrollment socket (root-only, on the node) against a misbehaving client: a line that never
// ends is cut off at MAX_ENROLL_LINE with the connection closed and logged, and the next client
// enrolls as usual.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { MAX_ENROLL_LINE, sendEnrollment, serveEnrollment, type EnrolledPod } from '../../../src/nodeproxy/enroll.js';

test('an endless line closes its connection (logged); the next client enrolls', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-enroll-test-'));
  const path = join(dir, 'enroll.sock');
  const added: EnrolledPod[] = [];
  const lines: { msg: string; bytes?: number }[] = [];
  const server = await serveEnrollment(path, { snapshot: async () => {}, add: async (p) => void added.push(p), remove: async () => {} }, pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as { msg: string }) }));
  try {
    const sock = net.connect(path);
    sock.on('error', () => undefined);
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    const chunk = Buffer.alloc(1024 * 1024, 0x78);
    for (let i = 0; i * chunk.length <= MAX_ENROLL_LINE + chunk.length && !sock.destroyed; i++) sock.write(chunk);
    await closed;
    assert.ok(lines.some((l) => /longer than the limit/.test(l.msg) && (l.bytes ?? 0) > MAX_ENROLL_LINE), JSON.stringify(lines));
    const pod = { namespace: 'default', name: 'a', ip: '10.244.1.5', netns: '/run/netns/x' };
    await sendEnrollment(path, { op: 'add', pod }, 5_000);
    assert.deepEqual(added, [pod]);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
