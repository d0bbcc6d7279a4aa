// Table tests: every rejected input of the core kinds (Pod, Service, Namespace, Node), with the
// exact message, because the messages are part of the product.
import { describe, test } from 'node:test';
import { edit, namespace, node, pod, runBadCases, service } from './fixtures.js';

const LABEL_RULE = 'must be a DNS label: at most 63 lower-case letters, digits and "-", starting and ending with a letter or digit';

describe('kind and apiVersion', () => {
  runBadCases(test, 'resource', [
    { name: 'not a mapping', doc: ['a'], error: 'a resource must be a mapping with apiVersion, kind and metadata, got ["a"]' },
    { name: 'null document', doc: null, error: 'a resource must be a mapping with apiVersion, kind and metadata, got null' },
  ]);
  // Without a known kind the message still names the object.
  runBadCases(test, 'resource "web"', [
    { name: 'missing kind', doc: edit(pod, (d) => delete d.kind), error: 'kind: required' },
    { name: 'kind not a string', doc: edit(pod, (d) => (d.kind = 5)), error: 'kind: must be a string, got 5' },
    {
      name: 'unknown kind',
      doc: edit(pod, (d) => (d.kind = 'Deployment')),
      error:
        'kind: unknown kind "Deployment"; ambit supports Namespace, Node, ServiceAccount, Pod, Service, AuthorizationPolicy, PeerAuthentication, ServiceEntry, DestinationRule, MeshConfig',
    },
  ]);
  runBadCases(test, 'Pod "shop/web"', [
    { name: 'wrong apiVersion', doc: edit(pod, (d) => (d.apiVersion = 'apps/v1')), error: 'apiVersion: must be "v1" for Pod, got "apps/v1"' },
    { name: 'missing apiVersion', doc: edit(pod, (d) => delete d.apiVersion), error: 'apiVersion: required' },
    { name: 'status is set by the control plane', doc: edit(pod, (d) => (d.status = { podIP: '10.0.0.1' })), error: 'status: set by the control plane; remove it' },
    { name: 'unknown top-level field', doc: edit(pod, (d) => (d.extra = 1)), error: 'extra: unknown field' },
  ]);
  runBadCases(test, 'AuthorizationPolicy "default/p"', [
    {
      name: 'Istio kind with a core apiVersion',
      doc: { apiVersion: 'v1', kind: 'AuthorizationPolicy', metadata: { name: 'p' }, spec: {} },
      error: 'apiVersion: must be "security.istio.io/v1" for AuthorizationPolicy (also accepted: "security.istio.io/v1beta1"), got "v1"',
    },
  ]);
});

