// The lean AsyncResource#bind (src/runtime/async-bind.ts) behaves as Node's own, minus the
// deprecated `asyncResource` property: same async scope (AsyncLocalStorage sees the resource's
// context), same `this`, arguments and `length`, Node's error for a non-function; and http2 over
// a real loopback TLS-less session still works with it installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { AsyncLocalStorage, AsyncResource, executionAsyncId } from 'node:async_hooks';
import { bindAddsAsyncResource, installLeanAsyncBind } from '../../../src/runtime/index.js';

test('installed on Node 20, bound functions run in the resource scope without the deprecated property', async () => {
  const adds = bindAddsAsyncResource();
  assert.equal(installLeanAsyncBind(), adds, 'installs exactly where the runtime still adds the property');
  assert.equal(installLeanAsyncBind(), adds, 'idempotent');
  assert.equal(bindAddsAsyncResource(), false);

  const als = new AsyncLocalStorage<string>();
  const resource = als.run('the resource context', () => new AsyncResource('Test'));
  const unbound = function (this: unknown, a: number, b: number): [unknown, string | undefined, number, number] {
    return [this, als.getStore(), a + b, executionAsyncId()];
  };
  const bound = resource.bind(unbound);
  const [self, store, sum, id] = als.run('the caller context', () => bound.call('me', 2, 3));
  assert.equal(String(self), 'me');
  assert.equal(store, 'the resource context');
  assert.equal(sum, 5);
  assert.equal(id, resource.asyncId());
  assert.equal(bound.length, 2);
  assert.equal(Object.prototype.hasOwnProperty.call(bound, 'asyncResource'), false);

  const withThis = Reflect.apply(resource.bind, resource, [function (this: unknown) { return this; }, 'fixed']) as () => unknown;
  assert.equal(String(withThis.call('ignored')), 'fixed');
  assert.equal(AsyncResource.bind((x: number) => x * 2)(21), 42, 'the static bind goes through the same method');
  assert.throws(() => resource.bind(5 as unknown as () => void), { code: 'ERR_INVALID_ARG_TYPE' });
});

test('http2 requests (which bind once per stream) still work with it installed', async () => {
  installLeanAsyncBind();
  const server = http2.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const session = http2.connect(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
  try {
    for (let i = 0; i < 20; i++) {
      const body = await new Promise<string>((resolve, reject) => {
        const req = session.request({ ':path': '/' });
        let data = '';
        req.setEncoding('utf8');
        req.on('data', (c: string) => (data += c));
        req.on('end', () => resolve(data));
        req.on('error', reject);
        req.end();
      });
      assert.equal(body, 'ok');
    }
  } finally {
    session.close();
    server.close();
  }
});
