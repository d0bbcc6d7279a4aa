// The front door for configuration text and files: YAML (or JSON) streams of Kubernetes-shaped
// documents to validated domain objects. Syntax errors, validation errors and a resource
// defined twice all fail the whole batch with the first problem found, so that `apply` is all or
// nothing and the message is deterministic.
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { AmbitError, showValue } from '../errors.js';
import { keyOf, type Resource } from './types.js';
import { parseResource } from './resource.js';

export { parseResource } from './resource.js';

export const CONFIG_EXTENSIONS: readonly string[] = ['.yaml', '.yml', '.json'];

interface Located {
  resource: Resource;
  where: string;
}

function parseLocated(text: string, source: string): Located[] {
  const out: Located[] = [];
  parseAllDocuments(text, { uniqueKeys: true }).forEach((doc, i) => {
    const where = `${source}, document ${i + 1}`;
    const syntax = doc.errors[0];
    if (syntax !== undefined) {
      // yaml's message ends with a multi-line excerpt of the source: keep the first line only.
      const first = syntax.message.split('\n')[0]!.replace(/:$/, '');
      throw new AmbitError('CONFIG_INVALID', `Cannot parse ${where}: ${first}`, { cause: syntax });
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 50 });
    } catch (err) {
      throw new AmbitError('CONFIG_INVALID', `Cannot parse ${where}: ${(err as Error).message}`, { cause: err });
    }
    if (value === null || value === undefined) return; // empty document (`---` with nothing, or only comments)
    out.push({ resource: parseResource(value, where), where });
  });
  return out;
}

function rejectDuplicates(items: Located[]): Resource[] {
  const seen = new Map<string, string>();
  for (const { resource, where } of items) {
    const key = keyOf(resource);
    const first = seen.get(key);
    if (first !== undefined) {
      const { kind, metadata } = resource;
      const name = metadata.namespace === undefined ? metadata.name : `${metadata.namespace}/${metadata.name}`;
      throw new AmbitError('CONFIG_INVALID', `Cannot apply ${kind} ${JSON.stringify(name)} (${where}): defined twice (also ${first})`, {
        value: name,
      });
    }
    seen.set(key, where);
  }
  return items.map((i) => i.resource);
}

/**
 * Parses a multi-document YAML (or JSON) text. `source` names it in messages (a file name).
 * Empty documents are skipped; documents are numbered from 1 counting the empty ones.
 */
export function parseDocuments(text: string, source: string): Resource[] {
  return rejectDuplicates(parseLocated(text, source));
}

async function filesOf(path: string): Promise<string[]> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message;
    throw new AmbitError('CONFIG_READ_FAILED', `Cannot read configuration ${showValue(path)}: ${why}`, { value: path, cause: err });
  }
  if (!info.isDirectory()) return [path];
  const names = (await readdir(path)).filter((n) => CONFIG_EXTENSIONS.includes(extname(n).toLowerCase())).sort();
  return names.map((n) => join(path, n));
}

/**
 * Reads files and directories (a directory contributes its `.yaml`, `.yml` and `.json` files in
 * name order, not recursively) and parses them as one batch. A resource defined in two places
 * is an error. Throws CONFIG_READ_FAILED or CONFIG_INVALID.
 */
export async function loadFiles(paths: string[]): Promise<Resource[]> {
  const all: Located[] = [];
  for (const p of paths) {
    for (const file of await filesOf(p)) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        throw new AmbitError('CONFIG_READ_FAILED', `Cannot read configuration ${showValue(file)}: ${(err as Error).message}`, {
          value: file,
          cause: err,
        });
      }
      all.push(...parseLocated(text, file));
    }
  }
  return rejectDuplicates(all);
}
