// Bad requests on the admin socket of the real `ambit control-plane` process, one per case. Each
// is refused with its status and the offending field named, nothing is stored, and the control
// plane keeps serving. Before the request checks (src/controlplane/admin-requests.ts) several of
// these did something else: `resources: {}` was a 500 (a TypeError inside apply), `paused: "yes"`
// resumed delivery, a pod-status without a name looked up pod "undefined", and `?from=abc`
// watched from 0.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { statSync } from 'node:fs';
import { ControlPlaneProcess } from '../../src/testing/control-plane-process.js';
import { applyShopWeb } from './shop-fixture.js';
import { MAX_BODY } from '../../src/controlplane/admin-server.js';

let cp: ControlPlaneProcess;

before(async () => {
  cp = await ControlPlaneProcess.start();
  await applyShopWeb(cp);
});
after(async () => { await cp?.stop(); });

interface Answer { status: number; headers: http.IncomingHttpHeaders; body: { error?: { code: string; message: string; path?: string } } & Record<string, unknown> }

function call(method: string, path: string, body?: string, headers: Record<string, string | number> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: cp.adminSocket, method, path, headers: body === undefined ? headers : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(Buffer.concat(chunks).toString() || '{}') as Answer['body'] }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('the admin socket is owner-only (0600)', () => {
  assert.equal(statSync(cp.adminSocket).mode & 0o777, 0o600);
});

const CASES: [what: string, method: string, path: string, body: unknown, status: number, code: string, message: RegExp, errPath?: string][] = [
  ['apply with resources that are not a list', 'POST', '/v1/apply', { resources: {} }, 400, 'REQUEST_INVALID', /^Cannot serve POST \/v1\/apply: resources: must be a list, got \{\}$/, 'resources'],
  ['apply with a field too many', 'POST', '/v1/apply', { resources: [], dryRun: true }, 400, 'REQUEST_INVALID', /dryRun: unknown field/, 'dryRun'],
  ['a body that is a list', 'POST', '/v1/apply', [], 400, 'REQUEST_INVALID', /body: must be a mapping, got \[\]/, 'body'],
  ['delete of a kind ambit does not know', 'POST', '/v1/delete', { refs: [{ kind: 'pods', name: 'web', namespace: 'shop' }] }, 400, 'REQUEST_INVALID', /refs\[0\]\.kind: must be one of .*Pod.*, got "pods"/, 'refs[0].kind'],
  ['delete without a name', 'POST', '/v1/delete', { refs: [{ kind: 'Pod', namespace: 'shop' }] }, 400, 'REQUEST_INVALID', /refs\[0\]\.name: required/, 'refs[0].name'],
  ['pod status without a name', 'POST', '/v1/pod-status', { namespace: 'shop', status: { podIP: '10.44.0.9' } }, 400, 'REQUEST_INVALID', /^Cannot serve POST \/v1\/pod-status: name: required$/, 'name'],
  ['pod status with a field the status does not have', 'POST', '/v1/pod-status', { namespace: 'shop', name: 'web', status: { podIP: '10.44.0.9', hostNetwork: true } }, 400, 'REQUEST_INVALID', /status\.hostNetwork: unknown field/, 'status.hostNetwork'],
  ['pod status with a phase that is not one', 'POST', '/v1/pod-status', { namespace: 'shop', name: 'web', status: { phase: 'Done' } }, 400, 'REQUEST_INVALID', /status\.phase: must be one of Pending, Running, Failed, got "Done"/, 'status.phase'],
  ['pause-delivery for a node name that is not one (a typo on resume left the real node paused, answered ok)', 'POST', '/v1/faults/pause-delivery', { node: 'Node-1', paused: false }, 400, 'NODE_NAME_INVALID', /^Cannot resume delivery: "Node-1" is not a valid node name$/, 'node'],
  ['pause-delivery with "yes" for true', 'POST', '/v1/faults/pause-delivery', { node: 'node-1', paused: 'yes' }, 400, 'REQUEST_INVALID', /paused: must be true or false, got "yes"/, 'paused'],
  ['a node credential with a TTL that is a string', 'POST', '/v1/node-tokens', { node: 'node-1', ttlSeconds: '3600' }, 400, 'REQUEST_INVALID', /ttlSeconds: must be a number, got "3600"/, 'ttlSeconds'],
  ['a node credential with an audience field', 'POST', '/v1/node-tokens', { node: 'node-1', ttlSeconds: 3600, audience: 'any' }, 400, 'REQUEST_INVALID', /audience: unknown field/, 'audience'],
  ['a node revocation whose node is a number', 'POST', '/v1/node-revocations', { node: 7 }, 400, 'REQUEST_INVALID', /node: must be a string, got 7/, 'node'],
  ['a credential revocation whose credential is a number', 'POST', '/v1/node-revocations', { node: 'node-1', credential: 5 }, 400, 'REQUEST_INVALID', /credential: must be a string, got 5/, 'credential'],
  ['a credential revocation whose credential is empty', 'POST', '/v1/node-revocations', { node: 'node-1', credential: '' }, 400, 'NODE_REVOCATION_INVALID', /Cannot revoke a credential of node "node-1": "" is not a credential ID/, 'credential'],
  ['a workload credential without its identity', 'POST', '/v1/workload-tokens', { node: 'node-1', ttlSeconds: 3600 }, 400, 'REQUEST_INVALID', /identity: required/, 'identity'],
  ['a watch from a revision that is not a number', 'GET', '/v1/watch?from=abc', undefined, 400, 'REQUEST_INVALID', /query\.from: must be a store revision \(a whole number, 0 or more\), got "abc"/, 'query.from'],
  ['a credential list with an empty node', 'GET', '/v1/credentials?node=', undefined, 400, 'REQUEST_INVALID', /query\.node: must not be empty/, 'query.node'],
  ['a credential list with a parameter it does not take', 'GET', '/v1/credentials?kind=node', undefined, 400, 'REQUEST_INVALID', /query\.kind: unknown parameter \(known: node\)/, 'query.kind'],
  ['a list without a kind', 'GET', '/v1/resources?namespace=shop', undefined, 400, 'REQUEST_INVALID', /query\.kind: required/, 'query.kind'],
  ['a list with a parameter it does not take', 'GET', '/v1/resources?kind=Pod&labelSelector=app%3Dweb', undefined, 400, 'REQUEST_INVALID', /query\.labelSelector: unknown parameter \(known: kind, namespace, name\)/, 'query.labelSelector'],
  ['a parameter given twice', 'GET', '/v1/resources?kind=Pod&kind=Service', undefined, 400, 'REQUEST_INVALID', /query\.kind: given more than once/, 'query.kind'],
  ['status with a parameter', 'GET', '/v1/status?verbose=1', undefined, 400, 'REQUEST_INVALID', /query\.verbose: unknown parameter \(this route takes none\)/, 'query.verbose'],
  ['a wrong method on a real route', 'DELETE', '/v1/apply', undefined, 405, 'METHOD_NOT_ALLOWED', /^Cannot serve DELETE \/v1\/apply: \/v1\/apply takes POST$/],
  ['a route that does not exist', 'GET', '/v1/secrets', undefined, 404, 'NOT_FOUND', /^Cannot serve GET \/v1\/secrets: no such admin API route \(routes: POST \/v1\/apply, .*GET \/v1\/watch\)$/],
];

