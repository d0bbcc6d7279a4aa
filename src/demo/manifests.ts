// The demo's workloads, as the YAML a user would write.
/** A Pod manifest with one container, as a user would write it (also used by the mesh tests). */
export const podManifest = (name: string, node: string, sa: string, command: string[], labels: Record<string, string> = {}, annotations: Record<string, string> = {}): string =>
  `apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: default, labels: ${JSON.stringify(labels)}, annotations: ${JSON.stringify(annotations)} }
spec:
  nodeName: ${node}
  serviceAccountName: ${sa}
  containers: [{ name: main, command: ${JSON.stringify(command)} }]
`;

export function demoManifests(): string {
  return [
    podManifest('web', 'node-2', 'web', ['ambit', 'app', 'echo', '--port', '8080'], { app: 'web' }),
    podManifest('client', 'node-1', 'client', ['sleep', 'infinity']),
    podManifest('other', 'node-1', 'other', ['sleep', 'infinity']),
    'apiVersion: v1\nkind: Service\nmetadata: { name: web, namespace: default }\nspec:\n  selector: { app: web }\n  ports: [{ port: 80, targetPort: 8080 }]\n',
  ].join('---\n');
}

export function allowOnly(principals: string[]): string {
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: web-allow, namespace: default }
spec:
  selector: { matchLabels: { app: web } }
  action: ALLOW
  rules:
    - from: [{ source: { principals: ${JSON.stringify(principals)} } }]
`;
}

export function intruderPod(ip: string): string {
  return podManifest('intruder', 'node-1', 'intruder', ['sleep', 'infinity'], {}, { 'ambit.dev/pod-ip': ip });
}
