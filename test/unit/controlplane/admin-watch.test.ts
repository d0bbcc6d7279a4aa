// The admin socket's watch against a watcher that stops reading: the real serveAdmin on a real
// Unix socket, in front of a stub backend (a test double for the control plane, so the test can
// commit 1 MB events at will). A watcher that leaves more than WATCH_MAX_UNREAD unread has its
// watch ended and logged, where the control plane used to queue every event for it in memory; a
// watcher that reads gets every event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { serveAdmin, WATCH_MAX_UNREAD, type AdminBackend } from '../../../src/controlplane/admin-server.js';
import type { StoreEvent } from '../../../src/controlplane/admin-api.js';

const EVENT_BYTES = 1024 * 1024;
const EVENTS = Math.ceil((2 * WATCH_MAX_UNREAD) / EVENT_BYTES);

function bigEvent(revision: number): StoreEvent {
  return { revision, changes: [{ type: 'put', key: `Namespace/n${revision}`, resource: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x'.repeat(EVENT_BYTES) } } as never }] };
}

async function withServer(fn: (socket: string, emit: (e: StoreEvent) => void, state: { stopped: number; logs: Record<string, unknown>[] }) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-admin-watch-'));
  const state = { stopped: 0, logs: [] as Record<string, unknown>[] };
  let listener: ((e: StoreEvent) => void) | undefined;
  const stub = {
    watch: (_from: number, onEvent: (e: StoreEvent) => void) => {
      listener = onEvent;
      return () => {
        state.stopped++;
        listener = undefined;
      };
    },
  } as unknown as AdminBackend;
  const log = pino({ level: 'info' }, { write: (l: string) => void state.logs.push(JSON.parse(l) as Record<string, unknown>) });
  const server = await serveAdmin(join(dir, 'admin.sock'), stub, log);
  try {
    await fn(join(dir, 'admin.sock'), (e) => listener?.(e), state);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }
}

function openWatch(socket: string): Promise<{ res: http.IncomingMessage; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, path: '/v1/watch?from=0', method: 'GET' }, (res) => {
      const closed = new Promise<void>((r) => res.once('close', () => r()));
      res.on('error', () => undefined);
      resolve({ res, closed });
    });
    req.on('error', reject);
    req.end();
  });
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

test(`a watcher that stops reading is cut after ${WATCH_MAX_UNREAD} bytes unread, and it is logged`, async () => {
  await withServer(async (socket, emit, state) => {
    const { res, closed } = await openWatch(socket);
    res.pause();
    let sent = 0;
    for (let i = 1; i <= EVENTS && state.stopped === 0; i++) {
      emit(bigEvent(i));
      sent = i;
      await turn();
    }
    assert.ok(sent < EVENTS, `ended before all ${EVENTS} events were queued (after ${sent})`);
    // The watcher reads again: what was queued comes, then the end of the watch.
    let bytes = 0;
    res.on('data', (d: Buffer) => { bytes += d.length; });
    res.resume();
    await Promise.race([closed, new Promise((_r, reject) => setTimeout(() => reject(new Error(`the watcher never saw its watch end (${sent} sent, ${bytes} bytes read)`)), 10_000))]);
    assert.ok(bytes < sent * EVENT_BYTES, `the events after the cut were not sent (${bytes} bytes read of ${sent} events)`);
    assert.equal(state.stopped, 1, 'the backend watch was stopped');
    const line = state.logs.find((l) => String(l.msg).startsWith('admin watch ended'));
    assert.ok(line, 'a warning says why');
    assert.equal(line.level, 40);
    assert.ok((line.unreadBytes as number) > WATCH_MAX_UNREAD);
  });
});

test('a watcher that reads gets every event, however large the total', async () => {
  await withServer(async (socket, emit, state) => {
    const { res } = await openWatch(socket);
    let lines = 0;
    let buf = '';
    res.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        if (buf.slice(0, i).trim()) lines++;
        buf = buf.slice(i + 1);
      }
    });
    for (let i = 1; i <= EVENTS; i++) {
      emit(bigEvent(i));
      // Paced as a reader drains it: the unread backlog stays small.
      while (lines < i - 2) await new Promise((r) => setTimeout(r, 2));
    }
    while (lines < EVENTS) await new Promise((r) => setTimeout(r, 5));
    assert.equal(lines, EVENTS);
    assert.equal(state.stopped, 0);
    res.destroy();
  });
});
