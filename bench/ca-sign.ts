// How fast the mesh CA signs SVIDs on one core (CSR parse + signature check + leaf issuance),
// and how fast a proxy makes a key + CSR. Target: >= 2,000 signs/s (FIELD-NOTES "Certificates").
import { pathToFileURL } from 'node:url';
import { CertificateAuthority } from '../src/ca/index.js';
import { createCsr, workloadId } from '../src/identity/index.js';

/** As the control plane signs for a node proxy: with the issued-to extension that revocation reads. */
const ISSUED_TO = { node: 'node-1', credential: '0123456789abcdef0123456789abcdef' };

export interface CaSignFigures {
  signsPerSecond: number;
  csrsPerSecond: number;
}

function rate(seconds: number, work: (i: number) => void): number {
  const deadline = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  const start = process.hrtime.bigint();
  let n = 0;
  while (process.hrtime.bigint() < deadline) {
    for (let k = 0; k < 50; k++) work(n++);
  }
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
}

export async function benchCaSign(opts: { seconds: number }): Promise<CaSignFigures> {
  const ca = CertificateAuthority.generate({ trustDomain: 'cluster.local' });
  const ids = Array.from({ length: 64 }, (_, i) => workloadId('cluster.local', `ns${i % 8}`, `sa${i}`));
  const csrs = ids.map((id) => createCsr(id).csrDer);
  rate(Math.min(0.3, opts.seconds / 4), (i) => ca.signCsr(csrs[i % 64]!, { spiffeId: ids[i % 64]!, ttlSeconds: 86_400, issuedTo: ISSUED_TO })); // warm-up
  const signsPerSecond = rate(opts.seconds, (i) => ca.signCsr(csrs[i % 64]!, { spiffeId: ids[i % 64]!, ttlSeconds: 86_400, issuedTo: ISSUED_TO }));
  const csrsPerSecond = rate(opts.seconds, (i) => createCsr(ids[i % 64]!));
  return { signsPerSecond: Math.round(signsPerSecond), csrsPerSecond: Math.round(csrsPerSecond) };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const seconds = Number(process.argv[2] ?? 3);
  const r = await benchCaSign({ seconds });
  console.log(`ca-sign: ${r.signsPerSecond} SVIDs signed/s on one core (incl. CSR parse + verify; target >= 2000; @peculiar/x509 baseline 180-330)`);
  console.log(`ca-sign: ${r.csrsPerSecond} key+CSR/s on the proxy side (@peculiar/x509 baseline ~330)`);
}
