// The demo's egress chapter: the mesh closed by default (REGISTRY_ONLY), exact and wildcard
// ServiceEntries, TLS passthrough and origination, per-source policy by verified identity, and
// each way a compromised pod might try to get out — every outcome printed beside the log line of
// the component that decided (the egress gateway, or the node proxy for what never reaches it).
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { AdminHttpClient } from '../controlplane/admin-client.js';
import { EGRESS_GATEWAY, parseDocuments } from '../config/index.js';
import { adminSocketPath, labRunDir } from '../paths.js';
import { execInPod, labStatus, nodeNetns } from '../lab/index.js';
import { HOSTS, egressConfig, icmpProbe, principal, sleeper } from './egress-manifests.js';

type Line = Record<string, unknown>;

function jsonLines(file: string): Line[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('{')).flatMap((l) => {
    try {
      return [JSON.parse(l) as Line];
    } catch {
      return [];
    }
  });
}

/** The gateway's audit lines (`egress connection`), from its pod's container logs. */
export function gatewayAudit(lab: string): Line[] {
  const dir = join(labRunDir(lab), 'logs', 'pods', EGRESS_GATEWAY.namespace, EGRESS_GATEWAY.name);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) => jsonLines(join(dir, f))).filter((l) => l.msg === 'egress connection');
}

/** Every JSON line of one node proxy's log (access lines carry `access: true`). */
export function nodeProxyLines(lab: string, node: string): Line[] {
  return jsonLines(join(labRunDir(lab), 'logs', `node-proxy-${node}.log`));
}

/** The capture drop counter a node proxy reports for one pod (from its metrics port, inside the node). */
async function captureDrops(lab: string, node: string, pod: string): Promise<number | undefined> {
  const out = await new Promise<string>((resolve) => {
    execFile('ip', ['netns', 'exec', nodeNetns(lab, node), 'curl', '-sS', '-m', '3', 'http://127.0.0.1:15020/metrics'], (_err, stdout) => resolve(stdout ?? ''));
  });
  const m = new RegExp(`ambit_capture_dropped_packets\\{pod="${pod}",direction="out"\\} (\\d+)`).exec(out);
  return m ? Number(m[1]) : undefined;
}

