// YAML streams and files: multi-document parsing, empty documents, document numbering, syntax
// errors, duplicate keys and resources, and loadFiles over real temp files and directories.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AmbitError } from '../../../src/errors.js';
import { keyOf, loadFiles, parseDocuments } from '../../../src/config/index.js';

const NS = (name: string) => `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${name}}\n`;

function assertError(fn: () => unknown, code: string, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof AmbitError);
    assert.equal(err.message, message);
    assert.equal(err.code, code);
    return true;
  });
}

describe('parseDocuments', () => {
  test('multi-document stream; empty documents and comment-only documents are skipped', () => {
    const got = parseDocuments(`---\n${NS('a')}---\n---\n# only a comment\n---\n${NS('b')}`, 'f.yaml');
    assert.deepEqual(got.map(keyOf), ['Namespace//a', 'Namespace//b']);
  });

  test('empty text gives no resources', () => {
    assert.deepEqual(parseDocuments('', 'f.yaml'), []);
    assert.deepEqual(parseDocuments('# nothing\n', 'f.yaml'), []);
  });

  test('documents are numbered from 1, counting empty ones', () => {
    assertError(
      () => parseDocuments(`${NS('a')}---\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec: {nodeName: n1, containers: [{name: c, command: [x]}], image: nginx}\n`, 'file.yaml'),
      'CONFIG_INVALID',
      'Cannot apply Pod "default/web" (file.yaml, document 3): spec.image: unknown field',
    );
  });

  test('JSON text is accepted', () => {
    const got = parseDocuments(JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'j' } }), 'f.json');
    assert.deepEqual(got.map(keyOf), ['Namespace//j']);
  });

  test('YAML syntax error names the document and line', () => {
    assertError(
      () => parseDocuments(`${NS('a')}---\nkind: [Namespace\n`, 'bad.yaml'),
      'CONFIG_INVALID',
      'Cannot parse bad.yaml, document 2: Flow sequence in block collection must be sufficiently indented and end with a ] at line 6, column 1',
    );
  });

  test('duplicate mapping keys are a syntax error, not "last one wins"', () => {
    assertError(
      () => parseDocuments('apiVersion: v1\nkind: Namespace\nkind: Pod\nmetadata: {name: a}\n', 'dup.yaml'),
      'CONFIG_INVALID',
      'Cannot parse dup.yaml, document 1: Map keys must be unique at line 3, column 1',
    );
  });

  test('a scalar document is rejected', () => {
    assertError(
      () => parseDocuments('just text\n', 's.yaml'),
      'CONFIG_INVALID',
      'Cannot apply resource (s.yaml, document 1): a resource must be a mapping with apiVersion, kind and metadata, got "just text"',
    );
  });

  test('the same resource twice in one batch is rejected', () => {
    assertError(
      () => parseDocuments(`${NS('a')}---\n${NS('b')}---\n${NS('a')}`, 'twice.yaml'),
      'CONFIG_INVALID',
      'Cannot apply Namespace "a" (twice.yaml, document 3): defined twice (also twice.yaml, document 1)',
    );
  });

  test('same name in different namespaces or kinds is fine', () => {
    const sa = (ns: string) => `apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: web, namespace: ${ns}}\n`;
    assert.equal(parseDocuments(`${sa('a')}---\n${sa('b')}---\n${NS('web')}`, 'f').length, 3);
  });

  test('alias expansion is bounded (billion laughs)', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(', ')}]`);
    assert.throws(() => parseDocuments(lines.join('\n'), 'bomb.yaml'), (err: unknown) => {
      assert.ok(err instanceof AmbitError);
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.match(err.message, /^Cannot parse bomb\.yaml, document 1: /);
      return true;
    });
  });
});

describe('loadFiles', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `ambit-config-${process.pid}-`));
    await mkdir(join(dir, 'conf'));
    await mkdir(join(dir, 'conf', 'nested'));
    await writeFile(join(dir, 'conf', 'b.yml'), NS('from-b'));
    await writeFile(join(dir, 'conf', 'a.yaml'), `${NS('from-a1')}---\n${NS('from-a2')}`);
    await writeFile(join(dir, 'conf', 'c.json'), JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'from-c' } }));
    await writeFile(join(dir, 'conf', 'notes.txt'), 'not config');
    await writeFile(join(dir, 'conf', 'nested', 'z.yaml'), NS('nested'));
    await writeFile(join(dir, 'single.yaml'), NS('single'));
    await writeFile(join(dir, 'dup.yaml'), NS('from-b'));
    await writeFile(join(dir, 'broken.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata: {name: Broken}\n');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('directories contribute .yaml/.yml/.json files in name order, not recursively; files as given', async () => {
    const got = await loadFiles([join(dir, 'conf'), join(dir, 'single.yaml')]);
    assert.deepEqual(
      got.map((r) => r.metadata.name),
      ['from-a1', 'from-a2', 'from-b', 'from-c', 'single'],
    );
  });

  test('a resource in two files is rejected, naming both places', async () => {
    await assert.rejects(loadFiles([join(dir, 'conf'), join(dir, 'dup.yaml')]), {
      code: 'CONFIG_INVALID',
      message: `Cannot apply Namespace "from-b" (${join(dir, 'dup.yaml')}, document 1): defined twice (also ${join(dir, 'conf', 'b.yml')}, document 1)`,
    });
  });

  test('validation errors name the file', async () => {
    await assert.rejects(loadFiles([join(dir, 'broken.yaml')]), {
      code: 'CONFIG_INVALID',
      message: `Cannot apply Namespace "Broken" (${join(dir, 'broken.yaml')}, document 1): metadata.name: must be a DNS label: at most 63 lower-case letters, digits and "-", starting and ending with a letter or digit, got "Broken"`,
    });
  });

  test('a missing path is CONFIG_READ_FAILED', async () => {
    const missing = join(dir, 'nope.yaml');
    await assert.rejects(loadFiles([missing]), {
      code: 'CONFIG_READ_FAILED',
      message: `Cannot read configuration ${JSON.stringify(missing)}: no such file or directory`,
    });
  });
});
