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
//   probe {attack, host, port, ...}
//         One piece of bad input against an HBONE port (bad-input.test.ts), then one result line:
//         plain      HTTP/1.1 bytes instead of a handshake    -> CLOSED <bytes back> http=<bool>
//         connect    a CONNECT with the TLS of {tls} (any certificate, ALPN) and {authority},
//                    {padBytes} of extra header             -> STATUS <n> | ERR <code> <message>
//         streams    {count} CONNECTs at once on one connection (raw HTTP/2)
//                                                          -> STREAMS answered=<n> refused=<n> goaway=<bool>
//         slowloris  a partial ClientHello, a byte every {intervalMs}
//                                                          -> CLOSED after <ms> ms
//         Each waits at most 20 s, then says TIMEOUT.
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { connect as h2connect } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, createSecureContext, type SecureContext } from 'node:tls';
import { MeshFixture } from '../../../src/testing/svid-fixtures.js';
import { FRAME, RawH2 } from '../../unit/hbone/raw-h2.js';
import { ConfigStreamClient, controlPlaneIdentity } from '../../../src/stream/index.js';
import { createHboneContext, HbonePool } from '../../../src/hbone/index.js';
import { createCsr, parseSpiffeId } from '../../../src/identity/index.js';
import { silentLogger } from '../../../src/log.js';

const [mode, inputFile] = process.argv.slice(2);
const input = JSON.parse(readFileSync(inputFile!, 'utf8')) as Record<string, unknown>;
/** One line out (an error message of several lines is joined into one). */
const say = (line: string): void => void process.stdout.write(`${line.replace(/\s*\n\s*/g, ' ')}\n`);

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
  // One stream per node: this session and node-2's own proxy replace each other as each
  // reconnects, and a CSR out when ours is replaced is lost. Asked again once connected again.
  let svid;
  for (let attempt = 1; ; attempt++) {
    try {
      svid = await c.requestSvid(identity, csr.csrPem);
      break;
    } catch (err) {
      if ((err as { code?: string }).code !== 'STREAM_DISCONNECTED' || attempt === 10) throw err;
      const end = Date.now() + 10_000;
      while (!c.connected && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    }
  }
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

interface ProbeTls {
  /** The client certificate: a chain and key, or `otherCa` for one of `identity` from a CA of the attacker's own; none if neither. */
  chainPem?: string[];
  keyPem?: string;
  otherCa?: { identity: string };
  rootsPem: string[];
  /** ALPN offered; default ["h2"]. */
  alpn?: string[];
}

function probeContext(t: ProbeTls): SecureContext {
  if (t.otherCa) {
    const own = MeshFixture.create().mint(t.otherCa.identity);
    return createSecureContext({ cert: own.chainPem.join(''), key: own.keyPem, ca: t.rootsPem, minVersion: 'TLSv1.3' });
  }
  return createSecureContext({ ...(t.chainPem ? { cert: t.chainPem.join(''), key: t.keyPem } : {}), ca: t.rootsPem, minVersion: 'TLSv1.3' });
}

const PROBE_MS = 20_000;

async function probe(): Promise<void> {
  const host = String(input.host);
  const port = Number(input.port);
  const timer = setTimeout(() => {
    say('TIMEOUT');
    process.exit(0);
  }, PROBE_MS);
  const tls = input.tls as ProbeTls | undefined;
  switch (input.attack) {
    case 'plain': {
      const s = netConnect({ host, port }, () => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      const back: Buffer[] = [];
      s.on('data', (d: Buffer) => back.push(d));
      s.on('error', () => undefined);
      await once(s, 'close');
      const all = Buffer.concat(back);
      say(`CLOSED ${all.length} http=${all.includes('HTTP/')}`);
      break;
    }
    case 'connect': {
      const session = h2connect(`https://${host}:${port}`, {
        createConnection: () => tlsConnect({ host, port, secureContext: probeContext(tls!), ALPNProtocols: tls!.alpn ?? ['h2'], checkServerIdentity: () => undefined }),
      });
      const result = await new Promise<string>((resolve) => {
        session.on('error', (err: NodeJS.ErrnoException) => resolve(`ERR ${err.code ?? '-'} ${err.message}`));
        session.on('close', () => resolve('ERR - connection closed'));
        const pad = Number(input.padBytes ?? 0);
        const req = session.request({ ':method': 'CONNECT', ':authority': String(input.authority), ...(pad ? { 'x-pad': 'a'.repeat(pad) } : {}) }, { endStream: false });
        req.on('response', (h) => resolve(`STATUS ${String(h[':status'])}`));
        req.on('error', (err: NodeJS.ErrnoException) => resolve(`ERR ${err.code ?? '-'} ${err.message}`));
      });
      say(result);
      session.destroy();
      break;
    }
    case 'streams': {
      const raw = await RawH2.connect(port, probeContext(tls!), host);
      const count = Number(input.count);
      const frames: Buffer[] = [];
      for (let i = 0; i < count; i++) frames.push(raw.connectFrame(1 + 2 * i, String(input.authority)));
      raw.socket.write(Buffer.concat(frames));
      const answered = (): number => raw.frames.filter((f) => f.type === FRAME.HEADERS).length;
      const refused = (): number => raw.frames.filter((f) => f.type === FRAME.RST_STREAM && f.payload.readUInt32BE(0) === 7).length;
      const goaway = (): boolean => raw.frames.some((f) => f.type === FRAME.GOAWAY);
      // Every stream answered, refused, or the connection gone; then a moment for stragglers.
      await raw.waitFor(() => answered() + refused() >= count || goaway(), 15_000).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 200));
      say(`STREAMS answered=${answered()} refused=${refused()} goaway=${goaway()}`);
      raw.socket.destroy();
      break;
    }
    case 'slowloris': {
      const s = netConnect({ host, port });
      await once(s, 'connect');
      const started = Date.now();
      // A record header announcing a 512-byte handshake, then the start of a ClientHello, slowly.
      const partial = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, ...Array.from({ length: 32 }, (_, i) => i)]);
      let i = 0;
      const trickle = setInterval(() => { if (!s.destroyed && i < partial.length) s.write(partial.subarray(i, ++i)); }, Number(input.intervalMs ?? 500));
      s.on('error', () => undefined);
      await once(s, 'close');
      clearInterval(trickle);
      say(`CLOSED after ${Date.now() - started} ms`);
      break;
    }
    default:
      throw new Error(`unknown attack ${JSON.stringify(input.attack)}`);
  }
  clearTimeout(timer);
}

const modes: Record<string, () => Promise<void>> = { svid: stealSvid, dial, probe };
(modes[String(mode)]?.() ?? Promise.reject(new Error(`unknown mode ${String(mode)}`))).then(
  () => process.exit(0),
  (err: unknown) => {
    say(`ERR - ${(err as Error).message}`);
    process.exit(1);
  },
);