export async function egressChapter(lab: string, say: (s?: string) => void, until: (what: string, f: () => Promise<boolean> | boolean, ms?: number) => Promise<void>): Promise<void> {
  const admin = new AdminHttpClient(adminSocketPath(lab));
  const curl = (pod: string, url: string, extra: string[] = []) => execInPod(lab, 'default', pod, ['curl', '-sS', '-m', '4', ...extra, url], { timeoutMs: 10_000 });
  const gw = labStatus(lab).pods.find((p) => p.namespace === EGRESS_GATEWAY.namespace && p.name === EGRESS_GATEWAY.name);
  /** The newest audit line after `mark` that `pred` picks, waited for briefly. */
  const audit = async (mark: number, pred: (l: Line) => boolean): Promise<Line | undefined> => {
    let found: Line | undefined;
    await until('gateway audit line', () => (found = gatewayAudit(lab).slice(mark).reverse().find(pred)) !== undefined, 4_000).catch(() => undefined);
    return found;
  };
  const show = (l: Line | undefined): string =>
    l === undefined ? '(no gateway line)' : `gateway: ${l.verdict} ${l.code} source=${String(l.source).replace('spiffe://', '')} ${l.sni ? `sni=${l.sni}` : l.host ? `host=${l.host}` : `authority=${l.authority}`}${l.upstream ? ` upstream=${l.upstream}` : ''}`;
  const outcome = (code: number): string => (code === 0 ? 'reached' : `failed (curl exit ${code})`);

  say(`  the egress gateway runs as pod ${EGRESS_GATEWAY.namespace}/${EGRESS_GATEWAY.name} (${gw?.ip ?? '?'}, ${gw?.node ?? '?'}) with its own SVID; nodes drop every other exit`);
  await admin.apply(parseDocuments([sleeper('app-a', 'node-2', 'app-a'), sleeper('app-b', 'node-1', 'app-b'), sleeper('attacker', 'node-2', 'attacker'), egressConfig(join(labRunDir(lab), 'public-ca', 'root.crt'))].join('---\n'), 'demo'));
  say('  applied: MeshConfig REGISTRY_ONLY; ServiceEntries api.example.com (443 TLS, 80 HTTP→443), *.foo.example, *.bar.example;');
  say('           DestinationRule api.example.com (TLS origination, lab public CA); AuthorizationPolicy on the gateway by source');
  await until('egress ready', async () => (await curl('app-a', `https://${HOSTS.api.name}/`)).code === 0, 30_000);

  let mark = gatewayAudit(lab).length;
  const pass = await curl('app-a', `https://${HOSTS.api.name}/hello`);
  const site = pass.code === 0 ? (JSON.parse(pass.stdout) as { sni: string; peer: { address: string } }) : undefined;
  say(`  app-a → curl https://${HOSTS.api.name}/  ${outcome(pass.code)}; the site saw SNI ${site?.sni ?? '?'} from ${site?.peer.address ?? '?'} (the gateway)`);
  const l1 = await audit(mark, (l) => l.sni === HOSTS.api.name && l.source === principal('app-a'));
  if (l1) say(`    ${show(l1)} resolved=${JSON.stringify(l1.resolved)} bytes ${l1.bytesIn}/${l1.bytesOut} in ${l1.durationMs} ms`);
  mark = gatewayAudit(lab).length;
  const orig = await curl('app-a', `http://${HOSTS.api.name}/plain`);
  const origSite = orig.code === 0 ? (JSON.parse(orig.stdout) as { tls: boolean }) : undefined;
  say(`  app-a → curl http://${HOSTS.api.name}/  ${outcome(orig.code)}; the site was reached over TLS: ${origSite?.tls === true ? 'yes (originated by the gateway, certificate verified)' : 'no'}`);
  say(`    ${show(await audit(mark, (l) => l.host === HOSTS.api.name && l.mode === 'originate'))}`);

  const unknown = await curl('app-a', `https://${HOSTS.other.name}/`);
  say(`  app-a → https://${HOSTS.other.name}/ (no ServiceEntry): ${outcome(unknown.code)}: ${unknown.stderr.trim().replace(/^curl: \(\d+\) /, '')}`);

  say('\n  Per-source policy, by the identity proven in mTLS (never an IP):');
  for (const [pod, host] of [['app-a', HOSTS.foo.name], ['app-b', HOSTS.bar.name], ['app-a', HOSTS.bar.name]] as const) {
    mark = gatewayAudit(lab).length;
    const r = await curl(pod, `https://${host}/`);
    const l = r.code === 0 ? undefined : await audit(mark, (x) => x.sni === host && x.source === principal(pod));
    say(`  ${pod} → https://${host}/  ${outcome(r.code)}${l ? `  [${show(l)}]` : ''}`);
  }

  say('\n  A compromised pod tries to get out:');
  const attempt = async (what: string, run: () => Promise<{ code: number }>, pred?: (l: Line) => boolean): Promise<void> => {
    mark = gatewayAudit(lab).length;
    const r = await run();
    const l = pred ? await audit(mark, pred) : undefined;
    say(`  ${what}: ${r.code === 0 ? 'GOT OUT (unexpected)' : 'stopped'}${l ? `  [${show(l)}]` : ''}`);
  };
  const inAttacker = (argv: string[], input?: string) => execInPod(lab, 'default', 'attacker', argv, { timeoutMs: 10_000, ...(input ? { input } : {}) });
  await attempt(`dial ${HOSTS.api.address}:443 directly`, () => curl('attacker', `https://${HOSTS.api.address}/`, ['-k']));
  const direct = nodeProxyLines(lab, 'node-2').reverse().find((l) => l.access === true && l.destinationAddress === `${HOSTS.api.address}:443`);
  if (direct) say(`    node-2: ${String(direct.flag)} ${String(direct.sourcePrincipal)}: ${String(direct.reason)}`);
  await attempt(`ICMP echo to ${HOSTS.api.address}`, () => inAttacker(icmpProbe(HOSTS.api.address)));
  await attempt(`UDP to ${HOSTS.api.address}:7000`, () => inAttacker(['node', '-e', `const s=require('dgram').createSocket('udp4');s.send('x',7000,'${HOSTS.api.address}',(e)=>process.exit(e?1:0))`]));
  const dropped = await captureDrops(lab, 'node-2', 'default/attacker');
  say(`    node-2 metrics: ambit_capture_dropped_packets{pod="default/attacker",direction="out"} ${dropped ?? '?'} (the kernel dropped them in the pod; the proxy reports them)`);
  await attempt('flush its capture rules (nft)', () => inAttacker(['nft', 'flush', 'table', 'ip', 'ambit_capture']));
  const resolver = await inAttacker(['node', '-e', `const r=new (require('dns').promises.Resolver)();r.setServers(['203.0.113.53']);r.resolve4('${HOSTS.other.name}').then((a)=>{console.log(a.join(','));process.exit(0)},(e)=>{console.log(e.code);process.exit(1)})`]);
  say(`  ask the internet's DNS server 203.0.113.53 for ${HOSTS.other.name} directly: ${resolver.code === 0 ? `GOT ${resolver.stdout.trim()} (unexpected)` : `stopped (${resolver.stdout.trim()}: every DNS packet goes to the node proxy)`}`);
  await attempt(`allowed SNI ${HOSTS.api.name}, sent to the decoy ${HOSTS.decoy.address}`, () => curl('attacker', `https://${HOSTS.api.name}/`, ['--resolve', `${HOSTS.api.name}:443:${HOSTS.decoy.address}`]));
  await attempt(`domain fronting: http://${HOSTS.api.name} with Host ${HOSTS.bar.name}`, () => curl('attacker', `http://${HOSTS.api.name}/`, ['-H', `Host: ${HOSTS.bar.name}`]), (l) => l.code === 'EGRESS_HOST_MISMATCH');
  await attempt(`plaintext straight to the gateway ${gw?.ip ?? '?'}:15008`, () => curl('attacker', `http://${gw?.ip ?? '0.0.0.0'}:15008/`), (l) => l.code === 'EGRESS_BAD_AUTHORITY');
  const dns = nodeProxyLines(lab, 'node-2').reverse().find((l) => JSON.stringify(l).includes(HOSTS.other.name));
  if (dns) say(`  node-2's DNS proxy logged: ${String(dns.msg)} (${HOSTS.other.name}, pod ${String(dns.pod ?? '?')})`);
}
