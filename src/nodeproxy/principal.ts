// SPIFFE ID -> Istio principal form (`td/ns/x/sa/y`), the form policies and telemetry use.
export function principalOf(spiffeId: string): string {
  return spiffeId.startsWith('spiffe://') ? spiffeId.slice('spiffe://'.length) : spiffeId;
}
