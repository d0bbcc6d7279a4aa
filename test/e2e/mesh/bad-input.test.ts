// Bad input against a real node proxy's HBONE port in the lab, one attack per test: each is
// refused, access-logged and counted on 15020 against the pod it was aimed at, while an app's
// connection through the same listener keeps echoing and new connections keep working.
//
// The attacker is root on node-1 (outside every pod, so nothing captures it), running
// attacker.ts's `probe` mode. Attacks past the handshake need a valid SVID: it steals one of
// web's the way the revocation test does, with node-2's node credential (the CA issues web's SVID
// only to web's node), and an expired one the same way while the mesh issues 6-s certificates.
// The unit tests (test/unit/hbone/attacks.test.ts) cover the same attacks with short limits;
// these run with the node proxy's own limits and telemetry.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { teardownLab, podExecArgv, readLabState } from '../../../src/lab/index.js';
import { fetchNodeProxyDump } from '../../../src/cli/proxy-config.js';
import { podManifest as pod } from '../../../src/demo/manifests.js';
import { DEFAULT_SERVER_LIMITS } from '../../../src/hbone/limits.js';
import { splitPemCertificates } from '../../../src/identity/index.js';
import { Followed, labTools, longLivedApp } from './lab-tools.js';
import { admin, apply, cli, cliOk, waitFor, waitPod } from '../lab/helpers.js';

const LAB = `bad${process.pid % 100000}`;
const ATTACKER = join(fileURLToPath(new URL('.', import.meta.url)), 'attacker.js');
const WEB = 'spiffe://cluster.local/ns/default/sa/web';
const WEB_PRINCIPAL = 'cluster.local/ns/default/sa/web';
const echo = ['ambit', 'app', 'echo', '--port', '8080', '--tcp-port', '9000'];

let work: string;
let roots: string[];
let stolen: { chainPem: string[]; keyPem: string };
let expired: { chainPem: string[]; keyPem: string; notAfter: number };
let app: { lines: string[]; done: Promise<number> };
const followed = new Followed();
const linesOf = (argv: string[]): { lines: string[]; done: Promise<number> } => followed.linesOf(argv);
const { ipOf, nodeNetns, nodeProxyLog, accessLines, curl } = labTools(LAB);



/** attacker.ts as root in `node`'s namespace, with its input in a file; its one result line. */
async function attacker(node: string, mode: 'svid' | 'probe', input: object): Promise<string> {
  const file = join(work, `${mode}-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(input), { mode: 0o600 });
  const p = linesOf(['ip', 'netns', 'exec', nodeNetns(node), process.execPath, ATTACKER, mode, file]);
  const code = await p.done;
  assert.equal(code, 0, `the attacker ran: ${p.lines.join(' | ')}`);
  const out = p.lines.filter((l) => l !== '');
  assert.equal(out.length, 1, `one result line: ${out.join(' | ')}`);
  return out[0]!;
}

/** Steals an SVID of web through node-2's node credential (what its root can do). */
async function stealWebSvid(): Promise<{ chainPem: string[]; keyPem: string }> {
  const token = await admin(LAB).issueNodeToken('node-2', 3600);
  const cp = readLabState(LAB)!.plan.cp.ip;
  return JSON.parse(await attacker('node-2', 'svid', { controlPlane: `${cp}:15012`, node: 'node-2', token, trustBundle: roots.join(''), identity: WEB })) as { chainPem: string[]; keyPem: string };
}


const echoes = (): number => app.lines.filter((l) => l.startsWith('ECHO ')).length;

/** Inbound refusals on node-2 counted on 15020 with `flag`, against web, summed over sources. */
async function failedCount(flag: string): Promise<number> {
  const m = await fetchNodeProxyDump(LAB, 'node-2', '/metrics', 15020);
  let n = 0;
  for (const l of m.body.split('\n')) {
    if (l.startsWith('ambit_tcp_connections_failed_total{direction="inbound",') && l.includes('destination_workload="web",') && l.includes(`response_flag="${flag}"}`)) n += Number(l.slice(l.lastIndexOf(' ') + 1));
  }
  return n;
}

interface Expect {
  /** The attacker's result line. */
  result: RegExp;
  flag: string;
  reason: RegExp;
  /** The source the access line names: `unknown` before a verified handshake, the thief's identity after. */
  sourcePrincipal: string;
}

/**
 * Runs one attack from node-1 at web's 15008 and checks it was refused as `e` says: the result,
 * one new access line on node-2 and its count on 15020; the app's connection through the same
 * listener echoed on meanwhile and still does; and a new connection to web works. Returns the
 * result line.
 */
async function attack(input: Record<string, unknown>, e: Expect): Promise<string> {
  const lines0 = accessLines('node-2').length;
  const counted0 = await failedCount(e.flag);
  const echoes0 = echoes();
  const result = await attacker('node-1', 'probe', { host: ipOf('web'), port: 15008, ...input });
  assert.match(result, e.result);
  const line = await waitFor('the refusal in node-2\'s access log', () => accessLines('node-2').slice(lines0).find((l) => l.flag === e.flag && e.reason.test(String(l.reason))), 5_000)
    .catch((err: Error) => assert.fail(`${err.message}; new lines: ${JSON.stringify(accessLines('node-2').slice(lines0).map((l) => [l.flag, l.reason]))}`));
  assert.equal(line.direction, 'inbound');
  assert.equal(line.destinationWorkload, 'web');
  assert.equal(line.destinationPrincipal, WEB_PRINCIPAL);
  assert.equal(line.sourcePrincipal, e.sourcePrincipal);
  await waitFor(`the refusal counted on 15020 (${e.flag})`, async () => ((await failedCount(e.flag)) > counted0 ? true : undefined), 5_000);
  // Other traffic flows: the app's connection through web's listener keeps echoing, and a new one works.
  await waitFor('the app\'s connection echoes on', () => (echoes() >= echoes0 + 3 ? true : undefined), 5_000);
  assert.ok(!app.lines.some((l) => l === 'CLOSED' || l.startsWith('ERR ')), `the app's connection is still open: ${app.lines.slice(-3).join(' | ')}`);
  const fresh = await curl('client', `http://${ipOf('web')}:8080/after`);
  assert.equal(fresh.code, 0, fresh.stderr);
  return result;
}