for (const [what, method, path, body, status, code, message, errPath] of CASES) {
  test(`refused: ${what}`, async () => {
    const a = await call(method, path, body === undefined ? undefined : JSON.stringify(body));
    assert.equal(a.status, status, JSON.stringify(a.body));
    assert.equal(a.body.error?.code, code);
    assert.match(a.body.error?.message ?? '', message);
    assert.equal(a.body.error?.path, errPath);
    if (status === 405) assert.equal(a.headers.allow, 'POST');
  });
}

test('refused: a key given twice in one object (JSON.parse keeps the last: a DENY read as ALLOW), naming where', async () => {
  const doc = '{"resources":[{"apiVersion":"security.istio.io/v1","kind":"AuthorizationPolicy","metadata":{"name":"p","namespace":"shop"},"spec":{"action":"DENY","action":"ALLOW"}}]}';
  const a = await call('POST', '/v1/apply', doc);
  assert.equal(a.status, 400);
  assert.equal(a.body.error?.code, 'REQUEST_INVALID');
  assert.equal(a.body.error?.message, 'Cannot read the request: resources[0].spec.action: key given more than once');
  assert.equal(a.body.error?.path, 'resources[0].spec.action');
  assert.deepEqual(await cp.admin.get('AuthorizationPolicy', { namespace: 'shop' }), [], 'nothing applied');
});

test('refused: a body that is not JSON, naming the parse error', async () => {
  const a = await call('POST', '/v1/apply', '{"resources": [');
  assert.equal(a.status, 400);
  assert.equal(a.body.error?.code, 'REQUEST_INVALID');
  assert.match(a.body.error?.message ?? '', /^Cannot read the request: the body is not JSON \(.+\)$/);
});

test(`refused: a body declared over ${MAX_BODY} bytes gets 413 before it is read`, async () => {
  const a = await new Promise<Answer>((resolve, reject) => {
    const req = http.request({ socketPath: cp.adminSocket, method: 'POST', path: '/v1/apply', headers: { 'content-type': 'application/json', 'content-length': MAX_BODY + 1 } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(Buffer.concat(chunks).toString()) as Answer['body'] });
        req.destroy();
      });
    });
    req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || (err as NodeJS.ErrnoException).code === 'EPIPE' ? undefined : reject(err)));
    req.write('{"resources": [');
  });
  assert.equal(a.status, 413);
  assert.equal(a.body.error?.code, 'REQUEST_TOO_LARGE');
});

test('after every bad request nothing was stored and the control plane serves as before', async () => {
  const [pod] = await cp.admin.get('Pod', { namespace: 'shop', name: 'web' });
  assert.equal((pod as { status?: unknown }).status, undefined, 'no pod status was written');
  const status = await cp.admin.status();
  assert.equal(status.resources.Pod, 1);
  assert.ok(status.storeRevision >= 1);
  // A good request of each refused shape still works.
  await cp.admin.setPodStatus('shop', 'web', { podIP: '10.44.0.9', phase: 'Running' });
  assert.deepEqual(((await cp.admin.get('Pod', { namespace: 'shop', name: 'web' }))[0] as { status?: unknown }).status, { podIP: '10.44.0.9', phase: 'Running' });
  await cp.admin.pauseDelivery('node-1', false);
  assert.match(await cp.admin.issueNodeToken('node-1', 3600), /\./);
});
