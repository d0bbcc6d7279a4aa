// Runtime tuning for the relaying daemons, applied before any other module loads (main.ts imports
// this first): the young generation must not have grown yet when its flag is set, and http2 must
// find the lean AsyncResource#bind. The why and the figures are in src/runtime/heap.ts and
// src/runtime/async-bind.ts.
import type { Logger } from '../log.js';
import { RELAY_COMMANDS, missingRelayFlags, tuneRelayHeap } from '../runtime/heap.js';
import { installLeanAsyncBind } from '../runtime/async-bind.js';

if (RELAY_COMMANDS.includes(process.argv[2] ?? '')) {
  tuneRelayHeap();
  installLeanAsyncBind();
}

/** Says, once at start, when a relaying daemon was started without its heap floor. */
export function warnIfHeapUntuned(log: Logger, execArgv: readonly string[] = process.execArgv): void {
  const missing = missingRelayFlags(execArgv);
  if (missing.length === 0) return;
  log.warn({ missing }, `started without ${missing.join(' ')}: bulk relaying spends about a quarter of its CPU in full garbage collections; start node with ${missing.join(' ')} (docs/hbone.md, "Relays and the Node runtime")`);
}
