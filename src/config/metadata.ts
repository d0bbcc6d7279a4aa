// `metadata` for every kind: names per the kind's naming rule, namespace defaulting/forbidding,
// labels and annotations. Server-set fields that `kubectl get -o yaml` prints (uid,
// resourceVersion, creationTimestamp, generation) are accepted and IGNORED so that exported
// objects can be re-applied; everything else unknown is rejected.
import { ANNOTATIONS, CLUSTER_SCOPED, type Kind, type Labels, type ObjectMeta } from './types.js';
import { checkFields, fail, keyAt, mapOf, mapping, opt, req, str, type Reader } from './fields.js';
import { DNS_LABEL_RULE, DNS_SUBDOMAIN_RULE, isDnsLabel, isDnsSubdomain, labelKeyProblem, labelValueProblem } from './names.js';
import { ipv4Problem } from './net.js';

export const IGNORED_METADATA = ['uid', 'resourceVersion', 'creationTimestamp', 'generation'] as const;
const KNOWN = ['name', 'namespace', 'labels', 'annotations', ...IGNORED_METADATA];
const UNSUPPORTED = {
  generateName: 'give every object an explicit metadata.name',
  ownerReferences: '',
  finalizers: '',
  deletionTimestamp: 'set by the control plane',
  managedFields: 'set by the control plane',
};

/** Kinds whose names end up as single DNS labels (hostnames, `<svc>.<ns>.svc` names). */
const LABEL_NAMED: ReadonlySet<Kind> = new Set<Kind>(['Namespace', 'Pod', 'Service']);

export const DEFAULT_NAMESPACE = 'default';

export const dnsLabel: Reader<string> = (v, path) => {
  const s = str(v, path);
  if (!isDnsLabel(s)) fail(path, DNS_LABEL_RULE, s);
  return s;
};

export const dnsSubdomain: Reader<string> = (v, path) => {
  const s = str(v, path);
  if (!isDnsSubdomain(s)) fail(path, DNS_SUBDOMAIN_RULE, s);
  return s;
};

/** A Kubernetes label map (also used for selectors). */
export const labels: Reader<Labels> = mapOf<string>(
  (v, path) => {
    const s = str(v, path);
    const problem = labelValueProblem(s);
    if (problem !== null) fail(path, problem, s);
    return s;
  },
  (key, path) => {
    const problem = labelKeyProblem(key);
    if (problem !== null) fail(path, problem);
  },
);

export function parseMetadata(v: unknown, kind: Kind): ObjectMeta {
  const m = mapping(v, 'metadata');
  checkFields(m, 'metadata', KNOWN, UNSUPPORTED);
  const name = req(m, 'name', 'metadata', LABEL_NAMED.has(kind) ? dnsLabel : dnsSubdomain);
  if (kind === 'MeshConfig' && name !== 'mesh') fail('metadata.name', 'must be "mesh" (MeshConfig is a singleton)', name);
  let namespace: string | undefined;
  if (CLUSTER_SCOPED.has(kind)) {
    if (Object.hasOwn(m, 'namespace')) fail('metadata.namespace', `must be absent: ${kind} is cluster-scoped`);
  } else {
    namespace = opt(m, 'namespace', 'metadata', dnsLabel) ?? DEFAULT_NAMESPACE;
  }
  const meta: ObjectMeta = {
    name,
    labels: opt(m, 'labels', 'metadata', labels) ?? {},
    annotations: opt(m, 'annotations', 'metadata', annotations(kind)) ?? {},
  };
  if (namespace !== undefined) meta.namespace = namespace;
  return meta;
}

const KNOWN_ANNOTATIONS: readonly string[] = Object.values(ANNOTATIONS);

function annotations(kind: Kind): Reader<Record<string, string>> {
  const read = mapOf<string>(str, (key, path) => {
    const problem = labelKeyProblem(key);
    if (problem !== null) fail(path, problem);
    if (key.startsWith('ambit.dev/') && !KNOWN_ANNOTATIONS.includes(key)) {
      fail(path, `unknown ambit annotation; ambit reads only ${KNOWN_ANNOTATIONS.join(', ')}`);
    }
    if (key === ANNOTATIONS.podIP && kind !== 'Pod') fail(path, 'only meaningful on a Pod');
  });
  return (v, path) => {
    const out = read(v, path);
    const podIP = out[ANNOTATIONS.podIP];
    if (podIP !== undefined) {
      const problem = ipv4Problem(podIP);
      if (problem !== null) fail(keyAt(path, ANNOTATIONS.podIP), problem, podIP);
    }
    return out;
  };
}
