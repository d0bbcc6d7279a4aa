// Revoking a compromised node in a real lab: its root steals an SVID the way its proxy gets one
// (its node credential, a config-stream session, a CSR), which works until `ambit node revoke`.
// From then on every other node proxy refuses that SVID, at once and at both ends: the stolen
// tunnel already open into a pod on another node is closed, a new one is refused (REVOKED,
// logged with the identity it proved), and no pod sends to the revoked node's pods any more,
// while traffic between the other nodes flows on.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { teardownLab, podExecArgv, readLabState } from '../../../src/lab/index.js';
import { podManifest as pod } from '../../../src/demo/manifests.js';
import { Followed, labTools, longLivedApp } from './lab-tools.js';
import { admin, apply, cli, cliOk, waitFor, waitPod } from '../lab/helpers.js';
import { splitPemCertificates } from '../../../src/identity/index.js';

const LAB = `rvk${process.pid % 100000}`;
const ATTACKER = join(fileURLToPath(new URL('.', import.meta.url)), 'attacker.js');
const WEB = 'spiffe://cluster.local/ns/default/sa/web';
const NEAR = 'spiffe://cluster.local/ns/default/sa/near';
const echo = ['ambit', 'app', 'echo', '--port', '8080', '--tcp-port', '9000'];

let work: string;
const followed = new Followed();
const linesOf = (argv: string[]): { lines: string[]; done: Promise<number> } => followed.linesOf(argv);
const { ipOf, nodeNetns, nodeProxyLog, accessLines, curl } = labTools(LAB);


