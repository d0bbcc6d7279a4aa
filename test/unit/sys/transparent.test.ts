// IP_TRANSPARENT: binding an address the namespace does not own fails with EADDRNOTAVAIL unless
// the socket is transparent. The inbound path relies on this to keep a client's source address.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { closeSync } from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import { connectFromNetns, listenInNetns, netnsPath, setTransparent } from '../../../src/sys/index.js';
import { nativeSys } from '../../../src/sys/addon.js';
import { addNetns, deleteNetns, uniqueNetnsName } from './netns-fixture.js';

const NS = uniqueNetnsName('tproxy');
const nsPath = netnsPath(NS);
const servers: Server[] = [];

before(() => {
  deleteNetns(NS);
  addNetns(NS);
});
after(() => {
  for (const s of servers) s.close();
  deleteNetns(NS);
});

for (const [family, host] of [
  [4, '192.0.2.77'],
  [6, '2001:db8::77'],
] as const) {
  describe(`IPv${family} non-local ${host}`, () => {
    test('listenInNetns without transparent fails in bind with EADDRNOTAVAIL', async () => {
      const shown = family === 6 ? `[${host}]:0` : `${host}:0`;
      await assert.rejects(listenInNetns(nsPath, { host, port: 0 }), {
        code: 'EADDRNOTAVAIL',
        syscall: 'bind',
        errno: -99,
        message: `bind(${shown}): EADDRNOTAVAIL (Cannot assign requested address)`,
      });
    });

    test('listenInNetns with transparent binds and listens on it', async () => {
      const server = await listenInNetns(nsPath, { host, port: 0, transparent: true });
      servers.push(server);
      const addr = server.address() as AddressInfo;
      assert.equal(addr.address, host);
      assert.ok(addr.port > 0);
    });

    test('native setTransparent(fd, true) then off again toggles whether bind succeeds', () => {
      const sys = nativeSys();
      const on = sys.socketInNetns(nsPath, family, 'tcp');
      const off = sys.socketInNetns(nsPath, family, 'udp');
      try {
        sys.setTransparent(on, true);
        sys.bindSocket(on, host, 0);
        sys.setTransparent(off, true);
        sys.setTransparent(off, false);
        assert.throws(() => sys.bindSocket(off, host, 0), { code: 'EADDRNOTAVAIL', syscall: 'bind' });
      } finally {
        closeSync(on);
        closeSync(off);
      }
    });
  });
}

describe('connectFromNetns from a non-local source address', () => {
  test('without transparent the bind before connect fails with EADDRNOTAVAIL', async () => {
    const client = connectFromNetns(nsPath, { host: '127.0.0.1', port: 1, localAddress: '192.0.2.77' });
    const [err] = (await once(client, 'error')) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'EADDRNOTAVAIL');
    assert.equal(err.syscall, 'bind');
  });

  test('with transparent the socket binds the non-local source and starts connecting', async () => {
    const client = connectFromNetns(nsPath, { host: '127.0.0.1', port: 1, localAddress: '192.0.2.77', transparent: true });
    const errors: Error[] = [];
    client.on('error', (e) => errors.push(e));
    await new Promise((r) => setTimeout(r, 50));
    try {
      assert.deepEqual(errors, []);
      assert.equal(client.localAddress, '192.0.2.77');
    } finally {
      client.destroy();
    }
  });

  test('setTransparent needs a live socket: a destroyed one has no fd', () => {
    const client = connectFromNetns(nsPath, { host: '127.0.0.1', port: 1 });
    client.on('error', () => {});
    setTransparent(client, true);
    client.destroy();
    assert.throws(() => setTransparent(client, true), {
      code: 'SOCKET_HAS_NO_FD',
      message: "Cannot find the socket's file descriptor: the socket is destroyed (fd undefined)",
    });
  });
});
