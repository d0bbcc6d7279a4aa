// Request-head parsing tables: good heads, every refusal with its exact code and message, the
// smuggling shapes (TE+CL, duplicate CL, obfuscated TE) and pipelined requests to two hosts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chunkedBodyLength, parseRequestHead, pipelinedHosts, requestBodyLength, type RequestHead } from '../../../src/egress/index.js';
import { AmbitError } from '../../../src/errors.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

function head(s: string): RequestHead {
  const r = parseRequestHead(b(s));
  assert.equal(r.kind, 'complete', s);
  return r as RequestHead;
}

describe('good heads', () => {
  test('origin-form with Host and port; values trimmed; names kept as sent', () => {
    const text = 'GET /a?b=1 HTTP/1.1\r\nHost: API.Example.com:8080\r\nX-Thing:  v  \r\n\r\nBODY';
    const h = head(text);
    assert.deepEqual(
      { ...h },
      { kind: 'complete', method: 'GET', target: '/a?b=1', version: 'HTTP/1.1', headers: [['Host', 'API.Example.com:8080'], ['X-Thing', 'v']], host: 'api.example.com', port: 8080, headBytes: text.length - 4 },
    );
  });

  const rows: [string, string, string | undefined, number | undefined][] = [
    ['trailing dot in Host', 'GET / HTTP/1.1\r\nhost: a.example.com.\r\n\r\n', 'a.example.com', undefined],
    ['absolute-form agreeing with Host (default port both ways)', 'GET http://a.example.com/x HTTP/1.1\r\nHost: a.example.com:80\r\n\r\n', 'a.example.com', 80],
    ['absolute-form https default port', 'GET HTTPS://A.example.com:443/ HTTP/1.1\r\nHost: a.example.com\r\n\r\n', 'a.example.com', undefined],
    ['CONNECT authority-form', 'CONNECT a.example.com:443 HTTP/1.1\r\nHost: a.example.com:443\r\n\r\n', 'a.example.com', 443],
    ['HTTP/1.0 without Host', 'GET / HTTP/1.0\r\n\r\n', undefined, undefined],
    ['HTTP/1.0 absolute-form without Host', 'GET http://b.example.com:81/ HTTP/1.0\r\n\r\n', 'b.example.com', 81],
    ['OPTIONS *', 'OPTIONS * HTTP/1.1\r\nHost: a.example.com\r\n\r\n', 'a.example.com', undefined],
  ];
  for (const [name, text, host, port] of rows) {
    test(name, () => {
      const h = head(text);
      assert.deepEqual([h.host, h.port], [host, port]);
    });
  }

  test('incomplete at every prefix of a good head', () => {
    const text = 'POST /u HTTP/1.1\r\nHost: a.example.com\r\nContent-Length: 3\r\n\r\n';
    for (let k = 0; k < text.length; k++) assert.deepEqual(parseRequestHead(b(text.slice(0, k))), { kind: 'incomplete' }, `prefix ${k}`);
    assert.equal(head(text).headBytes, text.length);
  });

  test('body lengths', () => {
    assert.equal(requestBodyLength(head('GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n')), 0);
    assert.equal(requestBodyLength(head('POST / HTTP/1.1\r\nHost: a.example.com\r\ncontent-length: 12\r\n\r\n')), 12);
    assert.equal(requestBodyLength(head('POST / HTTP/1.1\r\nHost: a.example.com\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n')), 'chunked');
  });
});