describe('metadata', () => {
  runBadCases(test, 'Pod', [
    { name: 'missing metadata', doc: edit(pod, (d) => delete d.metadata), error: 'metadata: required' },
    { name: 'missing name', doc: edit(pod, (d) => delete d.metadata.name), error: 'metadata.name: required' },
  ]);
  runBadCases(test, 'Pod "shop/Web"', [
    { name: 'upper-case name', doc: edit(pod, (d) => (d.metadata.name = 'Web')), error: `metadata.name: ${LABEL_RULE}, got "Web"` },
  ]);
  const long = 'a'.repeat(64);
  runBadCases(test, `Pod "shop/${long}"`, [
    { name: '64-character pod name', doc: edit(pod, (d) => (d.metadata.name = long)), error: `metadata.name: ${LABEL_RULE}, got "${long}"` },
  ]);
  runBadCases(test, 'Pod "shop/web"', [
    {
      name: 'generateName',
      doc: edit(pod, (d) => (d.metadata.generateName = 'web-')),
      error: 'metadata.generateName: not supported by ambit: give every object an explicit metadata.name',
    },
    { name: 'unknown metadata field', doc: edit(pod, (d) => (d.metadata.labelz = {})), error: 'metadata.labelz: unknown field' },
    {
      name: 'label value not a string',
      doc: edit(pod, (d) => (d.metadata.labels = { replicas: 5 })),
      error: 'metadata.labels["replicas"]: must be a string, got 5',
    },
    {
      name: 'label value starting with "-"',
      doc: edit(pod, (d) => (d.metadata.labels = { app: '-web' })),
      error: 'metadata.labels["app"]: must be at most 63 characters of letters, digits, "-", "_" and ".", starting and ending with a letter or digit, got "-web"',
    },
    {
      name: 'label value of 64 characters',
      doc: edit(pod, (d) => (d.metadata.labels = { app: 'x'.repeat(64) })),
      error: `metadata.labels["app"]: must be at most 63 characters of letters, digits, "-", "_" and ".", starting and ending with a letter or digit, got "${'x'.repeat(64)}"`,
    },
    {
      name: 'label key with a space',
      doc: edit(pod, (d) => (d.metadata.labels = { 'my app': 'web' })),
      error: 'metadata.labels["my app"]: key name must be 1-63 characters of letters, digits, "-", "_" and ".", starting and ending with a letter or digit (optionally after a "prefix/")',
    },
    {
      name: 'label key with a bad prefix',
      doc: edit(pod, (d) => (d.metadata.labels = { 'Example.com/app': 'web' })),
      error: 'metadata.labels["Example.com/app"]: key prefix (before "/") must be a DNS subdomain such as "example.com"',
    },
    { name: 'labels as a list', doc: edit(pod, (d) => (d.metadata.labels = ['app'])), error: 'metadata.labels: must be a mapping, got ["app"]' },
    {
      name: 'unknown ambit annotation',
      doc: edit(pod, (d) => (d.metadata.annotations = { 'ambit.dev/pod-ipp': '10.0.0.1' })),
      error: 'metadata.annotations["ambit.dev/pod-ipp"]: unknown ambit annotation; ambit reads only ambit.dev/pod-ip',
    },
    {
      name: 'pod-ip annotation that is no IPv4 address',
      doc: edit(pod, (d) => (d.metadata.annotations = { 'ambit.dev/pod-ip': '10.0.0.300' })),
      error: 'metadata.annotations["ambit.dev/pod-ip"]: must be an IPv4 address of four decimal octets from 0 to 255 without leading zeros, got "10.0.0.300"',
    },
    {
      name: 'annotation value not a string',
      doc: edit(pod, (d) => (d.metadata.annotations = { 'example.com/team': true })),
      error: 'metadata.annotations["example.com/team"]: must be a string, got true',
    },
  ]);
  runBadCases(test, 'Pod "Shop/web"', [
    { name: 'bad namespace', doc: edit(pod, (d) => (d.metadata.namespace = 'Shop')), error: `metadata.namespace: ${LABEL_RULE}, got "Shop"` },
  ]);
  runBadCases(test, 'Service "default/web"', [
    {
      name: 'pod-ip annotation on a Service',
      doc: edit(service, (d) => (d.metadata.annotations = { 'ambit.dev/pod-ip': '10.0.0.1' })),
      error: 'metadata.annotations["ambit.dev/pod-ip"]: only meaningful on a Pod',
    },
  ]);
  runBadCases(test, 'Namespace "shop"', [
    {
      name: 'cluster-scoped kind with a namespace',
      doc: edit(namespace, (d) => (d.metadata.namespace = 'default')),
      error: 'metadata.namespace: must be absent: Namespace is cluster-scoped',
    },
    { name: 'Namespace has no spec', doc: edit(namespace, (d) => (d.spec = {})), error: 'spec: unknown field' },
  ]);
  runBadCases(test, 'Namespace "a.b"', [
    { name: 'dotted namespace name', doc: edit(namespace, (d) => (d.metadata.name = 'a.b')), error: `metadata.name: ${LABEL_RULE}, got "a.b"` },
  ]);
  runBadCases(test, 'Node "node-1"', [
    {
      name: 'podCIDR with host bits set',
      doc: edit(node, (d) => (d.spec.podCIDR = '10.244.1.1/24')),
      error: 'spec.podCIDR: must have no host bits set (did you mean "10.244.1.0/24"?), got "10.244.1.1/24"',
    },
    { name: 'podCIDR not a CIDR', doc: edit(node, (d) => (d.spec.podCIDR = '10.244.1.0')), error: 'spec.podCIDR: must be an IPv4 CIDR like "10.96.0.0/16", got "10.244.1.0"' },
    { name: 'node taints', doc: edit(node, (d) => (d.spec.taints = [])), error: 'spec.taints: not supported by ambit' },
    { name: 'an address that is not IPv4', doc: edit(node, (d) => (d.spec.addresses = ['172.30.0.11', 'fe80::1'])), error: 'spec.addresses[1]: must be an IPv4 address of four decimal octets, like "10.0.0.1", got "fe80::1"' },
    { name: 'an address twice', doc: edit(node, (d) => (d.spec.addresses = ['172.30.0.11', '172.30.0.11'])), error: 'spec.addresses[1]: duplicate address 172.30.0.11 (also spec.addresses[0])' },
    { name: 'addresses not a list', doc: edit(node, (d) => (d.spec.addresses = '172.30.0.11')), error: 'spec.addresses: must be a list, got "172.30.0.11"' },
  ]);
  runBadCases(test, 'Node "Node_1"', [
    {
      name: 'node name with "_"',
      doc: edit(node, (d) => (d.metadata.name = 'Node_1')),
      error: 'metadata.name: must be a DNS subdomain: at most 253 lower-case letters, digits, "-" and ".", each part starting and ending with a letter or digit, got "Node_1"',
    },
  ]);
});

