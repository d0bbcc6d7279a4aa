// The in-pod DNS proxy with egress, through the real DnsServer on loopback over UDP and TCP:
// ServiceEntry hosts (exact, wildcard) and, under ALLOW_ANY, any external name get a stable VIP
// from the egress range; AAAA is empty; under REGISTRY_ONLY other external names are REFUSED and
// logged with the pod; cluster names and, without a gateway, everything go as before.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../../src/log.js';
import { DnsServer, RCODE, RR_TYPE, StaticZone, queryDns, type DnsEndpoint, type DnsMessage } from '../../../src/dns/index.js';
import { MeshZone } from '../../../src/nodeproxy/dns.js';
import { EgressZone, REFUSAL_LOG_LINES_PER_SECOND } from '../../../src/nodeproxy/egress-zone.js';
import { EgressVips } from '../../../src/nodeproxy/egress-vips.js';
import { MeshState } from '../../../src/nodeproxy/state.js';
import { egressState } from './egress-state.js';

const UPSTREAM_RECORDS = new StaticZone([
  { name: 'api.example.com', type: 'A', class: 1, ttl: 60, address: '203.0.113.10' },
  { name: 'elsewhere.example.org', type: 'A', class: 1, ttl: 60, address: '203.0.113.11' },
  { name: 'other.team.svc.cluster.local', type: 'A', class: 1, ttl: 5, address: '10.96.0.77' },
]);

/** A debug-level logger whose JSON lines land in `logs`. */
function capturingLogger(): { logs: Record<string, unknown>[]; log: Logger } {
  const logs: Record<string, unknown>[] = [];
  const log = pino({ level: 'debug' }, new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  }));
  return { logs, log };
}

const addresses = (m: DnsMessage): string[] => m.answers.map((a) => (a.type === 'A' ? a.address : `${a.type}?`));

