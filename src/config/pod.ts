// Pod: a workload with an identity (its service account) placed on a node. In the lab its
// containers are plain processes (`command` + `args`) inside the pod's network namespace, so
// image-, volume- and probe-related Kubernetes fields are refused rather than half-honoured.
import type { Container, ObjectMeta, PodResource } from './types.js';
import {
  checkFields,
  fail,
  listOf,
  mapping,
  noDuplicates,
  nonEmptyStr,
  opt,
  req,
  str,
  type Obj,
  type Reader,
} from './fields.js';
import { dnsLabel, dnsSubdomain } from './metadata.js';
import { isEnvName } from './names.js';

export const DEFAULT_SERVICE_ACCOUNT = 'default';

const PROCESS = 'containers run as local processes from "command" and "args"';
const SPEC_UNSUPPORTED: Record<string, string> = {
  serviceAccount: 'use serviceAccountName',
  initContainers: '',
  volumes: '',
  hostNetwork: 'every pod gets its own network namespace in the mesh',
  securityContext: '',
  restartPolicy: '',
  nodeSelector: 'set spec.nodeName',
  affinity: 'set spec.nodeName',
};
const CONTAINER_UNSUPPORTED: Record<string, string> = {
  image: PROCESS,
  imagePullPolicy: PROCESS,
  ports: 'ambit captures every port; declare ports on a Service',
  workingDir: '',
  resources: '',
  volumeMounts: '',
  securityContext: '',
  livenessProbe: '',
  readinessProbe: '',
  startupProbe: '',
  envFrom: '',
};

const env: Reader<{ name: string; value: string }> = (v, path) => {
  const e = mapping(v, path);
  checkFields(e, path, ['name', 'value'], { valueFrom: 'give a literal value' });
  const name = req(e, 'name', path, str);
  if (!isEnvName(name)) fail(`${path}.name`, 'must be an environment variable name of letters, digits and "_", not starting with a digit', name);
  return { name, value: opt(e, 'value', path, str) ?? '' };
};

const container: Reader<Container> = (v, path) => {
  const c = mapping(v, path);
  checkFields(c, path, ['name', 'command', 'args', 'env'], CONTAINER_UNSUPPORTED);
  const name = req(c, 'name', path, dnsLabel);
  const command = req(c, 'command', path, listOf(str, { nonEmpty: 'must not be empty: give the program to run' }));
  nonEmptyStr(command[0], `${path}.command[0]`);
  const envList = opt(c, 'env', path, listOf(env)) ?? [];
  noDuplicates(envList, `${path}.env`, (e) => JSON.stringify(e.name), 'name');
  return { name, command, args: opt(c, 'args', path, listOf(str)) ?? [], env: envList };
};

export function parsePod(doc: Obj, metadata: ObjectMeta): PodResource {
  const spec = req(doc, 'spec', '', mapping);
  checkFields(spec, 'spec', ['nodeName', 'serviceAccountName', 'containers'], SPEC_UNSUPPORTED);
  const nodeName = req(spec, 'nodeName', 'spec', dnsSubdomain);
  const serviceAccountName = opt(spec, 'serviceAccountName', 'spec', dnsSubdomain) ?? DEFAULT_SERVICE_ACCOUNT;
  const containers = req(spec, 'containers', 'spec', listOf(container, { nonEmpty: 'must list at least one container' }));
  noDuplicates(containers, 'spec.containers', (c) => JSON.stringify(c.name), 'container name');
  return { kind: 'Pod', apiVersion: 'v1', metadata, spec: { nodeName, serviceAccountName, containers } };
}
