// The one error base of ambit. Every error that crosses a module boundary carries a stable
// `code` (documented in docs/errors.md), and where it is about input, the field path and the
// offending value, so that a message always says what was wrong and where.

export interface AmbitErrorOptions {
  /** Dotted/indexed path of the offending field, e.g. `spec.ports[0].port`. */
  path?: string;
  /** The offending value, as given. */
  value?: unknown;
  cause?: unknown;
}

export class AmbitError extends Error {
  readonly code: string;
  readonly path?: string;
  readonly value?: unknown;

  constructor(code: string, message: string, opts: AmbitErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AmbitError';
    this.code = code;
    if (opts.path !== undefined) this.path = opts.path;
    if ('value' in opts) this.value = opts.value;
  }
}

/** Renders a value for an error message: short, unambiguous, never multi-line. */
/**
 * A character that shows nothing or changes how the text around it shows: controls (C0, DEL, C1),
 * format characters (bidi overrides, zero-width), line and paragraph separators.
 */
export const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

export function showValue(v: unknown): string {
  let s: string;
  if (typeof v === 'string') s = JSON.stringify(v);
  else if (v === undefined) s = 'undefined';
  else {
    try {
      s = JSON.stringify(v) ?? String(v);
    } catch {
      s = String(v);
    }
  }
  // Unprintable characters are shown escaped, so a value cannot reorder or hide the text of the
  // message (or log line) that quotes it (JSON has escaped the C0 controls already).
  s = s.replace(new RegExp(UNPRINTABLE.source, 'gu'), (c) => {
    const cp = c.codePointAt(0)!;
    return cp > 0xffff ? `\\u{${cp.toString(16)}}` : `\\u${cp.toString(16).padStart(4, '0')}`;
  });
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}
