// Printing for the CLI: aligned tables for people, JSON/YAML for programs.
import { stringify } from 'yaml';
import { AmbitError } from '../errors.js';

export type OutputFormat = 'table' | 'json' | 'yaml';

export function outputFormat(v: string | undefined): OutputFormat {
  if (v === undefined || v === 'table' || v === 'wide') return 'table';
  if (v === 'json' || v === 'yaml') return v;
  throw new AmbitError('OUTPUT_INVALID', `Cannot print as ${JSON.stringify(v)}: use -o json, -o yaml or leave -o out for a table`, { value: v });
}

export function table(headers: string[], rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('   ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

export function printData(data: unknown, format: 'json' | 'yaml'): void {
  process.stdout.write(format === 'json' ? JSON.stringify(data, null, 2) + '\n' : stringify(data));
}

export function age(iso: string | undefined): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
}
