// The names a user may type for each kind (`ambit get pods`, `po`, `svc`, ...), kubectl-style.
import { AmbitError } from '../errors.js';
import { KINDS, type Kind } from '../config/types.js';

const ALIASES: Record<string, Kind> = {
  namespace: 'Namespace', namespaces: 'Namespace', ns: 'Namespace',
  node: 'Node', nodes: 'Node', no: 'Node',
  serviceaccount: 'ServiceAccount', serviceaccounts: 'ServiceAccount', sa: 'ServiceAccount',
  pod: 'Pod', pods: 'Pod', po: 'Pod',
  service: 'Service', services: 'Service', svc: 'Service',
  authorizationpolicy: 'AuthorizationPolicy', authorizationpolicies: 'AuthorizationPolicy', ap: 'AuthorizationPolicy',
  peerauthentication: 'PeerAuthentication', peerauthentications: 'PeerAuthentication', pa: 'PeerAuthentication',
  serviceentry: 'ServiceEntry', serviceentries: 'ServiceEntry', se: 'ServiceEntry',
  destinationrule: 'DestinationRule', destinationrules: 'DestinationRule', dr: 'DestinationRule',
  meshconfig: 'MeshConfig', meshconfigs: 'MeshConfig', mesh: 'MeshConfig',
};

export function kindFromArg(arg: string): Kind {
  const key = arg.toLowerCase();
  const k = Object.hasOwn(ALIASES, key) ? ALIASES[key] : undefined; // never "constructor" or "__proto__" of the table
  if (!k) {
    throw new AmbitError('KIND_UNKNOWN', `Cannot use kind ${JSON.stringify(arg)}: ambit knows ${KINDS.join(', ')} (or short names such as pods, svc, ap, se, dr)`, { value: arg });
  }
  return k;
}