describe('Pod', () => {
  runBadCases(test, 'Pod "shop/web"', [
    { name: 'missing spec', doc: edit(pod, (d) => delete d.spec), error: 'spec: required' },
    { name: 'spec as a list', doc: edit(pod, (d) => (d.spec = [])), error: 'spec: must be a mapping, got []' },
    { name: 'missing nodeName', doc: edit(pod, (d) => delete d.spec.nodeName), error: 'spec.nodeName: required' },
    { name: 'nodeName not a string', doc: edit(pod, (d) => (d.spec.nodeName = 1)), error: 'spec.nodeName: must be a string, got 1' },
    {
      name: 'serviceAccount instead of serviceAccountName',
      doc: edit(pod, (d) => (d.spec.serviceAccount = 'web')),
      error: 'spec.serviceAccount: not supported by ambit: use serviceAccountName',
    },
    { name: 'no containers', doc: edit(pod, (d) => (d.spec.containers = [])), error: 'spec.containers: must list at least one container' },
    { name: 'missing containers', doc: edit(pod, (d) => delete d.spec.containers), error: 'spec.containers: required' },
    {
      name: 'container image',
      doc: edit(pod, (d) => (d.spec.containers[0].image = 'nginx')),
      error: 'spec.containers[0].image: not supported by ambit: containers run as local processes from "command" and "args"',
    },
    { name: 'missing command', doc: edit(pod, (d) => delete d.spec.containers[0].command), error: 'spec.containers[0].command: required' },
    {
      name: 'empty command',
      doc: edit(pod, (d) => (d.spec.containers[0].command = [])),
      error: 'spec.containers[0].command: must not be empty: give the program to run',
    },
    {
      name: 'command as a string',
      doc: edit(pod, (d) => (d.spec.containers[0].command = 'sleep 1')),
      error: 'spec.containers[0].command: must be a list, got "sleep 1"',
    },
    { name: 'command item not a string', doc: edit(pod, (d) => (d.spec.containers[0].command = ['sleep', 1])), error: 'spec.containers[0].command[1]: must be a string, got 1' },
    { name: 'empty program', doc: edit(pod, (d) => (d.spec.containers[0].command = [''])), error: 'spec.containers[0].command[0]: must not be empty' },
    { name: 'missing container name', doc: edit(pod, (d) => delete d.spec.containers[0].name), error: 'spec.containers[0].name: required' },
    {
      name: 'duplicate container names',
      doc: edit(pod, (d) => d.spec.containers.push({ name: 'app', command: ['true'] })),
      error: 'spec.containers[1]: duplicate container name "app" (also spec.containers[0])',
    },
    {
      name: 'env valueFrom',
      doc: edit(pod, (d) => (d.spec.containers[0].env = [{ name: 'A', valueFrom: {} }])),
      error: 'spec.containers[0].env[0].valueFrom: not supported by ambit: give a literal value',
    },
    {
      name: 'env name starting with a digit',
      doc: edit(pod, (d) => (d.spec.containers[0].env = [{ name: '1X', value: 'a' }])),
      error: 'spec.containers[0].env[0].name: must be an environment variable name of letters, digits and "_", not starting with a digit, got "1X"',
    },
    {
      name: 'duplicate env names',
      doc: edit(pod, (d) => (d.spec.containers[0].env = [{ name: 'A', value: '1' }, { name: 'A', value: '2' }])),
      error: 'spec.containers[0].env[1]: duplicate name "A" (also spec.containers[0].env[0])',
    },
    { name: 'args with a number', doc: edit(pod, (d) => (d.spec.containers[0].args = [8080])), error: 'spec.containers[0].args[0]: must be a string, got 8080' },
    { name: 'container ports', doc: edit(pod, (d) => (d.spec.containers[0].ports = [])), error: 'spec.containers[0].ports: not supported by ambit: ambit captures every port; declare ports on a Service' },
    { name: 'unknown pod spec field', doc: edit(pod, (d) => (d.spec.nodename = 'x')), error: 'spec.nodename: unknown field' },
  ]);
});

