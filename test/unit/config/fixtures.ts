// Shared good documents and assertion helpers for the config tests (plain data, no test doubles).
import assert from 'node:assert/strict';
import { AmbitError } from '../../../src/errors.js';
import { parseResource } from '../../../src/config/index.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Doc = any;

export const WHERE = 'file.yaml, document 2';

export const pod = (): Doc => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'shop', labels: { app: 'web' } },
  spec: {
    nodeName: 'node-1',
    containers: [{ name: 'app', command: ['/usr/bin/node', 'server.js'] }],
  },
});

export const service = (): Doc => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web' },
  spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
});

export const authz = (): Doc => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'AuthorizationPolicy',
  metadata: { name: 'allow-web', namespace: 'shop' },
  spec: {
    rules: [
      {
        from: [{ source: { principals: ['cluster.local/ns/shop/sa/frontend'] } }],
        to: [{ operation: { ports: [8080] } }],
      },
    ],
  },
});

export const peerAuthn = (): Doc => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'PeerAuthentication',
  metadata: { name: 'strict' },
  spec: { mtls: { mode: 'STRICT' } },
});

export const serviceEntry = (): Doc => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'ServiceEntry',
  metadata: { name: 'api' },
  spec: { hosts: ['api.example.com'], ports: [{ number: 443, name: 'https', protocol: 'TLS' }] },
});

export const meshConfig = (): Doc => ({
  apiVersion: 'ambit.dev/v1alpha1',
  kind: 'MeshConfig',
  metadata: { name: 'mesh' },
  spec: {},
});

export const namespace = (): Doc => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
export const node = (): Doc => ({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1' }, spec: { podCIDR: '10.244.1.0/24' } });

/** A copy of `base()` changed by `change`. */
export function edit(base: () => Doc, change: (d: Doc) => void): Doc {
  const d = base();
  change(d);
  return d;
}

/** Asserts that parseResource rejects `doc` with CONFIG_INVALID and exactly `message`. */
export function assertInvalid(doc: unknown, message: string): void {
  assert.throws(
    () => parseResource(doc, WHERE),
    (err: unknown) => {
      assert.ok(err instanceof AmbitError, `expected AmbitError, got ${String(err)}`);
      assert.equal(err.message, message);
      assert.equal(err.code, 'CONFIG_INVALID');
      return true;
    },
  );
}

export interface BadCase {
  name: string;
  doc: Doc;
  /** Everything after "Cannot apply <label> (<where>): ". */
  error: string;
}

export function runBadCases(
  t: (name: string, fn: () => void) => unknown,
  label: string,
  cases: BadCase[],
): void {
  for (const c of cases) {
    t(c.name, () => assertInvalid(c.doc, `Cannot apply ${label} (${WHERE}): ${c.error}`));
  }
}
