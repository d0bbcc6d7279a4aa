// Domain types for every configuration kind ambit understands. These are the validated,
// normalised shapes that the rest of the code reads; the YAML wire shapes are converted into
// them once, in parse.ts, and nothing else ever sees raw YAML.

export type Labels = Record<string, string>;

export interface ObjectMeta {
  name: string;
  /** Absent for cluster-scoped kinds (Namespace, Node, MeshConfig). */
  namespace?: string;
  labels: Labels;
  /** Only keys ambit knows (see ANNOTATIONS); others are rejected at apply time. */
  annotations: Record<string, string>;
}

/** Annotations ambit reads. Any other `ambit.dev/` key is an error; foreign keys are kept. */
export const ANNOTATIONS = {
  /** Pod: ask the lab's IPAM for this exact IPv4 address. */
  podIP: 'ambit.dev/pod-ip',
} as const;

export interface NamespaceResource {
  kind: 'Namespace';
  apiVersion: 'v1';
  metadata: ObjectMeta;
}

export interface NodeResource {
  kind: 'Node';
  apiVersion: 'v1';
  metadata: ObjectMeta;
  spec: {
    /** IPv4 CIDR that pods on this node get addresses from, e.g. 10.244.1.0/24. */
    podCIDR?: string;
    /**
     * The node's own IPv4 addresses (Kubernetes' status.addresses InternalIP): the egress
     * gateway never dials them, whatever a name resolves to (its kubelet, its node proxy's ports).
     */
    addresses?: string[];
  };
}

export interface ServiceAccountResource {
  kind: 'ServiceAccount';
  apiVersion: 'v1';
  metadata: ObjectMeta;
}

export interface Container {
  name: string;
  /** argv; run as an unprivileged process inside the pod's network namespace in the lab. */
  command: string[];
  args: string[];
  env: { name: string; value: string }[];
}

export interface PodResource {
  kind: 'Pod';
  apiVersion: 'v1';
  metadata: ObjectMeta;
  spec: {
    nodeName: string;
    /** Defaults to "default". */
    serviceAccountName: string;
    containers: Container[];
  };
  /** Written by the lab (IPAM), never by users: apply ignores nothing, so status in a file is an error. */
  status?: PodStatus;
}

export interface PodStatus {
  podIP?: string;
  phase?: 'Pending' | 'Running' | 'Failed';
}

export type Protocol = 'TCP' | 'UDP';

export interface ServicePort {
  name?: string;
  port: number;
  targetPort: number;
  protocol: Protocol;
}

export interface ServiceResource {
  kind: 'Service';
  apiVersion: 'v1';
  metadata: ObjectMeta;
  spec: {
    selector: Labels;
    ports: ServicePort[];
    /** Allocated by the control plane when not given. */
    clusterIP?: string;
  };
}

export type PolicyAction = 'ALLOW' | 'DENY';

export interface PolicySource {
  principals?: string[];
  notPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
}

export interface PolicyOperation {
  ports?: number[];
  notPorts?: number[];
  /** Hosts: exact or `*.suffix` wildcard (used by the egress gateway's policies). */
  hosts?: string[];
  notHosts?: string[];
  methods?: string[];
  notMethods?: string[];
  paths?: string[];
  notPaths?: string[];
}

export interface PolicyRule {
  from: { source: PolicySource }[];
  to: { operation: PolicyOperation }[];
}

export interface AuthorizationPolicyResource {
  kind: 'AuthorizationPolicy';
  apiVersion: 'security.istio.io/v1';
  metadata: ObjectMeta;
  spec: {
    /** Absent: applies to every workload in the namespace (or the mesh, in the root namespace). */
    selector?: { matchLabels: Labels };
    action: PolicyAction;
    /** Empty list: matches nothing for ALLOW (deny all); see Istio semantics. */
    rules: PolicyRule[];
  };
}

export type MtlsMode = 'STRICT' | 'PERMISSIVE';

export interface PeerAuthenticationResource {
  kind: 'PeerAuthentication';
  apiVersion: 'security.istio.io/v1';
  metadata: ObjectMeta;
  spec: {
    selector?: { matchLabels: Labels };
    mtls: { mode: MtlsMode };
  };
}

