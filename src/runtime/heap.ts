// V8 heap settings for the daemons that relay bytes (the node proxy, the egress gateway).
//
// Their heap is small (~10 MB live) while bytes stream through them at GB/s, and V8 sizes the
// old generation's limit from the live size: ~19 MB, so ~9 MB of headroom. Under bulk relaying,
// once a proxy has run other load (a 1,000 req/s phase is enough), V8 then starts a full
// mark-compact every 50-80 ms (measured with --trace-gc: ~52 in 3 s on each proxy), about a
// quarter of the sending proxy's CPU. A floor under the old generation (`--initial-old-space-size`)
// keeps that headroom: mark-compacts then come only when ~30 MB of old objects have piled up
// (seconds apart under stress, and none in a minute at 1,000 req/s, RSS unchanged at ~68 MB).
// V8 reads that flag only when it creates the heap, so it must be on the command line (Node does
// not allow it in NODE_OPTIONS); the young-generation setting below can be set at run time.
import { setFlagsFromString } from 'node:v8';
import type { Logger } from '../log.js';
import { installLeanAsyncBind } from './async-bind.js';

/** Sub-commands of `ambit` whose processes relay bytes and get these settings. */
export const RELAY_COMMANDS: readonly string[] = ['node-proxy', 'egress-gateway'];

/**
 * Node command-line flags for a relaying daemon (the lab passes them; deployments should too):
 * the old generation's floor (above), and Node's internals for the C++ relay (native-pipe.ts).
 */
export const RELAY_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=32', '--expose-internals'];

/** What a relaying daemon started without RELAY_NODE_FLAGS loses, and where the why is. */
export const RELAY_FLAGS_ADVICE = `start node with ${RELAY_NODE_FLAGS.join(' ')}: without the first, bulk relaying spends about a quarter of its CPU in full garbage collections; without the second, busy connections of small requests cannot be copied in Node's C++ (docs/hbone.md, "Relays and the Node runtime")`;

/**
 * The RELAY_NODE_FLAGS that the current process was not started with, by flag name: any value
 * counts as given (even 0: whoever set it chose it), in either spelling (- or _).
 */
export function missingRelayFlags(execArgv: readonly string[] = process.execArgv): string[] {
  const given = new Set(execArgv.map((a) => a.split('=')[0]!.replace(/_/g, '-')));
  return RELAY_NODE_FLAGS.filter((f) => !given.has(f.split('=')[0]!));
}

/**
 * Keeps the young generation at its initial size from now on. Best set before anything has
 * allocated much: the CLI does it first thing for any command line naming a relaying daemon
 * (src/cli/early-tuning.ts), and tuneRelayingDaemon again (harmless) for any other way in.
 */
export function pinYoungGeneration(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}

/**
 * Run-time settings for a relaying daemon, applied first thing in its command's action (before
 * the data plane is loaded or has allocated much):
 * - the young generation stays at its initial size: grown to 16 MB semi-spaces under churn it
 *   costs resident memory (RSS at 1,000 req/s: 80 MB grown, 67 MB pinned) and is swept no faster;
 * - http2 gets the lean AsyncResource#bind (async-bind.ts);
 * - a process started without RELAY_NODE_FLAGS says so, once.
 */
export function tuneRelayingDaemon(log: Logger, execArgv: readonly string[] = process.execArgv): void {
  pinYoungGeneration();
  installLeanAsyncBind();
  const missing = missingRelayFlags(execArgv);
  if (missing.length > 0) log.warn({ missing }, `started without ${missing.join(' ')}; ${RELAY_FLAGS_ADVICE}`);
}
