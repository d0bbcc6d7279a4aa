// Sockets made inside a namespace live there: a listener in a pod namespace is reachable from
// that namespace and invisible from the root namespace on the same address and port.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { closeSync, readlinkSync, statSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { createSocket } from 'node:dgram';
import { connectFromNetns, getMark, listenInNetns, netnsPath, udpSocketInNetns } from '../../../src/sys/index.js';
import { nativeSys } from '../../../src/sys/addon.js';
import { addNetns, connected, deleteNetns, nextConnection, readToEnd, uniqueNetnsName } from './netns-fixture.js';

const NS = uniqueNetnsName('listen');
const nsPath = netnsPath(NS);
const servers: Server[] = [];

function readableNetns(link: string): string | undefined {
  try {
    return readlinkSync(link);
  } catch {
    return undefined;
  }
}

function reply(server: Server, text: string): Server {
  server.on('connection', (s) => s.end(text));
  servers.push(server);
  return server;
}

before(() => {
  deleteNetns(NS);
  addNetns(NS);
});
after(async () => {
  for (const s of servers) s.close();
  deleteNetns(NS);
});

describe('listenInNetns + connectFromNetns', () => {
  test('a listener in the namespace answers a client in the namespace and not one in the root namespace', async () => {
    const inNs = reply(await listenInNetns(nsPath, { host: '127.0.0.1', port: 0 }), 'from-ns');
    const { port, address } = inNs.address() as AddressInfo;
    assert.equal(address, '127.0.0.1');
    assert.ok(port > 0);

    const client = await connected(connectFromNetns(nsPath, { host: '127.0.0.1', port }));
    assert.equal(await readToEnd(client), 'from-ns');

    const fromRoot = connect(port, '127.0.0.1');
    const [err] = (await once(fromRoot, 'error')) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ECONNREFUSED');
  });

  test('the root namespace can bind the same address and port at the same time, and each side reaches its own', async () => {
    const inNs = reply(await listenInNetns(nsPath, { host: '127.0.0.1', port: 0 }), 'from-ns');
    const { port } = inNs.address() as AddressInfo;
    const inRoot = reply(createServer(), 'from-root');
    await new Promise<void>((resolve, reject) => {
      inRoot.once('error', reject);
      inRoot.listen(port, '127.0.0.1', resolve);
    });
    assert.equal(await readToEnd(await connected(connect(port, '127.0.0.1'))), 'from-root');
    assert.equal(await readToEnd(await connected(connectFromNetns(nsPath, { host: '127.0.0.1', port }))), 'from-ns');
  });

  test('IPv6 listener and client inside the namespace', async () => {
    const inNs = reply(await listenInNetns(nsPath, { host: '::1', port: 0, backlog: 8 }), 'v6');
    const { port, family } = inNs.address() as AddressInfo;
    assert.equal(family, 'IPv6');
    assert.equal(await readToEnd(await connected(connectFromNetns(nsPath, { host: '::1', port }))), 'v6');
  });

  test('connectFromNetns sets the mark before connect and honours localAddress/localPort', async () => {
    const inNs = await listenInNetns(nsPath, { host: '127.0.0.1', port: 0 });
    servers.push(inNs);
    const { port } = inNs.address() as AddressInfo;
    const accepted = nextConnection(inNs);
    const client = connectFromNetns(nsPath, { host: '127.0.0.1', port, mark: 0x539, localAddress: '127.0.0.2' });
    assert.equal(getMark(client), 0x539);
    await connected(client);
    const peer = await accepted;
    assert.equal(peer.remoteAddress, '127.0.0.2');
    assert.equal(client.localAddress, '127.0.0.2');
    peer.destroy();
    client.destroy();
  });

  test('a second listener on the same namespace address fails with EADDRINUSE from bind', async () => {
    const first = await listenInNetns(nsPath, { host: '127.0.0.1', port: 0 });
    servers.push(first);
    const { port } = first.address() as AddressInfo;
    await assert.rejects(listenInNetns(nsPath, { host: '127.0.0.1', port }), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, 'EADDRINUSE');
      assert.equal(err.syscall, 'bind');
      assert.equal(err.message, `bind(127.0.0.1:${port}): EADDRINUSE (Address already in use)`);
      return true;
    });
  });

  test('listenInNetns listens with a caller-supplied server (any net.Server subclass)', async () => {
    const mine = reply(createServer(), 'mine');
    const same = await listenInNetns(nsPath, { host: '127.0.0.1', port: 0 }, mine);
    assert.equal(same, mine);
    const { port } = mine.address() as AddressInfo;
    assert.equal(await readToEnd(await connected(connectFromNetns(nsPath, { host: '127.0.0.1', port }))), 'mine');
  });
});

describe('udpSocketInNetns', () => {
  test('a UDP socket bound in the namespace receives datagrams sent inside it, not from the root namespace', async () => {
    const server = await udpSocketInNetns(nsPath, { host: '127.0.0.1', port: 0 });
    const client = await udpSocketInNetns(nsPath, { host: '127.0.0.1', port: 0, mark: 7 });
    const rootClient = createSocket('udp4');
    try {
      const { port } = server.address();
      const received: string[] = [];
      server.on('message', (m) => received.push(m.toString()));
      rootClient.send('from-root', port, '127.0.0.1');
      client.send('from-ns', port, '127.0.0.1');
      await once(server, 'message');
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(received, ['from-ns']);
    } finally {
      server.close();
      client.close();
      rootClient.close();
    }
  });
});

describe('namespace switching', () => {
  test('after many socketInNetns calls, good and failing, the main thread is still in its own namespace', () => {
    // /proc/1 may be unreadable in a container; the test runner that spawned us never calls setns.
    const rootNs = readableNetns('/proc/1/ns/net') ?? readlinkSync(`/proc/${process.ppid}/ns/net`);
    const podNs = `net:[${statSync(nsPath).ino}]`;
    assert.equal(readlinkSync('/proc/thread-self/ns/net'), rootNs);
    assert.notEqual(rootNs, podNs);
    const sys = nativeSys();
    for (let i = 0; i < 500; i++) {
      closeSync(sys.socketInNetns(nsPath, i % 2 === 0 ? 4 : 6, i % 3 === 0 ? 'udp' : 'tcp'));
    }
    assert.throws(() => sys.socketInNetns('/etc/hostname', 4, 'tcp'), { code: 'EINVAL' });
    assert.equal(readlinkSync('/proc/thread-self/ns/net'), rootNs);
  });
});