/** The attacker script as root in `node`'s namespace; its stdout lines as they come. */
function attacker(node: string, mode: 'svid' | 'dial', input: object): { lines: string[]; done: Promise<number> } {
  const file = join(work, `${mode}-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(input), { mode: 0o600 });
  return linesOf(['ip', 'netns', 'exec', nodeNetns(node), process.execPath, ATTACKER, mode, file]);
}



const line = (lines: string[], re: RegExp, what: string, ms = 10_000): Promise<string> =>
  waitFor(what, () => lines.find((l) => re.test(l)), ms).catch((err: Error) => assert.fail(`${err.message}; the process said: ${lines.join(' | ')}`));

describe('revoking a compromised node: its SVIDs are refused everywhere', () => {
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'ambit-revocation-'));
    await cliOk(['lab', 'up', '--name', LAB]);
    await apply(LAB, [
      pod('web', 'node-2', 'web', echo, { app: 'web' }),
      pod('near', 'node-1', 'near', echo, { app: 'near' }),
      pod('client', 'node-1', 'client', ['sleep', 'infinity']),
    ].join('---\n'));
    for (const p of ['web', 'near', 'client']) await waitPod(LAB, p);
    for (const server of ['web', 'near']) {
      await waitFor(`${server} answers through the mesh`, async () => ((await curl('client', `http://${ipOf(server)}:8080/`)).code === 0 ? true : undefined), 20_000);
    }
  });

  after(async () => {
    followed.killAll();
    await cli(['lab', 'down', '--name', LAB]);
    await teardownLab(LAB);
    rmSync(work, { recursive: true, force: true });
  });

  test('a stolen SVID works until ambit node revoke, then its open tunnel is closed, new ones are refused, and nobody sends to the node', async (t) => {
    const state = readLabState(LAB)!;
    const roots = splitPemCertificates(await admin(LAB).trustBundle());
    // node-2 is compromised: its root holds a node credential, as node-2's proxy does, and asks for web's SVID with it.
    const token = await admin(LAB).issueNodeToken('node-2', 3600);
    const steal = attacker('node-2', 'svid', { controlPlane: `${state.plan.cp.ip}:15012`, node: 'node-2', token, trustBundle: roots.join(''), identity: WEB });
    const stolen = JSON.parse(await line(steal.lines, /^\{/, 'the stolen SVID')) as { chainPem: string[]; keyPem: string };
    const dialNear = { ...stolen, rootsPem: roots, expectedIdentity: NEAR, host: ipOf('near'), port: 15008, authority: `${ipOf('near')}:9000`, intervalMs: 200 };

    // Before the revocation the SVID is valid: a tunnel from node-2 into near, on node-1, echoes.
    const open = attacker('node-2', 'dial', dialNear);
    await line(open.lines, /^ECHO ping 2$/, 'the tunnel with the stolen SVID echoes before the revocation');
    // And an app on node-1 holds a connection to web, on node-2, open through node-1's proxy.
    const app = linesOf(podExecArgv(LAB, 'default', 'client', [process.execPath, '-e', longLivedApp(ipOf('web'))]));
    await line(app.lines, /^ECHO 2$/, 'the app\'s connection to web echoes before the revocation');

    const out = await cliOk(['--lab', LAB, 'node', 'revoke', 'node-2']);
    const revokedAt = performance.now();
    assert.match(out, /^node node-2: credentials issued up to .* revoked/);

    // node-1's proxy learns it from the config stream and closes the stolen tunnel it had accepted.
    await line(open.lines, /^CLOSED$/, 'the open tunnel closed after the revocation');
    t.diagnostic(`the stolen tunnel was closed ${Math.round(performance.now() - revokedAt)} ms after ambit node revoke returned (polled every 50 ms)`);
    assert.equal(await open.done, 0);
    await waitFor('the closing logged with the identity proven and the revoked node', () =>
      nodeProxyLog('node-1').split('\n').some((l) => l.includes('"hbone refused"') && l.includes('"REVOKED"') && l.includes(WEB) && l.includes('open connection closed') && l.includes('issued to node \\"node-2\\"')) ? true : undefined, 5_000);

    // node-1's proxy also closed its own tunnel to web, which proves an SVID of node-2: the app's connection ends.
    await line(app.lines, /^CLOSED$/, 'the app\'s connection to the revoked node closed');
    assert.equal(await app.done, 0);
    // And it was the revocation that closed it (not, say, node-2 dropping its tunnels): node-1 says so.
    await waitFor('node-1 logged closing its connection to the revoked node', () =>
      nodeProxyLog('node-1').split('\n').some((l) => l.includes('"hbone connection to a revoked destination closed"') && l.includes('issued to node \\"node-2\\"')) ? true : undefined, 5_000);

    // A new tunnel with it is refused at the handshake, access-logged as REVOKED with its true identity.
    const marks = accessLines('node-1').length;
    const again = attacker('node-2', 'dial', dialNear);
    // Refused in the handshake: the client's connect fails (a tunnel refused after it would be HBONE_DENIED).
    await line(again.lines, /^ERR HBONE_CONNECT_FAILED /, 'a new tunnel with the stolen SVID fails at the handshake');
    assert.ok(!again.lines.includes('OPEN'), `no tunnel opened: ${again.lines.join(' | ')}`);
    await waitFor('this refusal access-logged', () =>
      accessLines('node-1').slice(marks).some((l) => l.flag === 'REVOKED' && l.sourcePrincipal === 'cluster.local/ns/default/sa/web' && l.destinationWorkload === 'near' && !/open connection closed/.test(String(l.reason)) && /issued to node "node-2"/.test(String(l.reason))) ? true : undefined, 5_000);

    // The other direction: node-2's proxy still serves web with its old SVID, and node-1 refuses to send to it.
    const toWeb = await curl('client', `http://${ipOf('web')}:8080/after-revocation`);
    assert.notEqual(toWeb.code, 0, `nothing reaches web on the revoked node: ${toWeb.stdout}`);
    await waitFor('the source refused the destination as revoked', () =>
      accessLines('node-1').some((l) => l.flag === 'REVOKED' && l.sourceWorkload === 'client' && l.destinationWorkload === 'web' && /issued to node "node-2"/.test(String(l.reason))) ? true : undefined, 5_000);

    // The operator sees it in node-1's proxy config.
    const dump = await cliOk(['--lab', LAB, 'proxy-config', 'node-1']);
    assert.match(dump, /REVOKED \(peers proving an SVID of these are refused\)\nREVOKED\s+REFUSED\nnode node-2\s+SVIDs issued up to \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z\n/);

    // Traffic that does not involve node-2 flows on.
    const toNear = await curl('client', `http://${ipOf('near')}:8080/still-fine`);
    assert.equal(toNear.code, 0, toNear.stderr);
  });
});