export type ServiceEntryPortProtocol = 'HTTP' | 'HTTPS' | 'TLS' | 'TCP';

export interface ServiceEntryPort {
  number: number;
  name: string;
  protocol: ServiceEntryPortProtocol;
  targetPort?: number;
}

export interface ServiceEntryResource {
  kind: 'ServiceEntry';
  apiVersion: 'networking.istio.io/v1';
  metadata: ObjectMeta;
  spec: {
    /** Lower-case DNS names; a wildcard only as the whole first label (`*.example.com`). */
    hosts: string[];
    ports: ServiceEntryPort[];
    /** DNS: the gateway resolves the endpoints' names, else the requested host; STATIC: it dials only the endpoints. */
    resolution: 'DNS' | 'STATIC';
    location: 'MESH_EXTERNAL';
    endpoints: { address: string }[];
  };
}

/** TLS origination at the egress gateway for one exact external host (the only use ambit has for it). */
export interface DestinationRuleResource {
  kind: 'DestinationRule';
  apiVersion: 'networking.istio.io/v1';
  metadata: ObjectMeta;
  spec: {
    /** Exact lower-case DNS name (no wildcard). */
    host: string;
    trafficPolicy: {
      tls: {
        mode: 'SIMPLE';
        /** Absolute path of a PEM CA bundle on the egress gateway's machine; the only roots trusted upstream. */
        caCertificates: string;
      };
    };
  };
}

export type OutboundTrafficMode = 'REGISTRY_ONLY' | 'ALLOW_ANY';

export interface MeshConfigResource {
  kind: 'MeshConfig';
  apiVersion: 'ambit.dev/v1alpha1';
  /** A cluster-scoped singleton named "mesh". */
  metadata: ObjectMeta;
  spec: MeshSettings;
}

export interface MeshSettings {
  trustDomain: string;
  outboundTrafficPolicy: { mode: OutboundTrafficMode };
  /** Workload certificate lifetime in seconds (default 86400). */
  certificateTTLSeconds: number;
  /** The namespace whose policies apply mesh-wide (Istio's root namespace). */
  rootNamespace: string;
  /** IPv4 CIDR that Service ClusterIPs are allocated from. */
  serviceCIDR: string;
  /** Operator ranges the egress gateway never dials, on top of the built-in ones (SSRF). */
  egressForbiddenUpstreams: ForbiddenUpstream[];
}

export interface ForbiddenUpstream {
  /** IPv4 CIDR, host bits clear. */
  cidr: string;
  /** Shown in the refusal and the audit line. */
  reason?: string;
}

export const DEFAULT_MESH_SETTINGS: MeshSettings = {
  trustDomain: 'cluster.local',
  // Egress is closed by default (DESIGN.md invariant 7): only ServiceEntry hosts leave the mesh.
  // Istio's default is ALLOW_ANY; a mesh that wants it says so in its MeshConfig.
  outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' },
  certificateTTLSeconds: 86400,
  rootNamespace: 'ambit-system',
  serviceCIDR: '10.96.0.0/16',
  egressForbiddenUpstreams: [],
};

export type Resource =
  | NamespaceResource
  | NodeResource
  | ServiceAccountResource
  | PodResource
  | ServiceResource
  | AuthorizationPolicyResource
  | PeerAuthenticationResource
  | ServiceEntryResource
  | DestinationRuleResource
  | MeshConfigResource;

export type Kind = Resource['kind'];

export const KINDS: readonly Kind[] = [
  'Namespace',
  'Node',
  'ServiceAccount',
  'Pod',
  'Service',
  'AuthorizationPolicy',
  'PeerAuthentication',
  'ServiceEntry',
  'DestinationRule',
  'MeshConfig',
];

export const CLUSTER_SCOPED: ReadonlySet<Kind> = new Set<Kind>(['Namespace', 'Node', 'MeshConfig']);

/** The store key of a resource: `Kind/namespace/name`, with an empty namespace when cluster-scoped. */
export function resourceKey(kind: Kind, namespace: string | undefined, name: string): string {
  return `${kind}/${namespace ?? ''}/${name}`;
}

export function keyOf(r: Resource): string {
  return resourceKey(r.kind, r.metadata.namespace, r.metadata.name);
}
