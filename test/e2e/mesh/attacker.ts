// The attacker of the revocation tests: a compromised node's root, run with `ip netns exec` in
// that node's namespace. Two modes, each reading its JSON input from the file named by argv[3]:
//
//   svid  {controlPlane, node, token, trustBundle, identity}
//         Opens a config-stream session with the node's credential, as its proxy does, and asks
//         for an SVID of `identity`; prints {chainPem, keyPem} as one JSON line (the stolen SVID).
//   dial  {chainPem, keyPem, rootsPem, expectedIdentity, host, port, authority, intervalMs}
//         Opens an HBONE tunnel with that SVID through the real client code, sends a line every
//         intervalMs and prints what comes back: `OPEN`, `ECHO <line>`, then `CLOSED` or
//         `ERR <code> <message>`, one per line, and exits when the tunnel ends.
import { readFileSync } from 'node:fs';
import { ConfigStreamClient, controlPlaneIdentity } from '../../../src/stream/index.js';
import { createHboneContext, HbonePool } from '../../../src/hbone/index.js';
import { createCsr, parseSpiffeId } from '../../../src/identity/index.js';
import { silentLogger } from '../../../src/log.js';

const [mode, inputFile] = process.argv.slice(2);
const input = JSON.parse(readFileSync(inputFile!, 'utf8')) as Record<string, unknown>;
const say = (line: string): void => void process.stdout.write(`${line}\n`);

async function stealSvid(): Promise<void> {
  const c = new ConfigStreamClient({
    address: String(input.controlPlane),
    node: String(input.node),
    token: String(input.token),
    trustBundle: String(input.trustBundle),
    serverIdentity: controlPlaneIdentity('cluster.local'),
    log: silentLogger(),
  });
  c.start();
  await c.waitForVersion(1, 10_000);
  const identity = String(input.identity);
  const csr = createCsr(parseSpiffeId(identity));
  const svid = await c.requestSvid(identity, csr.csrPem);
  say(JSON.stringify({ chainPem: svid.chain, keyPem: csr.privateKey.export({ type: 'pkcs8', format: 'pem' }) }));
  c.stop();
}

async function dial(): Promise<void> {
  const pool = new HbonePool({ refusePeerCertificate: () => undefined, logger: silentLogger() });
  const roots = input.rootsPem as string[];
  const secureContext = createHboneContext({ chainPem: input.chainPem as string[], keyPem: String(input.keyPem), rootsPem: roots });
  let stream;
  try {
    stream = await pool.open({
      sourceIdentity: 'stolen',
      secureContext,
      trustedRoots: roots,
      expectedIdentity: String(input.expectedIdentity),
      address: { host: String(input.host), port: Number(input.port) },
      authority: String(input.authority),
    });
  } catch (err) {
    say(`ERR ${(err as { code?: string }).code ?? '-'} ${(err as Error).message}`);
    return;
  }
  say('OPEN');
  let n = 0;
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (d: string) => {
    buffered += d;
    for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
      say(`ECHO ${buffered.slice(0, i)}`);
      buffered = buffered.slice(i + 1);
    }
  });
  const timer = setInterval(() => stream.write(`ping ${++n}\n`), Number(input.intervalMs ?? 200));
  stream.write(`ping ${++n}\n`);
  await new Promise<void>((resolve) => {
    stream.on('error', (err: Error) => say(`ERR ${(err as { code?: string }).code ?? '-'} ${err.message}`));
    stream.once('close', () => resolve());
  });
  clearInterval(timer);
  say('CLOSED');
  await pool.close();
}

(mode === 'svid' ? stealSvid() : mode === 'dial' ? dial() : Promise.reject(new Error(`unknown mode ${String(mode)}`))).then(
  () => process.exit(0),
  (err: unknown) => {
    say(`ERR - ${(err as Error).message}`);
    process.exit(1);
  },
);
