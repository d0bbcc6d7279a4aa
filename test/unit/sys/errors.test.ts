// Every failure path of the addon and its TypeScript face: system errors carry errno, code,
// syscall and path like Node's own; bad arguments are TypeErrors naming the argument; bad
// options are AmbitErrors naming the field; and no failure leaks a file descriptor.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { closeSync, openSync, readdirSync } from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import { AmbitError } from '../../../src/errors.js';
import {
  connectFromNetns,
  listenInNetns,
  netnsPath,
  originalDst,
  setMark,
  udpSocketInNetns,
} from '../../../src/sys/index.js';
import { nativeSys } from '../../../src/sys/addon.js';
import { addNetns, connected, deleteNetns, nextConnection, uniqueNetnsName } from './netns-fixture.js';

const NS = uniqueNetnsName('errors');
const nsPath = netnsPath(NS);
const MISSING = netnsPath(uniqueNetnsName('missing'));
const BAD_FD = 1_000_000;
const servers: Server[] = [];
const sys = nativeSys();

before(() => {
  deleteNetns(NS);
  addNetns(NS); // no nftables rules: conntrack stays off in this namespace
});
after(() => {
  for (const s of servers) s.close();
  deleteNetns(NS);
});

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

describe('native system errors', () => {
  test('a namespace path that does not exist: ENOENT from open, with the path', () => {
    assert.throws(() => sys.socketInNetns(MISSING, 4, 'tcp'), {
      name: 'Error',
      message: `open(${MISSING}): ENOENT (No such file or directory)`,
      code: 'ENOENT',
      errno: -2,
      syscall: 'open',
      path: MISSING,
    });
  });

  test('a file that is not a namespace: EINVAL from setns, with the path', () => {
    assert.throws(() => sys.socketInNetns('/etc/hostname', 6, 'udp'), {
      message: 'setns(/etc/hostname): EINVAL (Invalid argument)',
      code: 'EINVAL',
      errno: -22,
      syscall: 'setns',
      path: '/etc/hostname',
    });
  });

  test('a bad fd: EBADF from each call', () => {
    assert.throws(() => sys.getOriginalDst(BAD_FD), { code: 'EBADF', errno: -9, syscall: 'getsockname', message: 'getsockname: EBADF (Bad file descriptor)' });
    assert.throws(() => sys.setTransparent(BAD_FD, true), { code: 'EBADF', syscall: 'getsockname' });
    assert.throws(() => sys.setMark(BAD_FD, 1), { code: 'EBADF', syscall: 'setsockopt', message: 'setsockopt(SO_MARK): EBADF (Bad file descriptor)' });
    assert.throws(() => sys.getMark(BAD_FD), { code: 'EBADF', syscall: 'getsockopt', message: 'getsockopt(SO_MARK): EBADF (Bad file descriptor)' });
    assert.throws(() => sys.bindSocket(BAD_FD, '127.0.0.1', 0), { code: 'EBADF', syscall: 'bind', message: 'bind(127.0.0.1:0): EBADF (Bad file descriptor)' });
  });

  test('an fd that is not a socket: ENOTSOCK', () => {
    const fd = openSync('/etc/hostname', 'r');
    try {
      assert.throws(() => sys.setMark(fd, 1), { code: 'ENOTSOCK', syscall: 'setsockopt' });
      assert.throws(() => sys.getOriginalDst(fd), { code: 'ENOTSOCK', syscall: 'getsockname' });
    } finally {
      closeSync(fd);
    }
  });

  test('originalDst of a connection that was never redirected (no conntrack entry): ENOENT', async () => {
    const server = await listenInNetns(nsPath, { host: '127.0.0.1', port: 0 });
    servers.push(server);
    const accepted = nextConnection(server);
    const client = await connected(connectFromNetns(nsPath, { host: '127.0.0.1', port: (server.address() as AddressInfo).port }));
    const peer = await accepted;
    try {
      assert.throws(() => originalDst(peer), {
        message: 'getsockopt(SO_ORIGINAL_DST): ENOENT (No such file or directory)',
        code: 'ENOENT',
        syscall: 'getsockopt',
      });
    } finally {
      peer.destroy();
      client.destroy();
    }
  });
});

