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
