// ClientHello parsing against real clients (Node's TLS, the openssl binary) and handcrafted
// hellos that break one thing each: truncation, lengths, duplicates, SNI contents, size, records.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseClientHello, type ClientHelloResult } from '../../../src/egress/index.js';
import { AmbitError } from '../../../src/errors.js';
import { nodeClientHello, opensslClientHello } from './capture.js';
import { alpn, handshake, hello, helloBody, records, serverName, supportedVersions, u16, unwrap, vec16, type Extension } from './hello-builder.js';

function complete(r: ClientHelloResult): Extract<ClientHelloResult, { kind: 'complete' }> {
  assert.equal(r.kind, 'complete');
  return r as Extract<ClientHelloResult, { kind: 'complete' }>;
}

function throwsCode(buf: Buffer, code: string, message?: string | RegExp): void {
  assert.throws(() => parseClientHello(buf), (err: unknown) => {
    assert.ok(err instanceof AmbitError, `not an AmbitError: ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (typeof message === 'string') assert.equal(err.message, message);
    else if (message !== undefined) assert.match(err.message, message);
    return true;
  });
}

describe('real ClientHellos', () => {
  test('Node tls.connect with SNI and ALPN', async () => {
    const wire = await nodeClientHello({ servername: 'api.example.com', ALPNProtocols: ['h2', 'http/1.1'] });
    const r = complete(parseClientHello(wire));
    assert.equal(r.sni, 'api.example.com');
    assert.deepEqual(r.alpn, ['h2', 'http/1.1']);
    assert.ok(r.tlsVersions.includes(0x0304), `TLS 1.3 offered: ${r.tlsVersions}`);
    assert.equal(r.recordBytes, wire.length);
  });

  test('openssl s_client -servername (upper case is normalised), -alpn', async () => {
    const wire = await opensslClientHello(['-servername', 'Files.Example.ORG', '-alpn', 'http/1.1']);
    const r = complete(parseClientHello(wire));
    assert.equal(r.sni, 'files.example.org');
    assert.deepEqual(r.alpn, ['http/1.1']);
    assert.equal(r.recordBytes, wire.length);
  });

  test('no SNI when servername is omitted and the host is an IP (Node sends none for IPs)', async () => {
    const r = complete(parseClientHello(await nodeClientHello({})));
    assert.equal(r.sni, undefined);
    assert.deepEqual(r.alpn, []);
  });

  test('openssl -noservername sends no SNI', async () => {
    assert.equal(complete(parseClientHello(await opensslClientHello(['-noservername']))).sni, undefined);
  });

  test('TLS 1.2-only client: versions and bytes after the hello are left to the caller', async () => {
    const wire = await nodeClientHello({ servername: 'old.example.com', maxVersion: 'TLSv1.2' });
    const r = complete(parseClientHello(Buffer.concat([wire, Buffer.from([23, 3, 3, 0, 1, 0])])));
    assert.equal(r.sni, 'old.example.com');
    assert.deepEqual(r.tlsVersions, [0x0303]);
    assert.equal(r.recordBytes, wire.length);
  });

  test('every truncation of a real hello is incomplete, with a truthful `need`', async () => {
    const wire = await nodeClientHello({ servername: 'api.example.com', ALPNProtocols: ['h2'] });
    for (let k = 0; k < wire.length; k++) {
      const r = parseClientHello(wire.subarray(0, k));
      assert.equal(r.kind, 'incomplete', `prefix ${k}`);
      const need = (r as { need: number }).need;
      assert.ok(need >= 1 && k + need <= wire.length, `prefix ${k}: need ${need}`);
    }
  });

  test('the same hello split into records of 1, 7, 100 and 300 bytes parses the same', async () => {
    const wire = await nodeClientHello({ servername: 'split.example.com', ALPNProtocols: ['h2', 'http/1.1'] });
    const whole = complete(parseClientHello(wire));
    for (const size of [1, 7, 100, 300]) {
      const split = records(unwrap(wire), size);
      const r = complete(parseClientHello(split));
      assert.deepEqual({ ...r, recordBytes: 0 }, { ...whole, recordBytes: 0 }, `records of ${size}`);
      assert.equal(r.recordBytes, split.length);
      for (const k of [5, 6, split.length - 1]) assert.equal(parseClientHello(split.subarray(0, k)).kind, 'incomplete', `size ${size}, prefix ${k}`);
    }
  });

  test('a hello whose lengths were cut consistently is malformed at every cut but one', async () => {
    const body = unwrap(await nodeClientHello({ servername: 'api.example.com', ALPNProtocols: ['h2'] })).subarray(4);
    const sessionIdLength = body[34]!;
    const suitesLength = body.readUInt16BE(35 + sessionIdLength);
    const noExtensions = 35 + sessionIdLength + 2 + suitesLength + 1 + body[35 + sessionIdLength + 2 + suitesLength]!;
    for (let cut = 0; cut < body.length; cut++) {
      const wire = records(handshake(body.subarray(0, cut)));
      if (cut === noExtensions) {
        assert.equal(complete(parseClientHello(wire)).sni, undefined); // a valid TLS 1.2-style hello without extensions
        continue;
      }
      throwsCode(wire, 'TLS_CLIENT_HELLO_MALFORMED');
    }
  });
});

describe('handcrafted hellos', () => {
  const okExt: Extension[] = [serverName('api.example.com'), alpn('h2'), supportedVersions(0x3a3a, 0x0304, 0x0303)];

  test('baseline parses; GREASE versions dropped', () => {
    const r = complete(parseClientHello(hello(okExt)));
    assert.deepEqual([r.sni, r.alpn, r.tlsVersions], ['api.example.com', ['h2'], [0x0304, 0x0303]]);
  });

  test('trailing dot and upper case are normalised', () => {
    assert.equal(complete(parseClientHello(hello([serverName('API.Example.com.')]))).sni, 'api.example.com');
  });

  test('plaintext HTTP is not a handshake', () => {
    throwsCode(Buffer.from('GET / HTTP/1.1\r\n'), 'TLS_NOT_HANDSHAKE',
      'Cannot read ClientHello: the first byte is 71 ("G"), not 22 (TLS handshake record); the client did not start TLS');
  });

  test('the first byte alone decides TLS_NOT_HANDSHAKE; an empty buffer needs 5 bytes', () => {
    throwsCode(Buffer.from([0x16 + 1]), 'TLS_NOT_HANDSHAKE');
    assert.deepEqual(parseClientHello(Buffer.alloc(0)), { kind: 'incomplete', need: 5 });
  });

  const extensionsAt = 47; // handshake offset of the first extension in helloBody()
  const malformedCases: [string, Buffer, string][] = [
    [
      'server_name length overruns the extensions block',
      (() => {
        const b = hello([serverName('api.example.com')]);
        b.writeUInt16BE(300, 5 + extensionsAt + 2);
        return b;
      })(),
      `Cannot read ClientHello: extension 0 (server_name) length 300 overruns the extensions block at offset ${extensionsAt + 2}: only 20 bytes remain`,
    ],
    ['duplicate extension', hello([alpn('h2'), serverName('a.example.com'), alpn('h2')]),
      `Cannot read ClientHello: extension 16 (alpn) at offset ${extensionsAt + 9 + 22} appears twice`],
    ['duplicate unknown extension', hello([[0xff01, Buffer.from([0])], [0xff01, Buffer.from([0])]]),
      `Cannot read ClientHello: extension 65281 at offset ${extensionsAt + 5} appears twice`],
    ['trailing bytes inside server_name', hello([[0, Buffer.concat([serverName('a.example.com')[1], Buffer.from([1, 2])])]]),
      `Cannot read ClientHello: 2 trailing bytes at the end of the extension 0 (server_name) block at offset ${extensionsAt + 4 + 18}`],
    ['trailing garbage after the extensions block', records(handshake(Buffer.concat([helloBody([alpn('h2')]), Buffer.from([0xde, 0xad])]))),
      `Cannot read ClientHello: 2 trailing bytes at the end of the ClientHello at offset ${extensionsAt + 9}`],
    ['empty ALPN protocol name', hello([[16, vec16(Buffer.from([0, 1, 0x78]))]]),
      `Cannot read ClientHello: extension 16 (alpn) protocol name length 0 at offset ${extensionsAt + 6} must be at least 1`],
    ['odd supported_versions', hello([[43, Buffer.from([3, 3, 4, 3])]]),
      `Cannot read ClientHello: extension 43 (supported_versions) versions length 3 at offset ${extensionsAt + 4} must be a multiple of 2`],
    ['session id over 32 bytes', records(handshake(helloBody([], { sessionId: Buffer.alloc(33) }))),
      'Cannot read ClientHello: legacy_session_id length 33 at offset 38 must be from 0 to 32'],
    ['handshake type 2 (ServerHello)', Buffer.from([22, 3, 3, 0, 4, 2, 0, 0, 0]),
      'Cannot read ClientHello: handshake message type is 2, not 1 (client_hello)'],
    ['record version 0x0200', Buffer.from([22, 2, 0, 0, 4, 1, 0, 0, 0]),
      'Cannot read ClientHello: record 0 at byte 0 has version 0x0200, not 0x03xx'],
    ['empty record', Buffer.from([22, 3, 1, 0, 0]),
      'Cannot read ClientHello: record 0 at byte 0 is empty (length 0), which TLS forbids for handshake records'],
    ['record over 2^14', Buffer.from([22, 3, 1, 0x40, 0x01]),
      'Cannot read ClientHello: record 0 at byte 0 has length 16385, over the TLS maximum 16384'],
    ['alert record in the middle of a fragmented hello', Buffer.concat([records(handshake(helloBody(okExt)), 10).subarray(0, 15), Buffer.from([21, 3, 3, 0, 2, 2, 40])]),
      `Cannot read ClientHello: record 1 at byte 15 has content type 21, but the ClientHello is not complete (10 of ${4 + helloBody(okExt).length} bytes)`],
    ['a second handshake message after the hello in the same record', records(Buffer.concat([handshake(helloBody(okExt)), Buffer.from([20, 0, 0, 0])])),
      'Cannot read ClientHello: record 0 at byte 0 carries 4 bytes after the ClientHello (' + (4 + helloBody(okExt).length) + ' bytes); nothing may follow it in the first flight'],
  ];
  for (const [name, wire, message] of malformedCases) {
    test(`malformed: ${name}`, () => throwsCode(wire, 'TLS_CLIENT_HELLO_MALFORMED', message));
  }

  test('too large: the declared length decides before the bytes arrive', () => {
    const big = hello([serverName('api.example.com'), [0xff02, Buffer.alloc(17000)]], 16384);
    throwsCode(big.subarray(0, 9), 'TLS_CLIENT_HELLO_TOO_LARGE', `Cannot read ClientHello: handshake message of ${unwrap(big).length} bytes is over the limit of 16384 bytes`);
    const r = complete(parseClientHello(big, { maxBytes: 32 * 1024 }));
    assert.equal(r.sni, 'api.example.com');
    assert.throws(() => parseClientHello(hello(okExt), { maxBytes: 40 }), { code: 'TLS_CLIENT_HELLO_TOO_LARGE' });
  });

  const sniCases: [string, Extension, string][] = [
    ['IPv4 literal', serverName('10.0.0.1'), 'extension 0 (server_name) host_name must be a DNS name, not an IP address (put addresses in a ServiceEntry\'s spec.endpoints), got "10.0.0.1"'],
    ['IPv6 literal', serverName('::1'), 'extension 0 (server_name) host_name label "::1" must be 1-63 characters of a-z, 0-9 and "-", starting and ending with a letter or digit, got "::1"'],
    ['empty name', serverName(''), 'extension 0 (server_name) host_name must not be empty, got ""'],
    ['NUL inside', serverName(Buffer.from('api.example.com\0.evil.org', 'latin1')), 'extension 0 (server_name) host_name has byte 0x00 at position 15; only printable ASCII is allowed, got "api.example.com\\u0000.evil.org"'],
    ['non-ASCII (UTF-8 é)', serverName(Buffer.from('caf\u00e9.example.com', 'utf8')), 'extension 0 (server_name) host_name has byte 0xc3 at position 3; only printable ASCII is allowed, got "cafÃ©.example.com"'],
    ['underscore', serverName('a_b.example.com'), 'extension 0 (server_name) host_name label "a_b" must be 1-63 characters of a-z, 0-9 and "-", starting and ending with a letter or digit, got "a_b.example.com"'],
    ['wildcard', serverName('*.example.com'), 'extension 0 (server_name) host_name must be a DNS name, not a wildcard, got "*.example.com"'],
    ['two trailing dots', serverName('a.example.com..'), 'extension 0 (server_name) host_name must not contain empty labels (a leading ".", a trailing "." or ".."), got "a.example.com.."'],
    ['two host_name entries', serverName('a.example.com', 'b.example.com'), 'extension 0 (server_name) holds several host_name entries (second at offset 69), got "b.example.com"'],
    ['empty server_name_list', [0, vec16(Buffer.alloc(0))], 'extension 0 (server_name) has an empty server_name_list, got ""'],
    ['name_type 1', [0, vec16(Buffer.concat([Buffer.from([1]), vec16(Buffer.from('a.example.com'))]))], 'extension 0 (server_name) entry at offset 53 has name_type 1, not 0 (host_name), got 1'],
  ];
  for (const [name, ext, why] of sniCases) {
    test(`SNI invalid: ${name}`, () => throwsCode(hello([ext]), 'TLS_SNI_INVALID', `Cannot read ClientHello: ${why}`));
  }

  test('patching bytes of a real hello\'s SNI', async () => {
    const wire = await nodeClientHello({ servername: 'api.example.com' });
    const at = wire.indexOf('api.example.com');
    const patched = (byte: number): Buffer => {
      const b = Buffer.from(wire);
      b[at + 3] = byte;
      return b;
    };
    assert.equal(complete(parseClientHello(patched(0x2d))).sni, 'api-example.com');
    assert.equal(complete(parseClientHello(patched(0x41))).sni, 'apiaexample.com'); // 'A' is lower-cased
    for (const byte of [0x00, 0x0a, 0x20, 0x7f, 0xff]) throwsCode(patched(byte), 'TLS_SNI_INVALID', /only printable ASCII is allowed/);
    for (const byte of [0x5f, 0x2f, 0x3a]) throwsCode(patched(byte), 'TLS_SNI_INVALID', /must be 1-63 characters/);
    // Fragmented across records after patching: the same verdict.
    throwsCode(records(unwrap(patched(0x00)), 50), 'TLS_SNI_INVALID');
  });

  test('ALPN and supported_versions with u16(…) encodings are read exactly', () => {
    const r = complete(parseClientHello(hello([alpn('h2', 'http/1.1', 'x'), supportedVersions(0x0304)])));
    assert.deepEqual(r.alpn, ['h2', 'http/1.1', 'x']);
    assert.deepEqual(r.tlsVersions, [0x0304]);
    assert.equal(u16(0x0304).readUInt16BE(0), 0x0304);
  });
});
