// Good documents of every kind parse to the expected normalised domain object (defaults filled,
// old apiVersions rewritten), and parsing the result again gives the same object.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDocuments, parseResource, type Resource } from '../../../src/config/index.js';

function roundTrip(yaml: string, expected: Resource): void {
  const [got, ...rest] = parseDocuments(yaml, 'good.yaml');
  assert.equal(rest.length, 0);
  assert.deepEqual(got, expected);
  // Idempotent: the admin API re-validates stored objects with parseResource.
  assert.deepEqual(parseResource(JSON.parse(JSON.stringify(got)), 're-parse'), expected);
}

const meta = (name: string, namespace?: string, labels: Record<string, string> = {}, annotations: Record<string, string> = {}) =>
  namespace === undefined ? { name, labels, annotations } : { name, namespace, labels, annotations };

describe('good documents', () => {
  test('Namespace', () => {
    roundTrip('apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {team: a}\n', {
      kind: 'Namespace',
      apiVersion: 'v1',
      metadata: meta('shop', undefined, { team: 'a' }),
    });
  });

  test('Node with and without podCIDR', () => {
    roundTrip('apiVersion: v1\nkind: Node\nmetadata: {name: node-1}\nspec: {podCIDR: 10.244.1.0/24}\n', {
      kind: 'Node',
      apiVersion: 'v1',
      metadata: meta('node-1'),
      spec: { podCIDR: '10.244.1.0/24' },
    });
    roundTrip('apiVersion: v1\nkind: Node\nmetadata: {name: node-2.lab}\n', { kind: 'Node', apiVersion: 'v1', metadata: meta('node-2.lab'), spec: {} });
  });

  test('ServiceAccount defaults its namespace', () => {
    roundTrip('apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: frontend}\n', {
      kind: 'ServiceAccount',
      apiVersion: 'v1',
      metadata: meta('frontend', 'default'),
    });
  });

  test('Pod: defaults, ignored server-set metadata, pod-ip annotation, foreign annotations kept', () => {
    const yaml = `
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  uid: 0d9c6d0e-1111-2222-3333-444455556666
  resourceVersion: "42"
  creationTimestamp: "2024-01-01T00:00:00Z"
  generation: 3
  labels: {app: web, example.com/tier: front, empty: ""}
  annotations: {ambit.dev/pod-ip: 10.244.1.7, example.com/note: "any text, even spaces"}
spec:
  nodeName: node-1
  containers:
  - name: app
    command: [/usr/bin/node, server.js]
    args: ["--port", "8080"]
    env: [{name: PORT, value: "8080"}, {name: EMPTY}]
  - name: sidecar-free
    command: [sleep, infinity]
`;
    roundTrip(yaml, {
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: meta('web', 'shop', { app: 'web', 'example.com/tier': 'front', empty: '' }, {
        'ambit.dev/pod-ip': '10.244.1.7',
        'example.com/note': 'any text, even spaces',
      }),
      spec: {
        nodeName: 'node-1',
        serviceAccountName: 'default',
        containers: [
          { name: 'app', command: ['/usr/bin/node', 'server.js'], args: ['--port', '8080'], env: [{ name: 'PORT', value: '8080' }, { name: 'EMPTY', value: '' }] },
          { name: 'sidecar-free', command: ['sleep', 'infinity'], args: [], env: [] },
        ],
      },
    });
  });

  test('Service: targetPort defaults to port, protocol to TCP', () => {
    const yaml = `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  clusterIP: 10.96.0.10
  ports:
  - {name: http, port: 80, targetPort: 8080}
  - {port: 53, protocol: UDP}
  - {port: 53}
`;
    roundTrip(yaml, {
      kind: 'Service',
      apiVersion: 'v1',
      metadata: meta('web', 'shop'),
      spec: {
        selector: { app: 'web' },
        clusterIP: '10.96.0.10',
        ports: [
          { name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' },
          { port: 53, targetPort: 53, protocol: 'UDP' },
          { port: 53, targetPort: 53, protocol: 'TCP' },
        ],
      },
    });
  });

  test('AuthorizationPolicy v1beta1: normalised apiVersion, ALLOW default, string ports to numbers', () => {
    const yaml = `
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: allow-frontend, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  rules:
  - from:
    - source:
        principals: [cluster.local/ns/shop/sa/frontend, "*/ns/shop/sa/admin", "cluster.local/ns/ops/*", "*"]
        notNamespaces: [kube-system, "team-*", "*-dev"]
    to:
    - operation:
        ports: ["8080", 9090]
        notPorts: [22]
        methods: [GET, POST]
        paths: [/api/*, /healthz, "*.png", "*"]
        hosts: [web.shop.svc.cluster.local, "*.example.com"]
  - {}
`;
    roundTrip(yaml, {
      kind: 'AuthorizationPolicy',
      apiVersion: 'security.istio.io/v1',
      metadata: meta('allow-frontend', 'shop'),
      spec: {
        selector: { matchLabels: { app: 'web' } },
        action: 'ALLOW',
        rules: [
          {
            from: [
              {
                source: {
                  principals: ['cluster.local/ns/shop/sa/frontend', '*/ns/shop/sa/admin', 'cluster.local/ns/ops/*', '*'],
                  notNamespaces: ['kube-system', 'team-*', '*-dev'],
                },
              },
            ],
            to: [
              {
                operation: {
                  ports: [8080, 9090],
                  notPorts: [22],
                  methods: ['GET', 'POST'],
                  paths: ['/api/*', '/healthz', '*.png', '*'],
                  hosts: ['web.shop.svc.cluster.local', '*.example.com'],
                },
              },
            ],
          },
          { from: [], to: [] },
        ],
      },
    });
  });

  test('AuthorizationPolicy with an empty spec is deny-all (ALLOW, no rules)', () => {
    roundTrip('apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: deny-all, namespace: ambit-system}\nspec: {}\n', {
      kind: 'AuthorizationPolicy',
      apiVersion: 'security.istio.io/v1',
      metadata: meta('deny-all', 'ambit-system'),
      spec: { action: 'ALLOW', rules: [] },
    });
  });

  test('PeerAuthentication', () => {
    roundTrip('apiVersion: security.istio.io/v1beta1\nkind: PeerAuthentication\nmetadata: {name: legacy}\nspec: {selector: {matchLabels: {app: old}}, mtls: {mode: PERMISSIVE}}\n', {
      kind: 'PeerAuthentication',
      apiVersion: 'security.istio.io/v1',
      metadata: meta('legacy', 'default'),
      spec: { selector: { matchLabels: { app: 'old' } }, mtls: { mode: 'PERMISSIVE' } },
    });
  });

  test('ServiceEntry v1alpha3: DNS resolution and MESH_EXTERNAL by default, *.com accepted', () => {
    const yaml = `
apiVersion: networking.istio.io/v1alpha3
kind: ServiceEntry
metadata: {name: external, namespace: egress}
spec:
  hosts: [api.example.com, "*.example.org", "*.com"]
  ports: [{number: 443, name: https, protocol: TLS}, {number: 80, name: http, protocol: HTTP, targetPort: 8080}]
`;
    roundTrip(yaml, {
      kind: 'ServiceEntry',
      apiVersion: 'networking.istio.io/v1',
      metadata: meta('external', 'egress'),
      spec: {
        hosts: ['api.example.com', '*.example.org', '*.com'],
        ports: [
          { number: 443, name: 'https', protocol: 'TLS' },
          { number: 80, name: 'http', protocol: 'HTTP', targetPort: 8080 },
        ],
        resolution: 'DNS',
        location: 'MESH_EXTERNAL',
        endpoints: [],
      },
    });
  });

  test('ServiceEntry STATIC with endpoints, and DNS with named endpoints', () => {
    roundTrip(
      'apiVersion: networking.istio.io/v1beta1\nkind: ServiceEntry\nmetadata: {name: db}\nspec: {hosts: [db.internal], location: MESH_EXTERNAL, resolution: STATIC, ports: [{number: 5432, name: pg, protocol: TCP}], endpoints: [{address: 10.1.0.5}]}\n',
      {
        kind: 'ServiceEntry',
        apiVersion: 'networking.istio.io/v1',
        metadata: meta('db', 'default'),
        spec: {
          hosts: ['db.internal'],
          ports: [{ number: 5432, name: 'pg', protocol: 'TCP' }],
          resolution: 'STATIC',
          location: 'MESH_EXTERNAL',
          endpoints: [{ address: '10.1.0.5' }],
        },
      },
    );
    const [se] = parseDocuments(
      'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: m}\nspec: {hosts: [a.example.com], endpoints: [{address: a-backend.example.net}], ports: [{number: 443, name: tls, protocol: TLS}]}\n',
      'x',
    );
    assert.deepEqual(se?.kind === 'ServiceEntry' && [se.spec.resolution, se.spec.endpoints], ['DNS', [{ address: 'a-backend.example.net' }]]);
  });

  test('MeshConfig: every field defaults; given fields kept', () => {
    roundTrip('apiVersion: ambit.dev/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\n', {
      kind: 'MeshConfig',
      apiVersion: 'ambit.dev/v1alpha1',
      metadata: meta('mesh'),
      spec: {
        trustDomain: 'cluster.local',
        // Egress closed by default (Istio's default would be ALLOW_ANY).
        outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' },
        certificateTTLSeconds: 86400,
        rootNamespace: 'ambit-system',
        serviceCIDR: '10.96.0.0/16',
        egressForbiddenUpstreams: [],
      },
    });
    roundTrip(
      'apiVersion: ambit.dev/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec: {trustDomain: corp.example_1, outboundTrafficPolicy: {mode: ALLOW_ANY}, certificateTTLSeconds: 3600, rootNamespace: mesh-root, serviceCIDR: 172.20.0.0/24, egressForbiddenUpstreams: [{cidr: 10.20.0.0/16, reason: corp network}, {cidr: 192.168.7.7/32}]}\n',
      {
        kind: 'MeshConfig',
        apiVersion: 'ambit.dev/v1alpha1',
        metadata: meta('mesh'),
        spec: {
          trustDomain: 'corp.example_1',
          outboundTrafficPolicy: { mode: 'ALLOW_ANY' },
          certificateTTLSeconds: 3600,
          rootNamespace: 'mesh-root',
          serviceCIDR: '172.20.0.0/24',
          egressForbiddenUpstreams: [{ cidr: '10.20.0.0/16', reason: 'corp network' }, { cidr: '192.168.7.7/32' }],
        },
      },
    );
  });

  test('a label key "__proto__"-like annotation never reaches the prototype', () => {
    assert.throws(
      () => parseResource({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a', annotations: JSON.parse('{"__proto__": "x"}') } }, 'w'),
      { code: 'CONFIG_INVALID', message: /metadata\.annotations\["__proto__"\]: key name must be/ },
    );
  });
});
