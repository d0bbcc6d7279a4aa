// The README points users at examples/: they must stay valid as the parser evolves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadFiles } from '../../../src/config/index.js';

test('every manifest in examples/ parses', async () => {
  const dir = fileURLToPath(new URL('../../../../examples/', import.meta.url));
  const resources = await loadFiles([dir]);
  assert.deepEqual(resources.map((r) => `${r.kind}/${r.metadata.name}`), ['Pod/echo', 'Service/echo', 'Pod/client', 'AuthorizationPolicy/echo-allow-client']);
});

test('examples/egress/lab.yaml is a lab file whose resources parse', async () => {
  const { parseLabFile } = await import('../../../src/lab/index.js');
  const { parseDocuments } = await import('../../../src/config/index.js');
  const { readFileSync } = await import('node:fs');
  const path = fileURLToPath(new URL('../../../../examples/egress/lab.yaml', import.meta.url));
  const file = parseLabFile(readFileSync(path, 'utf8'), path);
  assert.equal(file.name, 'egress');
  assert.deepEqual(file.spec.internet.hosts.map((h) => h.names[0]), ['api.example.com', 'blocked.example.net']);
  assert.deepEqual(parseDocuments(file.resourcesText, path).map((r) => `${r.kind}/${r.metadata.name}`), ['MeshConfig/mesh', 'ServiceEntry/api', 'DestinationRule/api-tls', 'AuthorizationPolicy/egress', 'Pod/app']);
});
