// The relaying daemons' runtime settings: which flags count as given, the start-up warning a
// daemon logs without them (a real pino logger into a buffer), and that tuning installs the lean
// AsyncResource#bind. Each test file runs in its own process, so nothing here leaks elsewhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { RELAY_FLAGS_ADVICE, RELAY_NODE_FLAGS, bindAddsAsyncResource, missingRelayFlags, tuneRelayingDaemon } from '../../../src/runtime/index.js';

function capture(): { log: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) });
  return { log: pino({ base: null }, sink), lines };
}

test('a flag counts as given by its name, whatever its value or spelling (- or _)', () => {
  assert.deepEqual(RELAY_NODE_FLAGS, ['--initial-old-space-size=32', '--expose-internals']);
  assert.deepEqual(missingRelayFlags([]), ['--initial-old-space-size=32', '--expose-internals']);
  assert.deepEqual(missingRelayFlags(['--initial-old-space-size=64', '--expose-internals']), []);
  assert.deepEqual(missingRelayFlags(['--initial_old_space_size=48', '--expose_internals']), []);
  assert.deepEqual(missingRelayFlags(['--max-old-space-size=32', '--expose-internals']), ['--initial-old-space-size=32']);
  assert.deepEqual(missingRelayFlags(['--initial-old-space-size=32']), ['--expose-internals']);
});

test('a daemon started with both flags is tuned silently; without them, it warns once, naming the flags and the doc', () => {
  const quiet = capture();
  tuneRelayingDaemon(quiet.log, [...RELAY_NODE_FLAGS]);
  assert.equal(quiet.lines.length, 0);
  const loud = capture();
  tuneRelayingDaemon(loud.log, []);
  assert.equal(loud.lines.length, 1);
  const rec = JSON.parse(loud.lines[0]!) as { level: number; msg: string; missing: string[] };
  assert.equal(rec.level, 40);
  assert.deepEqual(rec.missing, ['--initial-old-space-size=32', '--expose-internals']);
  assert.match(rec.msg, /started without --initial-old-space-size=32 --expose-internals; start node with --initial-old-space-size=32 --expose-internals: .*full garbage collections.*Node's C\+\+ \(docs\/hbone\.md, "Relays and the Node runtime"\)/);
  assert.ok(rec.msg.endsWith(RELAY_FLAGS_ADVICE));
});

test('tuning a daemon installs the lean AsyncResource#bind', () => {
  tuneRelayingDaemon(capture().log, [...RELAY_NODE_FLAGS]);
  assert.equal(bindAddsAsyncResource(), false);
});