describe('native argument validation (TypeError naming the argument)', () => {
  const cases: Array<[string, () => unknown, string, string]> = [
    ['nsPath type', () => sys.socketInNetns(42 as never, 4, 'tcp'), 'ERR_INVALID_ARG_TYPE', 'The "nsPath" argument must be of type string'],
    ['nsPath empty', () => sys.socketInNetns('', 4, 'tcp'), 'ERR_INVALID_ARG_VALUE', 'The "nsPath" argument must be a non-empty string shorter than 4096 bytes'],
    ['nsPath NUL', () => sys.socketInNetns('/run/netns/a\0b', 4, 'tcp'), 'ERR_INVALID_ARG_VALUE', 'The "nsPath" argument must not contain NUL bytes'],
    ['family type', () => sys.socketInNetns(nsPath, '4' as never, 'tcp'), 'ERR_INVALID_ARG_TYPE', 'The "family" argument must be of type number'],
    ['family value', () => sys.socketInNetns(nsPath, 5 as never, 'tcp'), 'ERR_INVALID_ARG_VALUE', 'The "family" argument must be 4 or 6'],
    ['type value', () => sys.socketInNetns(nsPath, 4, 'sctp' as never), 'ERR_INVALID_ARG_VALUE', `The "type" argument must be 'tcp' or 'udp'`],
    ['type missing', () => (sys.socketInNetns as (...a: unknown[]) => number)(nsPath, 4), 'ERR_INVALID_ARG_TYPE', 'The "type" argument must be of type string'],
    ['fd type', () => sys.getOriginalDst('3' as never), 'ERR_INVALID_ARG_TYPE', 'The "fd" argument must be of type number'],
    ['fd negative', () => sys.getOriginalDst(-1), 'ERR_INVALID_ARG_VALUE', 'The "fd" argument must be an integer from 0 to 2147483647'],
    ['fd fraction', () => sys.getMark(1.5), 'ERR_INVALID_ARG_VALUE', 'The "fd" argument must be an integer from 0 to 2147483647'],
    ['mark range', () => sys.setMark(0, 2 ** 32), 'ERR_INVALID_ARG_VALUE', 'The "mark" argument must be an integer from 0 to 4294967295'],
    ['on type', () => sys.setTransparent(0, 1 as never), 'ERR_INVALID_ARG_TYPE', 'The "on" argument must be of type boolean'],
    ['address literal', () => sys.bindSocket(0, 'localhost', 0), 'ERR_INVALID_ARG_VALUE', 'The "address" argument must be an IPv4 or IPv6 address literal'],
    ['port range', () => sys.bindSocket(0, '127.0.0.1', 70000), 'ERR_INVALID_ARG_VALUE', 'The "port" argument must be an integer from 0 to 65535'],
  ];
  for (const [name, call, code, message] of cases) {
    test(name, () => assert.throws(call, { name: 'TypeError', code, message }));
  }
});