const withSvid = (svid: { chainPem: string[]; keyPem: string }, alpn?: string[]) => ({ chainPem: svid.chainPem, keyPem: svid.keyPem, rootsPem: roots, ...(alpn ? { alpn } : {}) });

describe('bad input on a node proxy\'s 15008 in the lab: refused, logged and counted, while other traffic flows', () => {
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'ambit-bad-input-'));
    await cliOk(['lab', 'up', '--name', LAB]);
    await apply(LAB, [pod('web', 'node-2', 'web', echo, { app: 'web' }), pod('client', 'node-1', 'client', ['sleep', 'infinity'])].join('---\n'));
    for (const p of ['web', 'client']) await waitPod(LAB, p);
    await waitFor('web answers through the mesh', async () => ((await curl('client', `http://${ipOf('web')}:8080/`)).code === 0 ? true : undefined), 20_000);
    roots = splitPemCertificates(await admin(LAB).trustBundle());
    stolen = await stealWebSvid();
    // A certificate that was valid and has expired: stolen while the mesh issues 6-s ones.
    await apply(LAB, 'apiVersion: ambit.dev/v1alpha1\nkind: MeshConfig\nmetadata: { name: mesh }\nspec: { certificateTTLSeconds: 6 }\n');
    try {
      const short = await stealWebSvid();
      expired = { ...short, notAfter: Date.parse(new X509Certificate(short.chainPem[0]!).validTo) };
      assert.ok(expired.notAfter - Date.now() < 10_000, `a short-lived SVID: ${new X509Certificate(short.chainPem[0]!).validTo}`);
    } finally {
      await admin(LAB).delete([{ kind: 'MeshConfig', name: 'mesh' }]);
    }
    app = linesOf(podExecArgv(LAB, 'default', 'client', [process.execPath, '-e', longLivedApp(ipOf('web'))]));
    await waitFor('the app\'s connection to web echoes', () => (echoes() >= 2 ? true : undefined), 10_000);
  });

  after(async () => {
    followed.killAll();
    await cli(['lab', 'down', '--name', LAB]);
    await teardownLab(LAB);
    rmSync(work, { recursive: true, force: true });
  });

  test('non-TLS bytes: closed without an answer', async () => {
    await attack({ attack: 'plain' }, { result: /^CLOSED \d+ http=false$/, flag: 'TLS_FAILURE', reason: /^TLS_FAILURE: ERR_SSL_(HTTP_REQUEST|WRONG_VERSION_NUMBER): /, sourcePrincipal: 'unknown' });
  });

  test('TLS without a client certificate: no tunnel', async () => {
    await attack({ attack: 'connect', tls: { rootsPem: roots }, authority: `${ipOf('web')}:9000` }, { result: /^ERR /, flag: 'TLS_FAILURE', reason: /^TLS_FAILURE: ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE: /, sourcePrincipal: 'unknown' });
  });

  test('a certificate of web from another CA: no tunnel', async () => {
    await attack({ attack: 'connect', tls: { otherCa: { identity: WEB }, rootsPem: roots }, authority: `${ipOf('web')}:9000` }, { result: /^ERR /, flag: 'TLS_FAILURE', reason: /^TLS_FAILURE: client certificate rejected: UNABLE_TO_VERIFY_LEAF_SIGNATURE$/, sourcePrincipal: 'unknown' });
  });

  test('an expired SVID the mesh CA really issued: no tunnel', async () => {
    const wait = expired.notAfter + 1000 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await attack({ attack: 'connect', tls: withSvid(expired), authority: `${ipOf('web')}:9000` }, { result: /^ERR /, flag: 'TLS_FAILURE', reason: /^TLS_FAILURE: client certificate rejected: CERT_HAS_EXPIRED$/, sourcePrincipal: 'unknown' });
  });

  test('a valid SVID with the wrong ALPN (http/1.1): no tunnel', async () => {
    await attack({ attack: 'connect', tls: withSvid(stolen, ['http/1.1']), authority: `${ipOf('web')}:9000` }, { result: /^ERR /, flag: 'TLS_FAILURE', reason: /^ALPN: /, sourcePrincipal: 'unknown' });
  });

  test('a CONNECT whose authority is malformed gets 400', async () => {
    await attack({ attack: 'connect', tls: withSvid(stolen), authority: 'web.default.svc.cluster.local:9000' }, { result: /^STATUS 400$/, flag: 'BAD_REQUEST', reason: /^BAD_AUTHORITY: Cannot parse :authority "web\.default\.svc\.cluster\.local:9000": /, sourcePrincipal: WEB_PRINCIPAL });
  });

  test('a CONNECT naming another pod gets 400', async () => {
    await attack({ attack: 'connect', tls: withSvid(stolen), authority: `${ipOf('client')}:9000` }, { result: /^STATUS 400$/, flag: 'BAD_REQUEST', reason: new RegExp(`^CONNECT authority ${ipOf('client').replaceAll('.', '\\.')}:9000 does not name this pod \\(${ipOf('web').replaceAll('.', '\\.')}\\)$`), sourcePrincipal: WEB_PRINCIPAL });
  });

  test('oversized request headers get 431', async () => {
    await attack({ attack: 'connect', tls: withSvid(stolen), authority: `${ipOf('web')}:9000`, padBytes: 20_000 }, { result: /^STATUS 431$/, flag: 'BAD_REQUEST', reason: new RegExp(`^HEADERS_TOO_LARGE: request headers are 20\\d{3} bytes, limit ${DEFAULT_SERVER_LIMITS.maxHeaderListSize}$`), sourcePrincipal: WEB_PRINCIPAL });
  });

  test('thousands of streams on one connection: the limit holds, the rest are refused', async () => {
    const limit = DEFAULT_SERVER_LIMITS.maxConcurrentStreams;
    const result = await attack({ attack: 'streams', tls: withSvid(stolen), authority: `${ipOf('web')}:9000`, count: 3 * limit }, { result: /^STREAMS answered=\d+ refused=\d+ goaway=(true|false)$/, flag: 'BAD_REQUEST', reason: new RegExp(`^TOO_MANY_STREAMS: stream \\d+ would be number ${limit + 1} on one connection, limit ${limit}$`), sourcePrincipal: WEB_PRINCIPAL });
    const [, answered, refused] = /answered=(\d+) refused=(\d+)/.exec(result)!.map(Number);
    assert.ok(answered! <= limit, `at most ${limit} tunnels answered: ${result}`);
    assert.ok(refused! >= 2 * limit, `the streams past the limit refused (REFUSED_STREAM): ${result}`);
  });

  test('slow-loris: a ClientHello trickled a byte at a time is dropped at the handshake deadline', async () => {
    const deadline = DEFAULT_SERVER_LIMITS.handshakeTimeoutMs;
    const result = await attack({ attack: 'slowloris', intervalMs: 500 }, { result: /^CLOSED after \d+ ms$/, flag: 'TLS_FAILURE', reason: new RegExp(`^HANDSHAKE_TIMEOUT: TLS handshake from \\S+ not finished within ${deadline} ms$`), sourcePrincipal: 'unknown' });
    const ms = Number(/after (\d+) ms/.exec(result)![1]);
    // Each byte would restart an inactivity timer: only an absolute deadline drops it.
    assert.ok(ms >= deadline - 500, `dropped at the deadline, not before: ${ms} ms`);
  });
});
