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

/**
 * At most `perSecond` lines a second for each key: for lines a remote party can cause at will (a
 * pod flooding refused DNS names must not flood the log). The first line after a quiet stretch
 * carries `suppressed`, how many lines were held back since the last one written.
 */
export class LogBudget {
  private readonly windows = new Map<string, { start: number; used: number; held: number }>();

  constructor(private readonly perSecond: number, private readonly now: () => number = () => Date.now()) {
    if (!Number.isInteger(perSecond) || perSecond < 1) throw new RangeError(`LogBudget perSecond must be a positive integer, got ${perSecond}`);
  }

  /** Whether a line for `key` may be written now; if so, how many were held back before it. */
  take(key: string): { suppressed: number } | null {
    const t = this.now();
    let w = this.windows.get(key);
    if (w === undefined || t - w.start >= 1000) {
      const held = w?.held ?? 0;
      // Keys are few (one per limit or per pod); a key quiet for a whole window is dropped.
      if (this.windows.size > 1024) for (const [k, v] of this.windows) if (t - v.start >= 1000) this.windows.delete(k);
      w = { start: t, used: 0, held };
      this.windows.set(key, w);
    }
    if (w.used >= this.perSecond) {
      w.held++;
      return null;
    }
    w.used++;
    const suppressed = w.held;
    w.held = 0;
    return { suppressed };
  }
}