describe('TypeScript face validation (AmbitError naming the field)', () => {
  test('netnsPath rejects names that could escape /run/netns', () => {
    assert.equal(netnsPath('pod-a_1.x'), '/run/netns/pod-a_1.x');
    assert.throws(() => netnsPath('../etc'), (err: unknown) => {
      assert.ok(err instanceof AmbitError);
      assert.equal(err.code, 'INVALID_NETNS_NAME');
      assert.equal(err.path, 'name');
      assert.equal(err.value, '../etc');
      assert.equal(err.message, 'Cannot build a network namespace path: name must be 1-63 characters of [A-Za-z0-9_.-] not starting with "." or "-", got "../etc"');
      return true;
    });
    assert.throws(() => netnsPath(''), { code: 'INVALID_NETNS_NAME' });
  });

  const opt = (path: string, message: string) => ({ name: 'AmbitError', code: 'INVALID_SOCKET_OPTION', path, message });

  test('listenInNetns', async () => {
    await assert.rejects(listenInNetns(nsPath, { host: 'localhost', port: 0 }),
      opt('opts.host', 'Cannot listen in a network namespace: opts.host must be an IPv4 or IPv6 address literal, got "localhost"'));
    await assert.rejects(listenInNetns(nsPath, { host: '127.0.0.1', port: 70000 }),
      opt('opts.port', 'Cannot listen in a network namespace: opts.port must be an integer from 0 to 65535, got 70000'));
    await assert.rejects(listenInNetns(nsPath, { host: '127.0.0.1', port: 0, backlog: 0 }),
      opt('opts.backlog', 'Cannot listen in a network namespace: opts.backlog must be an integer from 1 to 65535, got 0'));
    await assert.rejects(listenInNetns(nsPath, { host: '127.0.0.1', port: 0, transparent: 'yes' as never }),
      opt('opts.transparent', 'Cannot listen in a network namespace: opts.transparent must be a boolean, got "yes"'));
    await assert.rejects(listenInNetns('run/netns/x', { host: '127.0.0.1', port: 0 }),
      opt('nsPath', 'Cannot listen in a network namespace: nsPath must be an absolute path, got "run/netns/x"'));
    await assert.rejects(listenInNetns(MISSING, { host: '127.0.0.1', port: 0 }), { code: 'ENOENT', path: MISSING });
  });

  test('connectFromNetns', () => {
    assert.throws(() => connectFromNetns(nsPath, { host: '127.0.0.1', port: 0 }),
      opt('opts.port', 'Cannot connect from a network namespace: opts.port must be an integer from 1 to 65535, got 0'));
    assert.throws(() => connectFromNetns(nsPath, { host: '127.0.0.1', port: 80, mark: -1 }),
      opt('opts.mark', 'Cannot connect from a network namespace: opts.mark must be an integer from 0 to 4294967295, got -1'));
    assert.throws(() => connectFromNetns(nsPath, { host: '127.0.0.1', port: 80, localAddress: '::1' }),
      opt('opts.localAddress', 'Cannot connect from a network namespace: opts.localAddress must be an IPv4 address like opts.host, got "::1"'));
    assert.throws(() => connectFromNetns(nsPath, null as never),
      opt('opts', 'Cannot connect from a network namespace: opts must be an object, got null'));
    assert.throws(() => connectFromNetns('/etc/hostname', { host: '127.0.0.1', port: 80 }), { code: 'EINVAL', syscall: 'setns' });
  });

  test('udpSocketInNetns and setMark', async () => {
    await assert.rejects(udpSocketInNetns(MISSING, { host: '127.0.0.1', port: 0 }), { code: 'ENOENT', syscall: 'open', path: MISSING });
    await assert.rejects(udpSocketInNetns(nsPath, { host: '1.2.3', port: 0 }),
      opt('opts.host', 'Cannot bind a UDP socket in a network namespace: opts.host must be an IPv4 or IPv6 address literal, got "1.2.3"'));
    const client = connectFromNetns(nsPath, { host: '127.0.0.1', port: 1 });
    client.on('error', () => {});
    try {
      assert.throws(() => setMark(client, 1.5), opt('mark', 'Cannot set SO_MARK: mark must be an integer from 0 to 4294967295, got 1.5'));
    } finally {
      client.destroy();
    }
  });
});

describe('no file descriptor leaks on failure', () => {
  test('failed binds, marks and connects close the socket they created', async () => {
    const server = await listenInNetns(nsPath, { host: '127.0.0.1', port: 0 });
    servers.push(server);
    const port = (server.address() as AddressInfo).port;
    const before = openFds();
    for (let i = 0; i < 50; i++) {
      await assert.rejects(listenInNetns(nsPath, { host: '192.0.2.1', port: 0 }), { code: 'EADDRNOTAVAIL' });
      await assert.rejects(listenInNetns(nsPath, { host: '127.0.0.1', port }), { code: 'EADDRINUSE' });
      await assert.rejects(udpSocketInNetns(nsPath, { host: '192.0.2.1', port: 0 }), { code: 'EADDRNOTAVAIL' });
      await assert.rejects(listenInNetns(nsPath, { host: '127.0.0.1', port: 0 }, server), { code: 'ERR_SERVER_ALREADY_LISTEN' });
      const c = connectFromNetns(nsPath, { host: '127.0.0.1', port: 1 });
      const [err] = (await once(c, 'error')) as [NodeJS.ErrnoException];
      assert.equal(err.code, 'ECONNREFUSED');
    }
    assert.equal(openFds(), before);
  });
});
