// Graceful stop for long-running app processes: on SIGTERM/SIGINT, close (drain) and exit 0; if
// draining outlives the deadline, exit anyway so the lab's pod teardown never hangs.
import type { Logger } from '../log.js';

const DEFAULT_DRAIN_MS = 5000;

/** Installs the signal handlers once; `close` should stop listening and finish in-flight work. */
export function exitOnSignal(close: () => Promise<void>, log: Logger, drainMs = DEFAULT_DRAIN_MS): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    const hard = setTimeout(() => {
      log.warn({ drainMs }, 'drain deadline passed; exiting');
      process.exit(1);
    }, drainMs);
    hard.unref();
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err: (err as Error).message }, 'close failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
