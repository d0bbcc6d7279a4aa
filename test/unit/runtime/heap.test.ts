// The relaying daemons' heap settings: which flags count as given, and the start-up warning a
// daemon logs when it was started without them (a real pino logger into a buffer).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { RELAY_NODE_FLAGS, missingRelayFlags } from '../../../src/runtime/index.js';
import { warnIfHeapUntuned } from '../../../src/cli/heap-tuning.js';

test('a flag counts as given by its name, whatever its value or spelling (- or _)', () => {
  assert.deepEqual(RELAY_NODE_FLAGS, ['--initial-old-space-size=32']);
  assert.deepEqual(missingRelayFlags([]), ['--initial-old-space-size=32']);
  assert.deepEqual(missingRelayFlags(['--initial-old-space-size=64']), []);
  assert.deepEqual(missingRelayFlags(['--initial_old_space_size=48']), []);
  assert.deepEqual(missingRelayFlags(['--max-old-space-size=32']), ['--initial-old-space-size=32']);
});

test('a daemon started without the floor warns once, naming the flag and the doc; with it, says nothing', () => {
  const lines: string[] = [];
  const sink = new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) });
  const log = pino({ base: null }, sink);
  warnIfHeapUntuned(log, ['--initial-old-space-size=32']);
  assert.equal(lines.length, 0);
  warnIfHeapUntuned(log, []);
  assert.equal(lines.length, 1);
  const rec = JSON.parse(lines[0]!) as { level: number; msg: string; missing: string[] };
  assert.equal(rec.level, 40);
  assert.deepEqual(rec.missing, ['--initial-old-space-size=32']);
  assert.match(rec.msg, /start node with --initial-old-space-size=32 \(docs\/hbone\.md/);
});
