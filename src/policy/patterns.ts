// Istio's string match for principals, namespaces and paths: an exact value, `*` (any value),
// a prefix (`team-*`) or a suffix (`*.js`). Compiled once into sets and lists so that a
// connection is checked without re-reading the policy text.

export type Pattern =
  | { kind: 'any' }
  | { kind: 'exact'; value: string }
  | { kind: 'prefix'; value: string }
  | { kind: 'suffix'; value: string };

/** Reads one pattern; null when `*` sits anywhere but the whole value or one end. */
export function parsePattern(s: string): Pattern | null {
  if (s === '*') return { kind: 'any' };
  const stars = s.split('*').length - 1;
  if (stars === 0) return { kind: 'exact', value: s };
  if (stars > 1) return null;
  if (s.endsWith('*')) return { kind: 'prefix', value: s.slice(0, -1) };
  if (s.startsWith('*')) return { kind: 'suffix', value: s.slice(1) };
  return null;
}

/** A compiled OR over patterns. */
export class PatternSet {
  readonly #exact = new Set<string>();
  readonly #prefixes: string[] = [];
  readonly #suffixes: string[] = [];
  #any = false;

  constructor(patterns: Iterable<Pattern>) {
    for (const p of patterns) {
      if (p.kind === 'any') this.#any = true;
      else if (p.kind === 'exact') this.#exact.add(p.value);
      else if (p.kind === 'prefix') this.#prefixes.push(p.value);
      else this.#suffixes.push(p.value);
    }
  }

  matches(value: string): boolean {
    if (this.#any || this.#exact.has(value)) return true;
    for (const p of this.#prefixes) if (value.startsWith(p)) return true;
    for (const s of this.#suffixes) if (value.endsWith(s)) return true;
    return false;
  }
}
