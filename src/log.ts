// Structured JSON logs (pino) for every component. One logger per component, named by `component`.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(component: string, opts: { level?: string; destination?: number | string } = {}): Logger {
  const level = opts.level ?? process.env.AMBIT_LOG_LEVEL ?? 'info';
  const dest = pino.destination({ dest: opts.destination ?? 2, sync: true });
  return pino({ level, base: { component }, timestamp: pino.stdTimeFunctions.isoTime }, dest);
}

/** A logger that drops everything: for library use in tests that assert on results, not logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
