// SO_ORIGINAL_DST and SO_MARK against real nftables capture rules in a namespace: the rules
// redirect tcp/9999 to the capture port 15001 the way the node proxy's in-pod rules do, and
// exempt the proxy's own mark 0x539 (mask 0xfff) the way Istio does.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server, Socket } from 'node:net';
import { connectFromNetns, getMark, listenInNetns, netnsPath, originalDst, setMark } from '../../../src/sys/index.js';
import { addNetns, connected, deleteNetns, ip, nextConnection, nftInNetns, readToEnd, uniqueNetnsName } from './netns-fixture.js';

const NS = uniqueNetnsName('odst');
const nsPath = netnsPath(NS);
const servers: Server[] = [];
const CAPTURE_PORT = 15001;
const SERVICE_PORT = 9999;

const RULES = `
table inet ambit_test {
  chain output {
    type nat hook output priority -100; policy accept;
    meta mark & 0xfff == 0x539 return
    tcp dport ${SERVICE_PORT} redirect to :${CAPTURE_PORT}
  }
}
`;

/** A capture listener that answers with the original destination it reads. */
async function captureListener(host: string): Promise<Server> {
  const server = await listenInNetns(nsPath, { host, port: CAPTURE_PORT });
  server.on('connection', (s: Socket) => {
    const dst = originalDst(s);
    s.end(`captured ${dst.family} ${dst.address} ${dst.port}`);
  });
  servers.push(server);
  return server;
}

before(async () => {
  deleteNetns(NS);
  addNetns(NS);
  // The service addresses go on `lo`: this kernel has no `dummy` link type, and any local address
  // serves the purpose (a route to the destination exists, so the output nat hook sees the SYN).
  ip('-n', NS, 'addr', 'add', '10.1.2.3/32', 'dev', 'lo');
  ip('-n', NS, '-6', 'addr', 'add', 'fd00::1234/128', 'dev', 'lo', 'nodad');
  nftInNetns(NS, RULES);
  await captureListener('127.0.0.1');
  await captureListener('::1');
  for (const host of ['10.1.2.3', 'fd00::1234']) {
    const direct = await listenInNetns(nsPath, { host, port: SERVICE_PORT });
    direct.on('connection', (s: Socket) => s.end('direct'));
    servers.push(direct);
  }
});
after(() => {
  for (const s of servers) s.close();
  deleteNetns(NS);
});

describe('originalDst (SO_ORIGINAL_DST)', () => {
  test('IPv4: a redirected connection to 10.1.2.3:9999 reports 10.1.2.3:9999', async () => {
    const client = await connected(connectFromNetns(nsPath, { host: '10.1.2.3', port: SERVICE_PORT }));
    assert.equal(await readToEnd(client), 'captured 4 10.1.2.3 9999');
  });

  test('IPv6: a redirected connection to [fd00::1234]:9999 reports fd00::1234:9999', async () => {
    const client = await connected(connectFromNetns(nsPath, { host: 'fd00::1234', port: SERVICE_PORT }));
    assert.equal(await readToEnd(client), 'captured 6 fd00::1234 9999');
  });

  test('with conntrack active, a connection that was not redirected reports its own destination', async () => {
    const client = await connected(connectFromNetns(nsPath, { host: '127.0.0.1', port: CAPTURE_PORT }));
    assert.equal(await readToEnd(client), `captured 4 127.0.0.1 ${CAPTURE_PORT}`);
  });

  test('the original destination is also readable on the accepted socket directly', async () => {
    const capture = servers[0]!;
    const accepted = nextConnection(capture);
    const client = connectFromNetns(nsPath, { host: '10.1.2.3', port: SERVICE_PORT });
    const peer = await accepted;
    assert.deepEqual(originalDst(peer), { address: '10.1.2.3', port: SERVICE_PORT, family: 4 });
    await readToEnd(client);
  });
});

describe('SO_MARK', () => {
  test('a socket marked 0x539 skips the redirect and reaches the real destination; an unmarked one is captured', async () => {
    const marked = await connected(connectFromNetns(nsPath, { host: '10.1.2.3', port: SERVICE_PORT, mark: 0x539 }));
    assert.equal(await readToEnd(marked), 'direct');
    const unmarked = await connected(connectFromNetns(nsPath, { host: '10.1.2.3', port: SERVICE_PORT }));
    assert.equal(await readToEnd(unmarked), 'captured 4 10.1.2.3 9999');
  });

  test('only the low 12 bits count: 0x1539 also skips, 0x538 is captured (IPv6)', async () => {
    const high = await connected(connectFromNetns(nsPath, { host: 'fd00::1234', port: SERVICE_PORT, mark: 0x1539 }));
    assert.equal(await readToEnd(high), 'direct');
    const other = await connected(connectFromNetns(nsPath, { host: 'fd00::1234', port: SERVICE_PORT, mark: 0x538 }));
    assert.equal(await readToEnd(other), 'captured 6 fd00::1234 9999');
  });

  test('setMark/getMark on a live socket read back what was set', async () => {
    const client = connectFromNetns(nsPath, { host: '10.1.2.3', port: SERVICE_PORT });
    assert.equal(getMark(client), 0);
    setMark(client, 0xfffffff0);
    assert.equal(getMark(client), 0xfffffff0);
    await connected(client);
    await readToEnd(client);
  });
});