describe('Service', () => {
  runBadCases(test, 'Service "default/web"', [
    { name: 'missing selector', doc: edit(service, (d) => delete d.spec.selector), error: 'spec.selector: required' },
    { name: 'empty selector', doc: edit(service, (d) => (d.spec.selector = {})), error: 'spec.selector: must select at least one label' },
    { name: 'no ports', doc: edit(service, (d) => (d.spec.ports = [])), error: 'spec.ports: must list at least one port' },
    { name: 'ports as a mapping', doc: edit(service, (d) => (d.spec.ports = { port: 80 })), error: 'spec.ports: must be a list, got {"port":80}' },
    { name: 'port out of range', doc: edit(service, (d) => (d.spec.ports[0].port = 70000)), error: 'spec.ports[0].port: must be an integer from 1 to 65535, got 70000' },
    { name: 'port zero', doc: edit(service, (d) => (d.spec.ports[0].port = 0)), error: 'spec.ports[0].port: must be an integer from 1 to 65535, got 0' },
    { name: 'port as a string', doc: edit(service, (d) => (d.spec.ports[0].port = '80')), error: 'spec.ports[0].port: must be an integer from 1 to 65535, got "80"' },
    { name: 'fractional port', doc: edit(service, (d) => (d.spec.ports[0].port = 80.5)), error: 'spec.ports[0].port: must be an integer from 1 to 65535, got 80.5' },
    { name: 'missing port', doc: edit(service, (d) => delete d.spec.ports[0].port), error: 'spec.ports[0].port: required' },
    {
      name: 'named targetPort',
      doc: edit(service, (d) => (d.spec.ports[0].targetPort = 'http')),
      error: "spec.ports[0].targetPort: named target ports are not supported by ambit; use the container's port number, got \"http\"",
    },
    { name: 'targetPort out of range', doc: edit(service, (d) => (d.spec.ports[0].targetPort = 65536)), error: 'spec.ports[0].targetPort: must be an integer from 1 to 65535, got 65536' },
    { name: 'SCTP', doc: edit(service, (d) => (d.spec.ports[0].protocol = 'SCTP')), error: 'spec.ports[0].protocol: "SCTP" is not supported by ambit: use TCP or UDP' },
    { name: 'lower-case protocol', doc: edit(service, (d) => (d.spec.ports[0].protocol = 'tcp')), error: 'spec.ports[0].protocol: must be one of TCP, UDP, got "tcp"' },
    {
      name: 'duplicate port and protocol',
      doc: edit(service, (d) => d.spec.ports.push({ port: 80, protocol: 'TCP' })),
      error: 'spec.ports[1]: duplicate port 80/TCP (also spec.ports[0])',
    },
    {
      name: 'duplicate port names',
      doc: edit(service, (d) => (d.spec.ports = [{ name: 'web', port: 80 }, { name: 'web', port: 81 }])),
      error: 'spec.ports[1]: duplicate port name "web" (also spec.ports[0])',
    },
    {
      name: 'headless clusterIP',
      doc: edit(service, (d) => (d.spec.clusterIP = 'None')),
      error: 'spec.clusterIP: headless Services ("None") are not supported by ambit; omit clusterIP to have one allocated',
    },
    {
      name: 'clusterIP not IPv4',
      doc: edit(service, (d) => (d.spec.clusterIP = '10.96.0')),
      error: 'spec.clusterIP: must be an IPv4 address of four decimal octets, like "10.0.0.1", got "10.96.0"',
    },
    { name: 'service type', doc: edit(service, (d) => (d.spec.type = 'ClusterIP')), error: 'spec.type: not supported by ambit: every Service is a ClusterIP service' },
    { name: 'nodePort', doc: edit(service, (d) => (d.spec.ports[0].nodePort = 30080)), error: 'spec.ports[0].nodePort: not supported by ambit: only ClusterIP services exist in ambit' },
    { name: 'selector value not a string', doc: edit(service, (d) => (d.spec.selector = { app: null })), error: 'spec.selector["app"]: must be a string, got null' },
  ]);
});
