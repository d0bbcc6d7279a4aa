// Pods are isolated from each other on the one machine they share: each runs as a uid of its
// own (so it cannot ptrace another pod's process, read its /proc/<pid>/environ or mem, or signal
// it), with a private HOME and TMPDIR; no pod reads a lab log or the gateway's credential; the
// egress gateway runs as its own non-root uid without capabilities and cannot read the control
// plane's files; and `lab down` leaves nothing any pod wrote. Regression tests for review
// findings H1 (a pod took over another's process and egressed as it) and H2 (a root gateway).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { teardownLab, readLabState, capEff, execInPod, podHome, podHomesDir, labUidRange, POD_UID_BASE, listNetns } from '../../../src/lab/index.js';
import { labRunDir, controlPlaneDataDir, adminSocketPath } from '../../../src/paths.js';
import { run } from '../../../src/lab/shell.js';
import { apply, cli, cliOk, podOf, sleeperPod, waitFor, waitPod, type PodView } from './helpers.js';

const LAB = `iso${process.pid % 100000}`;

const LAB_FILE = `apiVersion: ambit.dev/v1alpha1
kind: Lab
spec:
  nodes: 2
  egress: { node: node-1 }
---
${sleeperPod('app', 'node-1')}---
${sleeperPod('other', 'node-1')}---
${sleeperPod('far', 'node-2')}`;

/** ptrace(PTRACE_ATTACH, pid): prints "attached" or the errno name. */
const PTRACE = [
  'import ctypes, errno, sys',
  'libc = ctypes.CDLL(None, use_errno=True)',
  'libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]',
  'def attach(pid):',
  '    r = libc.ptrace(16, pid, None, None)',
  '    return "attached" if r == 0 else errno.errorcode[ctypes.get_errno()]',
].join('\n');
// Were the attach ever to succeed, the target is let go again (it would stay stopped otherwise).
const PTRACE_PID = `${PTRACE}\nimport os\npid = int(sys.argv[1])\nr = attach(pid)\nif r == "attached":\n    os.waitpid(pid, 0x40000000)\n    libc.ptrace(17, pid, None, None)\nprint(r)`;
/** The control: the same code attaches to a process of its own (its child), so EPERM above means the uid. */
// (SIGKILL, not SIGTERM: a stopped tracee would keep our stdout open and the exec from ending.)
const PTRACE_OWN_CHILD = `${PTRACE}\nimport os, subprocess\np = subprocess.Popen(["sleep", "30"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\nprint(attach(p.pid))\nos.kill(p.pid, 9)\np.wait()`;
const READ_MEM = "import sys\ntry:\n    open('/proc/%s/mem' % sys.argv[1], 'rb').read(1)\n    print('read')\nexcept OSError as e:\n    print(type(e).__name__)";

function pod(name: string, namespace = 'default'): PodView & { uid: number; pid: number } {
  const p = podOf(LAB, name, namespace);
  assert.ok(p && p.phase === 'Running', `pod ${namespace}/${name} runs: ${JSON.stringify(p)}`);
  assert.ok(p.uid !== undefined, `pod ${namespace}/${name} has a uid`);
  return { ...p, uid: p.uid, pid: p.containers[0]!.pid };
}

function procIds(pid: number): { uid: string; gid: string; capEff: bigint } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { uid: /^Uid:\s+(.*)$/m.exec(status)![1]!.trim(), gid: /^Gid:\s+(.*)$/m.exec(status)![1]!.trim(), capEff: capEff(pid) };
}

function exec(name: string, argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return execInPod(LAB, 'default', name, argv, { timeoutMs: 15_000 });
}

/** Runs argv in the root namespace as `uid` (no groups, no capabilities). */
function asUid(uid: number, argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--', ...argv], { allowFail: true });
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? [p, ...walk(p)] : [p];
  });
}