const refusals: [string, string, string, string][] = [
  ['bare LF', 'GET / HTTP/1.1\nHost: a.example.com\n\n', 'HTTP_MALFORMED', 'bare LF at byte 14 (lines must end with CRLF), got "\\n"'],
  ['bare LF in a header line', 'GET / HTTP/1.1\r\nHost: a.example.com\nX: y\r\n\r\n', 'HTTP_MALFORMED', 'bare LF at byte 35 (lines must end with CRLF), got "\\n"'],
  ['empty line before the request line', '\r\nGET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n', 'HTTP_MALFORMED', 'request line must be "<method> <target> <version>" separated by single spaces, got ""'],
  ['two spaces in the request line', 'GET  / HTTP/1.1\r\nHost: a\r\n\r\n', 'HTTP_MALFORMED', 'request line must be "<method> <target> <version>" separated by single spaces, got "GET  / HTTP/1.1"'],
  ['HTTP/2.0', 'GET / HTTP/2.0\r\nHost: a.example.com\r\n\r\n', 'HTTP_MALFORMED', 'version must be HTTP/1.1 or HTTP/1.0, got "HTTP/2.0"'],
  ['method not a token', 'G(T / HTTP/1.1\r\nHost: a.example.com\r\n\r\n', 'HTTP_MALFORMED', 'method must be a token, got "G(T"'],
  ['NUL in target', 'GET /\0 HTTP/1.1\r\nHost: a.example.com\r\n\r\n', 'HTTP_MALFORMED', 'target must be visible ASCII, got "/\\u0000"'],
  ['relative target', 'GET a/b HTTP/1.1\r\nHost: a.example.com\r\n\r\n', 'HTTP_MALFORMED', 'target must be origin-form ("/path"), absolute-form ("http://host/path") or "*", got "a/b"'],
  ['obs-fold', 'GET / HTTP/1.1\r\nHost: a.example.com\r\nX: a\r\n b\r\n\r\n', 'HTTP_MALFORMED', 'headers[2] starts with whitespace (obs-fold line folding is refused), got " b"'],
  ['space before colon', 'GET / HTTP/1.1\r\nHost : a.example.com\r\n\r\n', 'HTTP_MALFORMED', 'headers[0] name must be a token (no whitespace before ":"), got "Host "'],
  ['no colon', 'GET / HTTP/1.1\r\nHost a.example.com\r\n\r\n', 'HTTP_MALFORMED', 'headers[0] has no ":", got "Host a.example.com"'],
  ['NUL in a value', 'GET / HTTP/1.1\r\nHost: a.example.com\r\nX: a\0b\r\n\r\n', 'HTTP_MALFORMED', 'headers[1] (X) value holds a control character (NUL, CR, LF or other), got "a\\u0000b"'],
  ['lone CR in a value', 'GET / HTTP/1.1\r\nX: a\rHost: evil.org\r\nHost: a.example.com\r\n\r\n', 'HTTP_MALFORMED', 'headers[0] (X) value holds a control character (NUL, CR, LF or other), got "a\\rHost: evil.org"'],
  ['Host missing in HTTP/1.1', 'GET / HTTP/1.1\r\nX: y\r\n\r\n', 'HTTP_HOST_MISSING', 'an HTTP/1.1 request must carry a Host header, got undefined'],
  ['two Host headers', 'GET / HTTP/1.1\r\nHost: a.example.com\r\nhost: evil.org\r\n\r\n', 'HTTP_HOST_DUPLICATE', 'Host appears 2 times, got ["a.example.com","evil.org"]'],
  ['Host is an IP', 'GET / HTTP/1.1\r\nHost: 10.1.2.3:80\r\n\r\n', 'HTTP_HOST_INVALID', 'Host must be a DNS name, not an IP address (put addresses in a ServiceEntry\'s spec.endpoints), got "10.1.2.3:80"'],
  ['Host is IPv6', 'GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n', 'HTTP_HOST_INVALID', 'Host must be a DNS name, not an IP address, got "[::1]:80"'],
  ['Host empty', 'GET / HTTP/1.1\r\nHost:\r\n\r\n', 'HTTP_HOST_INVALID', 'Host must not be empty, got ""'],
  ['Host with userinfo', 'GET / HTTP/1.1\r\nHost: a.example.com@evil.org\r\n\r\n', 'HTTP_HOST_INVALID', 'Host must not contain userinfo ("@"), got "a.example.com@evil.org"'],
  ['Host port 0', 'GET / HTTP/1.1\r\nHost: a.example.com:0\r\n\r\n', 'HTTP_HOST_INVALID', 'Host port "0" must be a number from 1 to 65535, got "a.example.com:0"'],
  ['Host port empty', 'GET / HTTP/1.1\r\nHost: a.example.com:\r\n\r\n', 'HTTP_HOST_INVALID', 'Host port "" must be a number from 1 to 65535, got "a.example.com:"'],
  ['Host with underscore', 'GET / HTTP/1.1\r\nHost: a_b.example.com\r\n\r\n', 'HTTP_HOST_INVALID', 'Host label "a_b" must be 1-63 characters of a-z, 0-9 and "-", starting and ending with a letter or digit, got "a_b.example.com"'],
  ['absolute-form host differs', 'GET http://evil.org/ HTTP/1.1\r\nHost: a.example.com\r\n\r\n', 'HTTP_HOST_MISMATCH', 'target authority "evil.org" disagrees with Host, got "a.example.com"'],
  ['absolute-form port differs', 'GET http://a.example.com:8080/ HTTP/1.1\r\nHost: a.example.com\r\n\r\n', 'HTTP_HOST_MISMATCH', 'target authority "a.example.com:8080" disagrees with Host, got "a.example.com"'],
  ['absolute-form with userinfo', 'GET http://a.example.com@evil.org/ HTTP/1.1\r\nHost: a.example.com\r\n\r\n', 'HTTP_HOST_INVALID', 'target authority must not contain userinfo ("@"), got "http://a.example.com@evil.org/"'],
  ['CONNECT to another host', 'CONNECT evil.org:443 HTTP/1.1\r\nHost: a.example.com:443\r\n\r\n', 'HTTP_HOST_MISMATCH', 'target authority "evil.org:443" disagrees with Host, got "a.example.com:443"'],
  ['CONNECT without port', 'CONNECT a.example.com HTTP/1.1\r\nHost: a.example.com\r\n\r\n', 'HTTP_HOST_INVALID', 'CONNECT target must name a port, got "a.example.com"'],
  ['TE + CL', 'POST / HTTP/1.1\r\nHost: a.example.com\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n', 'HTTP_FRAMING_AMBIGUOUS', 'Transfer-Encoding and Content-Length together (request smuggling), got ["chunked","4"]'],
  ['two Content-Length', 'POST / HTTP/1.1\r\nHost: a.example.com\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\n', 'HTTP_FRAMING_AMBIGUOUS', 'Content-Length appears 2 times, got ["4","4"]'],
  ['Content-Length list', 'POST / HTTP/1.1\r\nHost: a.example.com\r\nContent-Length: 4, 5\r\n\r\n', 'HTTP_FRAMING_AMBIGUOUS', 'Content-Length must be a decimal number, got "4, 5"'],
  ['Content-Length signed', 'POST / HTTP/1.1\r\nHost: a.example.com\r\nContent-Length: +4\r\n\r\n', 'HTTP_FRAMING_AMBIGUOUS', 'Content-Length must be a decimal number, got "+4"'],
  ['Content-Length huge', 'POST / HTTP/1.1\r\nHost: a.example.com\r\nContent-Length: 99999999999999999999\r\n\r\n', 'HTTP_FRAMING_AMBIGUOUS', 'Content-Length must be a decimal number, got "99999999999999999999"'],
  ['TE obfuscated', 'POST / HTTP/1.1\r\nHost: a.example.com\r\nTransfer-Encoding: xchunked\r\n\r\n', 'HTTP_FRAMING_AMBIGUOUS', 'Transfer-Encoding must end with "chunked", once, got "xchunked"'],
  ['TE chunked twice', 'POST / HTTP/1.1\r\nHost: a.example.com\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', 'HTTP_FRAMING_AMBIGUOUS', 'Transfer-Encoding must end with "chunked", once, got "chunked, chunked"'],
  ['TE in HTTP/1.0', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', 'HTTP_FRAMING_AMBIGUOUS', 'Transfer-Encoding in an HTTP/1.0 request, got "chunked"'],
];

describe('refused heads', () => {
  for (const [name, text, code, why] of refusals) {
    test(`${code}: ${name}`, () => {
      assert.throws(() => parseRequestHead(b(text)), (err: unknown) => {
        assert.ok(err instanceof AmbitError);
        assert.equal(err.code, code);
        assert.equal(err.message, `Cannot read HTTP request head: ${why}`);
        return true;
      });
    });
  }

  test('HTTP_HEAD_TOO_LARGE once the limit passes without an end; headers over the count', () => {
    const long = b(`GET / HTTP/1.1\r\nHost: a.example.com\r\nX: ${'a'.repeat(40000)}`);
    assert.throws(() => parseRequestHead(long), { code: 'HTTP_HEAD_TOO_LARGE', message: 'Cannot read HTTP request head: no end of head within the limit of 32768 bytes, got 32768' });
    assert.deepEqual(parseRequestHead(long.subarray(0, 32767)), { kind: 'incomplete' });
    assert.throws(() => parseRequestHead(b('GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n'), { maxBytes: 20 }), { code: 'HTTP_HEAD_TOO_LARGE' });
    const many = `GET / HTTP/1.1\r\nHost: a.example.com\r\n${'X: y\r\n'.repeat(100)}\r\n`;
    assert.throws(() => parseRequestHead(b(many)), { code: 'HTTP_HEAD_TOO_LARGE', message: 'Cannot read HTTP request head: 101 header fields are over the limit of 100, got 101' });
  });
});

describe('pipelining', () => {
  const get = (host: string): string => `GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`;

  test('two GETs to two hosts in one buffer', () => {
    assert.deepEqual(pipelinedHosts(b(get('a.example.com') + get('evil.org'))), ['a.example.com', 'evil.org']);
  });

  test('a Content-Length body is skipped, and its bytes are not read as a head', () => {
    const smuggled = get('evil.org');
    const text = `POST / HTTP/1.1\r\nHost: a.example.com\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}${get('b.example.com')}`;
    assert.deepEqual(pipelinedHosts(b(text)), ['a.example.com', 'b.example.com']);
  });

  test('a chunked body with extension and trailer is skipped', () => {
    const body = '5;ext=1\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n';
    const text = `POST / HTTP/1.1\r\nHost: a.example.com\r\nTransfer-Encoding: chunked\r\n\r\n${body}${get('evil.org')}`;
    assert.deepEqual(pipelinedHosts(b(text)), ['a.example.com', 'evil.org']);
    assert.equal(chunkedBodyLength(b(body), 0), body.length);
    for (let k = 0; k < body.length; k++) assert.equal(chunkedBodyLength(b(body.slice(0, k)), 0), -1, `prefix ${k}`);
  });

  test('stops at an incomplete second head or body; throws on a malformed second head', () => {
    assert.deepEqual(pipelinedHosts(b(get('a.example.com') + 'GET / HTTP/1.1\r\nHost: evil')), ['a.example.com']);
    assert.deepEqual(pipelinedHosts(b('POST / HTTP/1.1\r\nHost: a.example.com\r\nContent-Length: 100\r\n\r\nabc' + get('evil.org'))), ['a.example.com']); // the GET is body bytes
    assert.throws(() => pipelinedHosts(b(get('a.example.com') + 'GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n')), { code: 'HTTP_HOST_DUPLICATE' });
  });

  test('bad chunk framing is HTTP_MALFORMED', () => {
    assert.throws(() => chunkedBodyLength(b('zz\r\n'), 0), { code: 'HTTP_MALFORMED', message: 'Cannot read HTTP request head: chunk size at byte 0 of the body must be hex digits, got "zz"' });
    assert.throws(() => chunkedBodyLength(b('2\r\nabc\r\n'), 0), { code: 'HTTP_MALFORMED', message: 'Cannot read HTTP request head: chunk data at byte 3 of the body is not followed by CRLF, got 2' });
    assert.throws(() => chunkedBodyLength(b('2\nab'), 0), { code: 'HTTP_MALFORMED' });
  });
});
