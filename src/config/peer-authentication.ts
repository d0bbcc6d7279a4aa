// PeerAuthentication (security.istio.io): whether a workload also accepts plaintext from
// outside the mesh. Mesh-to-mesh traffic is always mutual TLS in ambit, so DISABLE does not
// exist here, and UNSET (inherit) is refused so that every policy says what it means.
import type { MtlsMode, ObjectMeta, PeerAuthenticationResource } from './types.js';
import { checkFields, mapping, oneOf, req, opt, type Obj } from './fields.js';
import { workloadSelector } from './authorization-policy.js';

const MODES: readonly MtlsMode[] = ['STRICT', 'PERMISSIVE'];

export function parsePeerAuthentication(doc: Obj, metadata: ObjectMeta): PeerAuthenticationResource {
  const spec = req(doc, 'spec', '', mapping);
  checkFields(spec, 'spec', ['selector', 'mtls'], { portLevelMtls: 'set one mode for the whole workload' });
  const mtls = req(spec, 'mtls', 'spec', mapping);
  checkFields(mtls, 'spec.mtls', ['mode']);
  const mode = req(mtls, 'mode', 'spec.mtls', oneOf(MODES, {
    DISABLE: 'plaintext between mesh workloads is never allowed; use PERMISSIVE to also accept plaintext clients from outside the mesh',
    UNSET: 'ambit does not inherit modes; write STRICT or PERMISSIVE',
  }));
  const out: PeerAuthenticationResource = {
    kind: 'PeerAuthentication',
    apiVersion: 'security.istio.io/v1',
    metadata,
    spec: { mtls: { mode } },
  };
  const selector = opt(spec, 'selector', 'spec', workloadSelector);
  if (selector !== undefined) out.spec.selector = selector;
  return out;
}
