// A mesh state with (or without) the egress gateway, for the node proxy's egress tests: two app
// pods, the gateway pod, an impostor that the gateway Service also selects but that runs as
// another service account, and ServiceEntries for api.example.com and *.foo.example.
import { DEFAULT_MESH_SETTINGS, EGRESS_GATEWAY, egressGatewayIdentity } from '../../../src/config/index.js';
import { MeshState } from '../../../src/nodeproxy/state.js';

export type Mode = 'ALLOW_ANY' | 'REGISTRY_ONLY';

export const GATEWAY_IP = '10.244.3.2';
export const IMPOSTOR_IP = '10.244.3.3';
export const GATEWAY_IDENTITY = egressGatewayIdentity('cluster.local');

const wl = (namespace: string, name: string, ip: string, sa = name) => ({
  uid: `${namespace}/${name}@1`, name, namespace, node: 'node-1', ips: [ip], serviceAccount: sa,
  identity: `spiffe://cluster.local/ns/${namespace}/sa/${sa}`, labels: {}, waypoint: null,
});

export interface EgressStateOptions {
  mode?: Mode;
  /** Put the gateway Service (and pods) in the config (default true). */
  gateway?: boolean;
  /** Gateway endpoints to list (default: the gateway and the impostor). */
  endpoints?: { workloadUid: string; ip: string }[];
  /** ServiceEntry hosts (default api.example.com and *.foo.example). */
  hosts?: string[];
}

export function egressState(o: EgressStateOptions = {}): MeshState {
  const gw = wl(EGRESS_GATEWAY.namespace, 'egress-gateway-0', GATEWAY_IP, EGRESS_GATEWAY.serviceAccount);
  const impostor = wl(EGRESS_GATEWAY.namespace, 'impostor', IMPOSTOR_IP, 'default');
  const resources = new Map<string, unknown>([
    ['workload/default/a', wl('default', 'a', '10.244.1.5')],
    ['mesh/mesh', { ...DEFAULT_MESH_SETTINGS, outboundTrafficPolicy: { mode: o.mode ?? 'ALLOW_ANY' } }],
    ['node/node-1', { name: 'node-1', podCIDR: '10.244.1.0/24' }],
    ['node/node-3', { name: 'node-3', podCIDR: '10.244.3.0/24' }],
    ['service-entry/egress/external', {
      name: 'external', namespace: 'egress',
      spec: { hosts: o.hosts ?? ['api.example.com', '*.foo.example'], ports: [{ number: 443, name: 'tls', protocol: 'TLS' }], resolution: 'DNS', location: 'MESH_EXTERNAL', endpoints: [] },
    }],
  ]);
  if (o.gateway ?? true) {
    resources.set(`workload/${gw.namespace}/${gw.name}`, gw);
    resources.set(`workload/${impostor.namespace}/${impostor.name}`, impostor);
    resources.set(`service/${EGRESS_GATEWAY.namespace}/${EGRESS_GATEWAY.service}`, {
      name: EGRESS_GATEWAY.service, namespace: EGRESS_GATEWAY.namespace, hostname: 'egress-gateway.ambit-system.svc.cluster.local', vip: '10.96.0.50',
      ports: [{ port: 15008, targetPort: 15008, protocol: 'TCP' }],
      endpoints: o.endpoints ?? [{ workloadUid: gw.uid, ip: GATEWAY_IP }, { workloadUid: impostor.uid, ip: IMPOSTOR_IP }],
    });
  }
  return new MeshState({ version: 1, storeId: 's', resources });
}