describe('lab isolation: a user per pod, private homes, closed logs, a non-root gateway', () => {
  let dir = '';
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ambit-lab-iso-'));
    writeFileSync(join(dir, 'lab.yaml'), LAB_FILE);
    await cliOk(['lab', 'up', '--name', LAB, '-f', join(dir, 'lab.yaml')]);
    for (const p of ['app', 'other', 'far']) await waitPod(LAB, p);
  });
  after(async () => {
    await cli(['lab', 'down', '--name', LAB]);
    await teardownLab(LAB); // also when the CLI itself cannot run
    rmSync(dir, { recursive: true, force: true });
    for (const d of ['/tmp', '/dev/shm']) rmSync(join(d, `ambit-${LAB}-planted`), { force: true });
  });

  test('every pod has a uid of its own, in the lab block, and runs (and is exec-ed into) as it', async () => {
    const pods = [pod('app'), pod('other'), pod('far'), pod('egress-gateway', 'ambit-system')];
    const uids = pods.map((p) => p.uid);
    assert.equal(new Set(uids).size, uids.length, `distinct uids: ${uids.join(', ')}`);
    const { first, last } = labUidRange(LAB);
    for (const p of pods) {
      assert.ok(p.uid >= POD_UID_BASE && p.uid >= first && p.uid <= last, `${p.name}: uid ${p.uid} in ${first}-${last}`);
      // "Running" means started: the recorded process may still be `ip`/`setpriv` for an instant,
      // as root, before it drops to the pod's user and execs the command; setpriv changes the uid
      // before it clears the capabilities. Wait for the exec (the process is no longer a launcher).
      const ids = await waitFor(`${p.name} dropped to its uid and exec-ed its command`, () => {
        const comm = readFileSync(`/proc/${p.pid}/comm`, 'utf8').trim();
        const now = procIds(p.pid);
        return now.uid.startsWith('0\t') || ['ip', 'setpriv', 'nsenter'].includes(comm) ? undefined : now;
      }, 5_000);
      assert.equal(ids.uid, `${p.uid}\t${p.uid}\t${p.uid}\t${p.uid}`, `${p.name}: the process runs as its pod's uid`);
      assert.equal(ids.gid, `${p.uid}\t${p.uid}\t${p.uid}\t${p.uid}`, `${p.name}: and its gid`);
      assert.equal(ids.capEff, 0n, `${p.name}: without capabilities`);
    }
    for (const name of ['app', 'other', 'far']) {
      const r = await cli(['lab', 'exec', name, '--name', LAB, '--', 'id', '-u']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), String(pod(name).uid), `lab exec ${name} runs as ${name}'s uid`);
      assert.equal((await exec(name, ['id', '-G'])).stdout.trim(), String(pod(name).uid), 'no other group');
    }
  });

  test("a pod cannot ptrace, read /proc/<pid>/environ or mem of, or signal another pod's process", async () => {
    // The control first: the very same code can attach to a process of its own user.
    const own = await exec('other', ['python3', '-c', PTRACE_OWN_CHILD]);
    assert.equal(own.stdout.trim(), 'attached', `control: ${own.stderr}`);
    const targets = [pod('app'), pod('far'), pod('egress-gateway', 'ambit-system')];
    for (const t of targets) {
      const attach = await exec('other', ['python3', '-c', PTRACE_PID, String(t.pid)]);
      assert.equal(attach.stdout.trim(), 'EPERM', `ptrace ${t.name} (pid ${t.pid}): ${attach.stdout}${attach.stderr}`);
      const environ = await exec('other', ['cat', `/proc/${t.pid}/environ`]);
      assert.notEqual(environ.code, 0);
      assert.match(environ.stderr, /Permission denied/, `environ of ${t.name}`);
      assert.equal(environ.stdout, '');
      const mem = await exec('other', ['python3', '-c', READ_MEM, String(t.pid)]);
      assert.equal(mem.stdout.trim(), 'PermissionError', `mem of ${t.name}: ${mem.stderr}`);
      const kill = await exec('other', ['kill', '-0', String(t.pid)]);
      assert.notEqual(kill.code, 0, `signal ${t.name}`);
      assert.match(kill.stderr, /Operation not permitted/);
    }
    // Its own process it can read (so the denials above are about the other uid, not /proc).
    const self = await exec('other', ['sh', '-c', `tr '\\0' '\\n' < /proc/${pod('other').pid}/environ`]);
    assert.match(self.stdout, /^POD_NAME=other$/m);
  });

  test('exec ends at its timeout even when a process it left behind holds its output open', async () => {
    const t0 = Date.now();
    const r = await execInPod(LAB, 'default', 'other', ['sh', '-c', 'sleep 30 & sleep 60'], { timeoutMs: 1000 });
    assert.notEqual(r.code, 0);
    assert.ok(Date.now() - t0 < 10_000, `ended after ${Date.now() - t0} ms`);
  });

  test('HOME and TMPDIR are private: 0700 dirs of the pod uid under the run dir that no other pod can list or write', async () => {
    const app = pod('app');
    const home = podHome(LAB, app.uid);
    const env = await exec('app', ['sh', '-c', 'echo "$HOME $TMPDIR"; echo proxy=http://evil > "$HOME/.curlrc"; mktemp']);
    assert.equal(env.code, 0, env.stderr);
    const [homeTmp, made] = env.stdout.trim().split('\n');
    assert.equal(homeTmp, `${home} ${join(home, 'tmp')}`);
    assert.ok(made!.startsWith(`${join(home, 'tmp')}/`), `mktemp uses TMPDIR: ${made}`);
    for (const d of [home, join(home, 'tmp')]) {
      const st = statSync(d);
      assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [app.uid, app.uid, 0o700], d);
    }
    assert.ok(home.startsWith(`${labRunDir(LAB)}/`));
    for (const intruder of ['other', 'far']) {
      for (const argv of [['ls', home], ['ls', join(home, 'tmp')], ['cat', join(home, '.curlrc')], ['touch', join(home, 'planted')], ['touch', join(home, 'tmp', 'planted')]]) {
        const r = await exec(intruder, argv);
        assert.notEqual(r.code, 0, `${intruder}: ${argv.join(' ')} succeeded`);
        assert.match(r.stderr, /Permission denied/, `${intruder}: ${argv.join(' ')}`);
      }
    }
    // The homes directory does not tell a pod which other homes exist.
    const list = await exec('other', ['ls', podHomesDir(LAB)]);
    assert.match(list.stderr, /Permission denied/);
    // And a pod's curl does not read what the other pod planted in /tmp's place of old (HOME=/tmp).
    assert.notEqual((await exec('other', ['sh', '-c', 'echo "$HOME"'])).stdout.trim(), '/tmp');
  });

  test('a pod cannot read any lab log file, list the log directory, or read the gateway token', async () => {
    const logs = join(labRunDir(LAB), 'logs');
    const entries = walk(logs);
    const files = entries.filter((p) => statSync(p).isFile());
    assert.ok(files.some((f) => f.endsWith('gateway.log')) && files.some((f) => f.endsWith('agent.log')), `log files: ${files.join(', ')}`);
    for (const p of [logs, ...entries]) {
      const st = statSync(p);
      assert.deepEqual([st.uid, st.mode & 0o777], [0, st.isDirectory() ? 0o700 : 0o600], p);
    }
    const ls = await exec('app', ['ls', logs]);
    assert.match(ls.stderr, /Permission denied/);
    // Even knowing every path (the names are predictable), nothing is readable.
    const cat = await exec('app', ['sh', '-c', `for f in ${files.join(' ')}; do cat "$f" >/dev/null 2>&1 && echo "READ $f"; done; true`]);
    assert.equal(cat.stdout, '', 'no log was readable');
    const e = readLabState(LAB)!.plan.egress!;
    const token = await exec('app', ['cat', e.tokenFile]);
    assert.notEqual(token.code, 0);
    assert.match(token.stderr, /Permission denied/);
    assert.equal(token.stdout, '');
  });

  test('the egress gateway runs as its own non-root uid with CapEff 0, owns its 0400 token and cannot read the control plane', async () => {
    const gw = pod('egress-gateway', 'ambit-system');
    assert.notEqual(gw.uid, 0);
    assert.equal(procIds(gw.pid).uid, `${gw.uid}\t${gw.uid}\t${gw.uid}\t${gw.uid}`);
    assert.equal(procIds(gw.pid).capEff, 0n);
    const e = readLabState(LAB)!.plan.egress!;
    const tok = statSync(e.tokenFile);
    assert.deepEqual([tok.uid, tok.gid, tok.mode & 0o777], [gw.uid, gw.uid, 0o400], 'token: the gateway user, 0400');
    const tokDir = statSync(join(e.tokenFile, '..'));
    assert.deepEqual([tokDir.uid, tokDir.mode & 0o777], [0, 0o711], 'token directory: root\'s, so the gateway cannot swap the token for a link the agent would follow');
    assert.notEqual((await asUid(gw.uid, ['ln', '-sf', '/etc/passwd', join(e.tokenFile, '..', 'planted')])).code, 0, 'the gateway cannot create entries beside its token');
    // The control: as the gateway's uid its own token is readable ...
    assert.equal((await asUid(gw.uid, ['test', '-r', e.tokenFile])).code, 0, 'the gateway reads its token');
    // ... and the lab's root secrets are not.
    const cp = controlPlaneDataDir(LAB);
    const secrets = [join(cp, 'ca', 'ca-key.pem'), ...walk(cp).filter((p) => statSync(p).isFile()), join(labRunDir(LAB), 'nodes', 'node-1.token'), join(labRunDir(LAB), 'nodes', 'node-2.token')];
    assert.ok(existsSync(join(cp, 'ca', 'ca-key.pem')), 'the CA key is where the test looks');
    for (const f of secrets) assert.notEqual((await asUid(gw.uid, ['test', '-r', f])).code, 0, `the gateway uid can read ${f}`);
    assert.ok(existsSync(adminSocketPath(LAB)), 'the admin socket is where the test looks');
    assert.notEqual((await asUid(gw.uid, ['test', '-w', adminSocketPath(LAB)])).code, 0, 'nor reach the admin socket');
    const passwd = await asUid(gw.uid, ['sh', '-c', ': >> /etc/passwd']);
    assert.notEqual(passwd.code, 0, 'nor write /etc/passwd');
    // Still the working gateway: ready, with its SVID (the egress e2e suite drives traffic through it).
    const ready = await run('ip', ['netns', 'exec', gw.netns!, 'curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://${e.adminHost}:${e.readinessPort}/healthz/ready`]);
    assert.equal(ready.stdout, '200');
  });

  test('an app pod cannot edit the rules: the control plane\'s admin socket refuses it, and no node proxy admin port is in its reach', async () => {
    const sock = adminSocketPath(LAB);
    assert.ok(existsSync(sock), 'the admin socket is where the test looks');
    // A real client, as the pod's user: connect and ask to apply (the admin API's own transport).
    const attempt = `const c=require('net').connect(${JSON.stringify(sock)});c.on('connect',()=>{console.log('CONNECTED');c.end()});c.on('error',(e)=>console.log('ERR '+e.code))`;
    const r = await exec('app', ['node', '-e', attempt]);
    assert.equal(r.stdout.trim(), 'ERR EACCES', `the pod's process cannot connect to the admin socket: ${r.stdout} ${r.stderr}`);
    // Control: root (the operator) does connect.
    const asRoot = await run(process.execPath, ['-e', attempt]);
    assert.equal(asRoot.stdout.trim(), 'CONNECTED');
    // The node proxy's admin (config dump, 15000) listens on the node's loopback: from the pod, its node is not that.
    const node = readLabState(LAB)!.plan.nodes.find((n) => n.name === pod('app').node)!;
    const there = await run('ip', ['netns', 'exec', node.netns.split('/').pop()!, 'curl', '-sS', '-m', '2', '-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.1:15000/config_dump'], { allowFail: true });
    assert.equal(there.stdout.trim(), '200', 'control: the node proxy answers on its node\'s loopback');
    for (const host of ['127.0.0.1', '169.254.1.1', node.ip]) {
      const dump = await exec('app', ['curl', '-sS', '-m', '2', '-o', '/dev/null', '-w', '%{http_code}', `http://${host}:15000/config_dump`]);
      assert.notEqual(dump.stdout.trim(), '200', `${host}:15000 answered the pod`);
    }
  });

  test('a restarted agent keeps every pod on its uid and hands a new pod a fresh one', async () => {
    const before = ['app', 'other', 'far'].map((n) => pod(n).uid);
    await cliOk(['lab', 'restart', 'agent', '--name', LAB]);
    await apply(LAB, sleeperPod('late', 'node-2'));
    await waitPod(LAB, 'late');
    assert.deepEqual(['app', 'other', 'far'].map((n) => pod(n).uid), before, 'uids kept');
    const late = pod('late').uid;
    assert.ok(!before.includes(late) && late !== pod('egress-gateway', 'ambit-system').uid, `fresh uid ${late}`);
    assert.equal((await exec('late', ['id', '-u'])).stdout.trim(), String(late));
    assert.equal((await exec('app', ['id', '-u'])).stdout.trim(), String(before[0]));
  });

  test('down removes every pod home and what pods left in /tmp and /dev/shm, whoever owns it', async () => {
    const homes = podHomesDir(LAB);
    const owned = readdirSync(homes);
    assert.ok(owned.length >= 4, `homes: ${owned.join(', ')}`);
    for (const d of ['/tmp', '/dev/shm']) {
      const r = await exec('app', ['sh', '-c', `echo x > ${d}/ambit-${LAB}-planted`]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(statSync(`${d}/ambit-${LAB}-planted`).uid, pod('app').uid);
    }
    const pth = await exec('far', ['sh', '-c', 'mkdir -p "$HOME/.local/lib" && touch "$HOME/.local/lib/x.pth"']);
    assert.equal(pth.code, 0, pth.stderr);
    await cliOk(['lab', 'down', '--name', LAB]);
    assert.ok(!existsSync(homes), 'no pod home dir left');
    assert.ok(!existsSync(labRunDir(LAB)), 'no run dir left');
    for (const d of ['/tmp', '/dev/shm']) assert.ok(!existsSync(`${d}/ambit-${LAB}-planted`), `${d}: the planted file is gone`);
    const { first, last } = labUidRange(LAB);
    for (const d of ['/tmp', '/var/tmp', '/dev/shm']) {
      const left = readdirSync(d).filter((n) => {
        try {
          const u = statSync(join(d, n)).uid;
          return u >= first && u <= last;
        } catch {
          return false;
        }
      });
      assert.deepEqual(left, [], `${d}: nothing of the lab's pod users`);
    }
    assert.ok(!(await listNetns()).some((n) => n.startsWith(`ambit-${LAB}-`)));
  });
});
