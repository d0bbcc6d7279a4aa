import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AdminApi, StoreEvent } from '../../../src/controlplane/admin-api.js';
import type { ServiceResource } from '../../../src/config/types.js';
import { ClusterZone, type DnsEndpoint, DnsServer, RCODE, RR_TYPE, StaticZone, queryDns } from '../../../src/dns/index.js';

function service(ns: string, name: string, clusterIP?: string): ServiceResource {
  return {
    kind: 'Service', apiVersion: 'v1',
    metadata: { name, namespace: ns, labels: {}, annotations: {} },
    spec: { selector: { app: name }, ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }], ...(clusterIP ? { clusterIP } : {}) },
  };
}

/** Test double for AdminApi.watch: records each call and lets the test push events or errors. */
class WatchDouble implements Pick<AdminApi, 'watch'> {
  calls: number[] = [];
  closed = 0;
  private onEvent: (e: StoreEvent) => void = () => {};
  private onError: (err: Error) => void = () => {};
  watch(fromRevision: number, onEvent: (e: StoreEvent) => void, onError?: (err: Error) => void) {
    this.calls.push(fromRevision);
    this.onEvent = onEvent;
    this.onError = onError ?? (() => {});
    return { close: () => { this.closed++; } };
  }
  emit(e: StoreEvent) { this.onEvent(e); }
  fail(err: Error) { this.onError(err); }
}

describe('cluster zone over the admin watch', () => {
  const api = new WatchDouble();
  const zone = new ClusterZone(api, { clusterDomain: 'cluster.local' });
  const server = new DnsServer({ zones: [zone, new StaticZone([{ name: 'api.example.com', type: 'A', class: 1, ttl: 60, address: '203.0.113.10' }])] });
  let at: DnsEndpoint;
  before(async () => {
    zone.start();
    api.emit({ revision: 3, changes: [
      { type: 'put', key: 'Service/default/web', resource: service('default', 'web', '10.96.0.10') },
      { type: 'put', key: 'Service/shop/cart', resource: service('shop', 'cart', '10.96.0.11') },
      { type: 'put', key: 'Service/shop/pending', resource: service('shop', 'pending') },
    ] });
    await zone.synced;
    at = await server.listen('127.0.0.1', 0);
  });
  after(async () => { zone.stop(); await server.close(); });

  test('<svc>.<ns>.svc.cluster.local answers the ClusterIP', async () => {
    assert.deepEqual(api.calls, [0]);
    const r = await queryDns(at, 'web.default.svc.cluster.local', RR_TYPE.A);
    assert.deepEqual([r.rcode, r.aa], [RCODE.NOERROR, true]);
    assert.deepEqual(r.answers, [{ name: 'web.default.svc.cluster.local', type: 'A', class: 1, ttl: 5, address: '10.96.0.10' }]);
    assert.equal((await queryDns(at, 'CART.shop.svc.cluster.local.', RR_TYPE.A, { transport: 'tcp' })).answers.length, 1);
  });

  test('unknown names under the domain are NXDOMAIN with an SOA; known names without the type are NODATA', async () => {
    const nx = await queryDns(at, 'nope.default.svc.cluster.local', RR_TYPE.A);
    assert.equal(nx.rcode, RCODE.NXDOMAIN);
    assert.deepEqual(nx.authorities.map((a) => [a.name, a.type]), [['cluster.local', 'SOA']]);
    const six = await queryDns(at, 'web.default.svc.cluster.local', RR_TYPE.AAAA);
    assert.deepEqual([six.rcode, six.answers.length], [RCODE.NOERROR, 0]);
    const noIp = await queryDns(at, 'pending.shop.svc.cluster.local', RR_TYPE.A);
    assert.deepEqual([noIp.rcode, noIp.answers.length], [RCODE.NOERROR, 0]);
    assert.equal((await queryDns(at, 'web.default.cluster.local', RR_TYPE.A)).rcode, RCODE.NXDOMAIN);
  });

  test('names outside the cluster domain fall through to the next zone', async () => {
    assert.equal((await queryDns(at, 'api.example.com', RR_TYPE.A)).answers.length, 1);
  });

  test('watch updates apply: changed IPs, deletes, new services', async () => {
    api.emit({ revision: 4, changes: [
      { type: 'put', key: 'Service/default/web', resource: service('default', 'web', '10.96.0.99') },
      { type: 'delete', key: 'Service/shop/cart', resource: service('shop', 'cart', '10.96.0.11') },
    ] });
    const r = await queryDns(at, 'web.default.svc.cluster.local', RR_TYPE.A);
    assert.deepEqual(r.answers.map((a) => a.type === 'A' && a.address), ['10.96.0.99']);
    assert.equal((await queryDns(at, 'cart.shop.svc.cluster.local', RR_TYPE.A)).rcode, RCODE.NXDOMAIN);
  });

  test('a failed watch is resumed from the last revision seen', async () => {
    api.fail(new Error('socket hang up'));
    await new Promise((r) => setTimeout(r, 1200));
    assert.deepEqual(api.calls, [0, 4]);
    assert.ok(api.closed >= 1);
    // The zone kept serving its last state meanwhile.
    assert.equal((await queryDns(at, 'web.default.svc.cluster.local', RR_TYPE.A)).answers.length, 1);
  });
});
