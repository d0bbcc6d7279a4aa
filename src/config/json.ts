// JSON as strictly as YAML files are read: a key given twice in one object is an error naming
// where, never "the last one wins" (JSON.parse's rule), so `{"action":"DENY","action":"ALLOW"}`
// cannot slip an ALLOW past a reader who saw DENY.
import { AmbitError } from '../errors.js';

type Frame = { kind: 'object'; keys: Set<string>; key: string | undefined; wantKey: boolean } | { kind: 'array'; index: number };

/** The path of the first key repeated within one object of already-valid JSON `text`, or null. */
export function duplicateKeyPath(text: string): string | null {
  const stack: Frame[] = [];
  const path = (last: string): string => {
    let p = '';
    for (const f of stack) {
      if (f === stack[stack.length - 1]) break;
      p += f.kind === 'array' ? `[${f.index}]` : `${p === '' ? '' : '.'}${f.key}`;
    }
    return p === '' ? last : `${p}.${last}`;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    const top = stack[stack.length - 1];
    if (ch === '{') stack.push({ kind: 'object', keys: new Set(), key: undefined, wantKey: true });
    else if (ch === '[') stack.push({ kind: 'array', index: 0 });
    else if (ch === '}' || ch === ']') stack.pop();
    else if (ch === ',') {
      if (top?.kind === 'array') top.index++;
      else if (top?.kind === 'object') top.wantKey = true;
    } else if (ch === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      if (top?.kind === 'object' && top.wantKey) {
        const key = JSON.parse(text.slice(start, i + 1)) as string;
        if (top.keys.has(key)) return path(key);
        top.keys.add(key);
        top.key = key;
        top.wantKey = false;
      }
    }
  }
  return null;
}

/** JSON.parse, refusing a repeated key (REQUEST_INVALID naming its path) as well as bad syntax. */
export function parseStrictJson(text: string, what: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (err) {
    throw new AmbitError('REQUEST_INVALID', `Cannot read ${what}: the body is not JSON (${(err as Error).message})`);
  }
  const dup = duplicateKeyPath(text);
  if (dup !== null) throw new AmbitError('REQUEST_INVALID', `Cannot read ${what}: ${dup}: key given more than once`, { path: dup });
  return value;
}
