// How a long-running component ends: on SIGTERM or SIGINT it stops gracefully, and exits anyway
// after a deadline so that a stuck close never keeps a lab (or a node) from shutting down.
import type { Logger } from '../log.js';

export function stopOnSignals(log: Logger, what: string, stop: () => Promise<void>, deadlineMs = 5000): void {
  const onSignal = (signal: string): void => {
    log.info({ signal }, `${what} shutting down`);
    stop().then(() => process.exit(0), () => process.exit(1));
    setTimeout(() => process.exit(1), deadlineMs).unref();
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
}
