// How a long-running component ends: on SIGTERM or SIGINT it stops gracefully, and exits anyway
// after a deadline so that a stuck close never keeps a lab (or a node) from shutting down. An
// error nobody handled ends it too, but never silently: one fatal JSON line with the stack, then
// exit 1 for the supervisor (the lab agent, a DaemonSet) to restart it. Carrying on after an
// unknown failure could leave a proxy half-working, which is worse than a restart.
import type { Logger } from '../log.js';

export function stopOnSignals(log: Logger, what: string, stop: () => Promise<void>, deadlineMs = 5000): void {
  const onSignal = (signal: string): void => {
    log.info({ signal }, `${what} shutting down`);
    stop().then(() => process.exit(0), () => process.exit(1));
    setTimeout(() => process.exit(1), deadlineMs).unref();
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  const crash = (kind: string) => (err: unknown): void => {
    const e = err instanceof Error ? err : new Error(String(err));
    log.fatal({ kind, err: e.message, code: (e as NodeJS.ErrnoException).code, stack: e.stack }, `${what} crashed: ${kind}`);
    process.exit(1);
  };
  process.on('uncaughtException', crash('uncaught exception'));
  process.on('unhandledRejection', crash('unhandled rejection'));
}