describe('in-pod DNS proxy with an egress gateway', () => {
  const { logs, log } = capturingLogger();
  let state: MeshState = egressState();
  const vips = new EgressVips('240.240.0.0/29', { firstOffset: 1 }); // 6 addresses: small enough to run out in a test
  const upstream = new DnsServer({ zones: [UPSTREAM_RECORDS] });
  let proxy: DnsServer;
  let at: DnsEndpoint;

  before(async () => {
    const up = await upstream.listen('127.0.0.1', 0);
    proxy = new DnsServer({ zones: [new MeshZone(() => state), new EgressZone({ state: () => state, vips, pod: 'default/a', log })], upstream: up, upstreamTimeoutMs: 1000 });
    at = await proxy.listen('127.0.0.1', 0);
  });
  after(async () => {
    await proxy?.close();
    await upstream.close();
  });

  for (const transport of ['udp', 'tcp'] as const) {
    test(`exact and wildcard ServiceEntry hosts get stable VIPs, remembered VIP -> name (${transport})`, async () => {
      state = egressState({ mode: 'REGISTRY_ONLY' });
      const api = await queryDns(at, 'api.example.com', RR_TYPE.A, { transport });
      assert.equal(api.rcode, RCODE.NOERROR);
      assert.deepEqual(api.answers, [{ name: 'api.example.com', type: 'A', class: 1, ttl: 5, address: '240.240.0.1' }], 'a VIP, never the upstream 203.0.113.10');
      assert.deepEqual(addresses(await queryDns(at, 'API.Example.COM.', RR_TYPE.A, { transport })), ['240.240.0.1'], 'same name, same VIP');
      const wild = await queryDns(at, 'svc1.foo.example', RR_TYPE.A, { transport });
      assert.deepEqual(addresses(wild), ['240.240.0.2']);
      assert.deepEqual(addresses(await queryDns(at, 'svc2.foo.example', RR_TYPE.A, { transport })), ['240.240.0.3'], 'a wildcard allocates per queried name');
      assert.equal(vips.nameOf('240.240.0.2'), 'svc1.foo.example');
      assert.equal(vips.nameOf('240.240.0.3'), 'svc2.foo.example');
    });

    test(`AAAA of an egress name: NOERROR, no answers (${transport})`, async () => {
      state = egressState({ mode: 'REGISTRY_ONLY' });
      const r = await queryDns(at, 'api.example.com', RR_TYPE.AAAA, { transport });
      assert.equal(r.rcode, RCODE.NOERROR);
      assert.deepEqual(r.answers, []);
    });

    test(`REGISTRY_ONLY: an external name no ServiceEntry names is REFUSED and logged with the pod (${transport})`, async () => {
      state = egressState({ mode: 'REGISTRY_ONLY' });
      const before = logs.length;
      for (const [name, type] of [['elsewhere.example.org', RR_TYPE.A], ['elsewhere.example.org', RR_TYPE.AAAA], ['foo.example', RR_TYPE.A]] as const) {
        const r = await queryDns(at, name, type, { transport });
        assert.equal(r.rcode, RCODE.REFUSED, `${name} type ${type}`);
        assert.deepEqual(r.answers, []);
      }
      const refused = logs.slice(before).filter((l) => l.rcode === 'REFUSED');
      assert.equal(refused.length, 3);
      assert.deepEqual([refused[0]!.pod, refused[0]!.name, refused[0]!.level], ['default/a', 'elsewhere.example.org', 40]);
      assert.match(String(refused[0]!.msg), /no ServiceEntry names elsewhere\.example\.org and outboundTrafficPolicy is REGISTRY_ONLY/);
      assert.equal(vips.nameOf('240.240.0.4'), undefined, 'a refused name allocates nothing');
    });

    test(`cluster names behave as before: mesh services from the proxy's view, the rest upstream (${transport})`, async () => {
      state = egressState({ mode: 'REGISTRY_ONLY' });
      assert.deepEqual(addresses(await queryDns(at, 'egress-gateway.ambit-system.svc.cluster.local', RR_TYPE.A, { transport })), ['10.96.0.50']);
      assert.deepEqual(addresses(await queryDns(at, 'other.team.svc.cluster.local', RR_TYPE.A, { transport })), ['10.96.0.77'], 'forwarded upstream');
    });
  }

  test('ALLOW_ANY: any external name gets a VIP too, so it still leaves through the gateway', async () => {
    state = egressState({ mode: 'ALLOW_ANY' });
    const r = await queryDns(at, 'elsewhere.example.org', RR_TYPE.A);
    assert.equal(r.rcode, RCODE.NOERROR);
    assert.deepEqual(addresses(r), ['240.240.0.4']);
    assert.equal(vips.nameOf('240.240.0.4'), 'elsewhere.example.org');
    const bad = await queryDns(at, '_http._tcp.example.org', RR_TYPE.SRV);
    assert.equal(bad.rcode, RCODE.REFUSED, 'a name the gateway cannot carry');
  });

  test('without a gateway in the config, everything is forwarded upstream as before', async () => {
    state = egressState({ mode: 'REGISTRY_ONLY', gateway: false });
    assert.deepEqual(addresses(await queryDns(at, 'api.example.com', RR_TYPE.A)), ['203.0.113.10']);
    assert.deepEqual(addresses(await queryDns(at, 'elsewhere.example.org', RR_TYPE.A, { transport: 'tcp' })), ['203.0.113.11']);
  });

  test('an exhausted VIP range answers SERVFAIL and says why; known names keep their VIPs', async () => {
    state = egressState({ mode: 'ALLOW_ANY' });
    assert.deepEqual(addresses(await queryDns(at, 'five.example.net', RR_TYPE.A)), ['240.240.0.5']);
    assert.deepEqual(addresses(await queryDns(at, 'six.example.net', RR_TYPE.A)), ['240.240.0.6']);
    const before = logs.length;
    const full = await queryDns(at, 'seven.example.net', RR_TYPE.A, { transport: 'tcp' });
    assert.equal(full.rcode, RCODE.SERVFAIL);
    const said = logs.slice(before).find((l) => l.code === 'EGRESS_VIP_EXHAUSTED');
    assert.ok(said, 'the exhaustion is logged');
    assert.equal(said.pod, 'default/a');
    assert.match(String(said.err), /^Cannot allocate an egress address for "seven\.example\.net": all 6 addresses of 240\.240\.0\.0\/29 are in use/);
    assert.deepEqual(addresses(await queryDns(at, 'api.example.com', RR_TYPE.A)), ['240.240.0.1']);
  });

  test('before the first configuration, external names are refused (never forwarded upstream); cluster names still resolve', async () => {
    state = MeshState.empty();
    const r = await queryDns(at, 'api.example.com', RR_TYPE.A);
    assert.equal(r.rcode, RCODE.REFUSED, 'fail closed: the proxy does not know yet whether egress is closed');
    assert.deepEqual(r.answers, []);
    assert.deepEqual(addresses(await queryDns(at, 'other.team.svc.cluster.local', RR_TYPE.A)), ['10.96.0.77']);
    assert.ok(logs.some((l) => l.rcode === 'REFUSED' && /no configuration from the control plane yet/.test(String(l.msg))));
  });
});

