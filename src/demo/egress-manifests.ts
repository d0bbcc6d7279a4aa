// The egress chapter's world, as a user would write it: internet hosts for the lab file, and the
// mesh resources (REGISTRY_ONLY, ServiceEntries, TLS origination, per-source policy). Shared by
// `ambit demo` and the egress end-to-end tests, so the demo shows exactly what the tests prove.

/** Internet hosts, all inside the lab's internet namespace (TEST-NET-3 addresses, lab DNS names). */
export const HOSTS = {
  api: { name: 'api.example.com', address: '203.0.113.10' },
  foo: { name: 'service1.foo.example', address: '203.0.113.11' },
  bar: { name: 'service1.bar.example', address: '203.0.113.12' },
  other: { name: 'other.example.net', address: '203.0.113.13' },
  /** Serves a certificate for api.example.com at an address api.example.com does not resolve to. */
  decoy: { name: 'decoy.example.org', address: '203.0.113.14' },
} as const;

export function labFile(name: string): string {
  return [
    'apiVersion: ambit.dev/v1alpha1',
    'kind: Lab',
    `metadata: { name: ${name} }`,
    'spec:',
    '  nodes: 2',
    '  internet:',
    '    hosts:',
    `      - { names: [${HOSTS.api.name}], address: ${HOSTS.api.address}, ports: [{ port: 443, protocol: HTTPS }, { port: 80, protocol: HTTP }, { port: 7000, protocol: TCP }] }`,
    `      - { names: [${HOSTS.foo.name}], address: ${HOSTS.foo.address} }`,
    `      - { names: [${HOSTS.bar.name}], address: ${HOSTS.bar.address} }`,
    `      - { names: [${HOSTS.other.name}], address: ${HOSTS.other.address} }`,
    `      - { names: [${HOSTS.decoy.name}], address: ${HOSTS.decoy.address}, certificate: { names: [${HOSTS.api.name}] } }`,
    '',
  ].join('\n');
}

const TD = 'cluster.local';
export const principal = (sa: string): string => `spiffe://${TD}/ns/default/sa/${sa}`;

export function sleeper(name: string, node: string, sa: string): string {
  return `apiVersion: v1\nkind: Pod\nmetadata: { name: ${name}, namespace: default }\nspec:\n  nodeName: ${node}\n  serviceAccountName: ${sa}\n  containers:\n    - { name: main, command: [sleep, infinity] }\n`;
}

/** Closed by default, three registered host patterns, origination for api.example.com, per-source policy. */
export function egressConfig(publicCaPath: string): string {
  return [
    'apiVersion: ambit.dev/v1alpha1',
    'kind: MeshConfig',
    'metadata: { name: mesh }',
    'spec:',
    '  outboundTrafficPolicy: { mode: REGISTRY_ONLY }',
    '---',
    'apiVersion: networking.istio.io/v1',
    'kind: ServiceEntry',
    'metadata: { name: api, namespace: default }',
    'spec:',
    `  hosts: [${HOSTS.api.name}]`,
    '  ports:',
    '    - { number: 443, name: https, protocol: TLS }',
    '    - { number: 80, name: http, protocol: HTTP, targetPort: 443 }',
    '  resolution: DNS',
    '---',
    'apiVersion: networking.istio.io/v1',
    'kind: ServiceEntry',
    'metadata: { name: partners, namespace: default }',
    'spec:',
    '  hosts: ["*.foo.example", "*.bar.example"]',
    '  ports: [{ number: 443, name: https, protocol: TLS }]',
    '  resolution: DNS',
    '---',
    'apiVersion: networking.istio.io/v1',
    'kind: DestinationRule',
    'metadata: { name: api-tls, namespace: default }',
    'spec:',
    `  host: ${HOSTS.api.name}`,
    `  trafficPolicy: { tls: { mode: SIMPLE, caCertificates: ${publicCaPath} } }`,
    '---',
    'apiVersion: security.istio.io/v1',
    'kind: AuthorizationPolicy',
    'metadata: { name: egress, namespace: ambit-system }',
    'spec:',
    '  selector: { matchLabels: { app: egress-gateway } }',
    '  action: ALLOW',
    '  rules:',
    `    - from: [{ source: { principals: ["${TD}/ns/default/sa/app-a"] } }]`,
    `      to: [{ operation: { hosts: ["*.foo.example", "${HOSTS.api.name}"] } }]`,
    `    - from: [{ source: { principals: ["${TD}/ns/default/sa/app-b"] } }]`,
    `      to: [{ operation: { hosts: ["*.bar.example", "${HOSTS.api.name}"] } }]`,
    `    - from: [{ source: { principals: ["${TD}/ns/default/sa/attacker"] } }]`,
    `      to: [{ operation: { hosts: ["${HOSTS.api.name}"] } }]`,
    '',
  ].join('\n');
}

/**
 * An ICMP echo the pod's own user can send (a datagram ICMP socket, as unprivileged ping does;
 * the ping binary itself needs file capabilities that pods do not have). Exits 0 only on a reply.
 */
export function icmpProbe(address: string): string[] {
  const py = [
    'import socket, struct, sys',
    's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)',
    's.settimeout(1)',
    'try:',
    `    s.sendto(struct.pack("!BBHHH", 8, 0, 0, 0, 1) + b"ambit", ("${address}", 0))`,
    '    s.recvfrom(128)',
    '    print("reply")',
    'except Exception as e:',
    '    print("no reply:", e)',
    '    sys.exit(1)',
  ].join('\n');
  return ['python3', '-c', py];
}
