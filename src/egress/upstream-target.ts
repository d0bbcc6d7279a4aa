// Where an allowed connection goes, from the ServiceEntry that the registry decision matched for
// the tunnel's port (never another entry naming the same host): the addresses (STATIC: the
// entry's endpoints only, DNS never asked; DNS: the endpoints' names when listed, else the
// requested host) and the port (the entry port's targetPort, else the tunnel's port, or for TLS
// origination the configured upstream port, else 443). Pure; the gateway resolves and dials.
import { isIPv4 } from '../config/index.js';
import { AmbitError, showValue } from '../errors.js';
import { serviceEntryId, type EgressServiceEntry } from './decision.js';

export interface UpstreamTarget {
  /** STATIC: the addresses to dial; no DNS query is made. */
  addresses?: string[];
  /** DNS: the names to resolve (IPv4 literals among them stand for themselves). */
  names?: string[];
  port: number;
}

export interface UpstreamTargetRequest {
  /** The requested (and decided) host: SNI or Host. */
  host: string;
  /** The tunnel's port. */
  port: number;
  /** The matched entry; undefined under ALLOW_ANY for an unregistered host. */
  entry: EgressServiceEntry | undefined;
  /** Set for TLS origination: the upstream port when the entry port names no targetPort. */
  originationPort?: number;
}

export function upstreamTarget(req: UpstreamTargetRequest): UpstreamTarget {
  const fallbackPort = req.originationPort !== undefined ? req.originationPort : req.port;
  const e = req.entry;
  if (e === undefined) return { names: [req.host], port: fallbackPort };
  const spec = e.spec;
  // Refused at apply time since these fields are honoured; a stored entry from before is refused here.
  const resolution: string = spec.resolution;
  const location: string | undefined = spec.location;
  if (resolution !== 'DNS' && resolution !== 'STATIC') unsupported(e, 'spec.resolution', resolution);
  if (location !== undefined && location !== 'MESH_EXTERNAL') unsupported(e, 'spec.location', location);
  const port = upstreamPort(e, req.port, fallbackPort);
  const endpoints = (spec.endpoints ?? []).map((x) => x.address);
  if (resolution === 'STATIC') {
    if (endpoints.length === 0 || !endpoints.every((a) => isIPv4(a))) unsupported(e, 'spec.endpoints', endpoints);
    return { addresses: endpoints, port };
  }
  return { names: endpoints.length > 0 ? endpoints : [req.host], port };
}

/** The port an entry sends a tunnel's port to: that entry port's targetPort, else `fallback`. */
export function upstreamPort(entry: EgressServiceEntry, tunnelPort: number, fallback: number): number {
  return entry.spec.ports.find((p) => p.number === tunnelPort)?.targetPort ?? fallback;
}

function unsupported(e: EgressServiceEntry, path: string, value: unknown): never {
  throw new AmbitError('EGRESS_SERVICE_ENTRY_UNSUPPORTED', `Cannot reach ServiceEntry ${serviceEntryId(e)}: ${path} ${showValue(value)} cannot be honoured (apply it again to see why)`, { path, value });
}