describe('in-pod DNS proxy: one pod cannot use up the node\'s egress addresses', () => {
  const { logs, log } = capturingLogger();
  const state = egressState({ mode: 'ALLOW_ANY' });
  const vips = new EgressVips();
  let greedy: DnsServer;
  let other: DnsServer;
  let at: DnsEndpoint;
  let otherAt: DnsEndpoint;
  before(async () => {
    greedy = new DnsServer({ zones: [new EgressZone({ state: () => state, vips, pod: 'default/greedy', log, maxNamesPerPod: 2 })] });
    other = new DnsServer({ zones: [new EgressZone({ state: () => state, vips, pod: 'default/other', log, maxNamesPerPod: 2 })] });
    at = await greedy.listen('127.0.0.1', 0);
    otherAt = await other.listen('127.0.0.1', 0);
  });
  after(async () => {
    await greedy?.close();
    await other?.close();
  });

  test('past its quota a pod gets REFUSED for new names (logged once); its known names and other pods are unaffected', async () => {
    assert.equal((await queryDns(at, 'n1.example.org', RR_TYPE.A)).rcode, RCODE.NOERROR);
    assert.equal((await queryDns(at, 'n2.example.org', RR_TYPE.A)).rcode, RCODE.NOERROR);
    for (const n of ['n3.example.org', 'n4.example.org']) assert.equal((await queryDns(at, n, RR_TYPE.A)).rcode, RCODE.REFUSED, n);
    assert.equal(logs.filter((l) => l.code === 'EGRESS_VIP_QUOTA').length, 1, 'logged once, not once per query');
    assert.equal(vips.allocated, 2, 'the refused names took no address');
    assert.deepEqual(addresses(await queryDns(at, 'n1.example.org', RR_TYPE.A)), [vips.allocate('n1.example.org')], 'a known name still answers');
    assert.equal((await queryDns(otherAt, 'n3.example.org', RR_TYPE.A)).rcode, RCODE.NOERROR, 'another pod has its own quota');
  });
});

describe('in-pod DNS proxy: a pod flooding refused names cannot flood the log', () => {
  test(`at most ${REFUSAL_LOG_LINES_PER_SECOND} refusal lines a second per pod; every query still REFUSED; the next line counts the rest`, (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
    const { logs: lines, log } = capturingLogger();
    const state = egressState({ mode: 'REGISTRY_ONLY' });
    const zone = new EgressZone({ state: () => state, vips: new EgressVips(), pod: 'default/flood', log });
    const flood = 500;
    for (let i = 0; i < flood; i++) assert.equal(zone.lookup(`x${i}.exfil.example.org`, RR_TYPE.A)?.rcode, RCODE.REFUSED, `query ${i}`);
    // pino's destination here is a Writable: lines arrive synchronously enough for a count after a tick.
    return new Promise<void>((resolve) => setImmediate(() => {
      assert.equal(lines.length, REFUSAL_LOG_LINES_PER_SECOND, 'the budget, not one line per query');
      assert.deepEqual(lines.map((l) => l.name).slice(0, 2), ['x0.exfil.example.org', 'x1.exfil.example.org'], 'the first names are logged as they come');
      const other = new EgressZone({ state: () => state, vips: new EgressVips(), pod: 'default/quiet', log });
      other.lookup('once.example.org', RR_TYPE.A);
      t.mock.timers.tick(1000);
      zone.lookup('late.exfil.example.org', RR_TYPE.A);
      setImmediate(() => {
        const quiet = lines.filter((l) => l.pod === 'default/quiet');
        assert.equal(quiet.length, 1, 'another pod has its own budget');
        const late = lines.at(-1)!;
        assert.equal(late.name, 'late.exfil.example.org');
        assert.equal(late.suppressed, flood - REFUSAL_LOG_LINES_PER_SECOND);
        assert.match(String(late.msg), new RegExp(`\\(${flood - REFUSAL_LOG_LINES_PER_SECOND} earlier refusals from this pod not logged`));
        resolve();
      });
    }));
  });
});
