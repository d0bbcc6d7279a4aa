// The HTTP/2 codec of src/hbone/h2: HPACK (RFC 7541, with its published test vectors), the frame
// reader (DATA in pieces, padding, limits) and the header-list rules of RFC 9113 section 8.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HpackDecoder, HpackError, STATIC_TABLE, encodeHeaders, type HeaderField } from '../../../../src/hbone/h2/hpack.js';
import { huffmanDecode } from '../../../../src/hbone/h2/huffman.js';
import { ErrorCode, Flag, FrameReader, FrameType, H2ConnectionError, frame, frameHeader, type FrameHandler } from '../../../../src/hbone/h2/frame.js';
import { checkHeaders } from '../../../../src/hbone/h2/headers.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('HPACK', () => {
  test('the static table has the RFC\'s 61 entries in order', () => {
    assert.equal(STATIC_TABLE.length, 61);
    assert.deepEqual(STATIC_TABLE[0], [':authority', '']);
    assert.deepEqual(STATIC_TABLE[1], [':method', 'GET']);
    assert.deepEqual(STATIC_TABLE[7], [':status', '200']);
    assert.deepEqual(STATIC_TABLE[15], ['accept-encoding', 'gzip, deflate']);
    assert.deepEqual(STATIC_TABLE[60], ['www-authenticate', '']);
  });

  test('decodes RFC 7541 C.3 (requests without Huffman), keeping the dynamic table across blocks', () => {
    const d = new HpackDecoder();
    assert.deepEqual(d.decode(hex('8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d'), 1 << 20).fields, [
      [':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'],
    ]);
    assert.deepEqual(d.decode(hex('8286 84be 5808 6e6f 2d63 6163 6865'), 1 << 20).fields, [
      [':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache'],
    ]);
    assert.deepEqual(d.decode(hex('8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65'), 1 << 20).fields, [
      [':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value'],
    ]);
  });

  test('decodes RFC 7541 C.4 (the same requests with Huffman)', () => {
    const d = new HpackDecoder();
    assert.deepEqual(d.decode(hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff'), 1 << 20).fields, [
      [':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'],
    ]);
    assert.deepEqual(d.decode(hex('8286 84be 5886 a8eb 1064 9cbf'), 1 << 20).fields.at(-1), ['cache-control', 'no-cache']);
    assert.deepEqual(d.decode(hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf'), 1 << 20).fields.at(-1), ['custom-key', 'custom-value']);
  });

  test('what the encoder writes decodes to the same fields', () => {
    const fields: HeaderField[] = [[':method', 'CONNECT'], [':authority', '10.44.0.7:8080'], [':status', '200'], ['x-long', 'v'.repeat(300)], ['baggage', 'a=b']];
    assert.deepEqual(new HpackDecoder().decode(encodeHeaders(fields), 1 << 20).fields, fields);
  });

  test('a list above the size limit is still decoded (the table stays in step) but its fields are not returned', () => {
    const d = new HpackDecoder();
    const r = d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65'), 40);
    assert.equal(r.oversized, true);
    assert.equal(r.listSize, 54);
    assert.deepEqual(r.fields, []);
    // The entry was inserted all the same: index 62 names it.
    assert.deepEqual(d.decode(Buffer.from([0x80 | 62]), 1000).fields, [['custom-key', 'custom-value']]);
  });

  const bad: Array<[string, Buffer, RegExp]> = [
    ['index 0', Buffer.from([0x80]), /index 0/],
    ['an index beyond the table', Buffer.from([0x80 | 70]), /index 70 is beyond/],
    ['a size update above the allowed size', hex('3fe1 1f'), /size update to 4096/],
    ['a size update after a field', Buffer.from([0x82, 0x20]), /after the first field/],
    ['an integer that never ends', Buffer.from([0xff, 0xff, 0xff]), /ends inside an integer/],
    ['an integer above 2^28', Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), /too large/],
    ['a string past the block', Buffer.from([0x00, 0x05, 0x61]), /runs past/],
    ['Huffman padding of zeros', Buffer.from([0x00, 0x81, 0x00, 0x81, 0x00]), /padding|invalid/],
  ];
  for (const [what, block, message] of bad) {
    test(`refuses ${what}`, () => {
      assert.throws(() => new HpackDecoder(4095).decode(block, 1 << 20), (err: unknown) => err instanceof HpackError && message.test(err.message));
    });
  }

  test('Huffman: EOS inside a string and padding longer than 7 bits are refused', () => {
    assert.throws(() => huffmanDecode(Buffer.from([0xff, 0xff, 0xff, 0xff])), /EOS/);
    assert.throws(() => huffmanDecode(Buffer.from([0x1f, 0xff])), /longer than 7 bits|EOS/);
    assert.equal(huffmanDecode(hex('f1e3 c2e5 f23a 6ba0 ab90 f4ff')).toString('latin1'), 'www.example.com');
  });
});

class Recorder implements FrameHandler {
  readonly events: string[] = [];
  readonly data = new Map<number, Buffer[]>();
  dataStart(id: number, flags: number, length: number): void { this.events.push(`start ${id} ${flags} ${length}`); }
  dataPiece(id: number, piece: Buffer): void {
    const list = this.data.get(id) ?? [];
    list.push(Buffer.from(piece));
    this.data.set(id, list);
  }
  dataEnd(id: number, flags: number): void { this.events.push(`end ${id} ${flags}`); }
  frame(type: number, flags: number, id: number, payload: Buffer): void { this.events.push(`frame ${type} ${flags} ${id} ${payload.toString('hex')}`); }
}

describe('frame reader', () => {
  const wire = Buffer.concat([
    frame(FrameType.SETTINGS, 0, 0, Buffer.from('000400010000', 'hex')),
    frame(FrameType.DATA, 0, 1, Buffer.from('hello ')),
    // Padded: pad length 3, "world", 3 bytes of padding.
    frame(FrameType.DATA, Flag.PADDED | Flag.END_STREAM, 1, Buffer.concat([Buffer.from([3]), Buffer.from('world'), Buffer.alloc(3)])),
    frame(FrameType.PING, 0, 0, Buffer.alloc(8, 1)),
    frame(FrameType.DATA, Flag.END_STREAM, 3),
  ]);
  const expected = [
    'frame 4 0 0 000400010000', 'start 1 0 6', 'end 1 0', 'start 1 9 9', 'end 1 9', `frame 6 0 0 ${'01'.repeat(8)}`, 'start 3 1 0', 'end 3 1',
  ];

  test('reads the same frames whether the bytes come whole or one at a time', () => {
    for (const step of [wire.length, 1, 2, 7, 10]) {
      const r = new Recorder();
      const reader = new FrameReader(r);
      for (let i = 0; i < wire.length; i += step) reader.push(wire.subarray(i, i + step));
      assert.deepEqual(r.events, expected, `in pieces of ${step}`);
      assert.equal(Buffer.concat(r.data.get(1)!).toString(), 'hello world', `padding left out, in pieces of ${step}`);
    }
  });

  test('a frame longer than our SETTINGS_MAX_FRAME_SIZE is FRAME_SIZE_ERROR', () => {
    const reader = new FrameReader(new Recorder(), 16_384);
    assert.throws(() => reader.push(frameHeader(16_385, FrameType.DATA, 0, 1)), (err: unknown) => err instanceof H2ConnectionError && err.code === ErrorCode.FRAME_SIZE_ERROR);
  });

  test('padding as long as the frame is PROTOCOL_ERROR', () => {
    const reader = new FrameReader(new Recorder());
    assert.throws(() => reader.push(frame(FrameType.DATA, Flag.PADDED, 1, Buffer.from([4, 0, 0, 0]))), (err: unknown) => err instanceof H2ConnectionError && err.code === ErrorCode.PROTOCOL_ERROR);
  });
});

describe('header lists (RFC 9113 section 8)', () => {
  const connect: HeaderField[] = [[':method', 'CONNECT'], [':authority', '10.0.0.1:80']];
  test('a CONNECT request and a response are accepted', () => {
    assert.deepEqual({ ...(checkHeaders([...connect, ['x-a', '1'], ['x-a', '2']], 'request') as object) }, { ':method': 'CONNECT', ':authority': '10.0.0.1:80', 'x-a': '1, 2' });
    assert.equal(typeof checkHeaders([[':status', '200']], 'response'), 'object');
  });
  const malformed: Array<[string, HeaderField[], 'request' | 'response']> = [
    ['no :method', [[':authority', 'a:1']], 'request'],
    ['CONNECT without :authority', [[':method', 'CONNECT']], 'request'],
    ['CONNECT with :path', [...connect, [':path', '/']], 'request'],
    ['a pseudo-header after a regular one', [[':method', 'CONNECT'], ['x', '1'], [':authority', 'a:1']], 'request'],
    ['a pseudo-header twice', [...connect, [':authority', 'b:1']], 'request'],
    ['an unknown pseudo-header', [...connect, [':foo', '1']], 'request'],
    ['upper case in a name', [...connect, ['X-A', '1']], 'request'],
    ['a connection-specific header', [...connect, ['connection', 'close']], 'request'],
    ['te other than trailers', [...connect, ['te', 'gzip']], 'request'],
    ['a CR in a value', [...connect, ['x', 'a\rb']], 'request'],
    ['a leading space in a value', [...connect, ['x', ' a']], 'request'],
    ['GET without :path', [[':method', 'GET'], [':scheme', 'https'], [':authority', 'a']], 'request'],
    ['a response without :status', [['x', '1']], 'response'],
    ['a response with a request pseudo-header', [[':status', '200'], [':method', 'GET']], 'response'],
    ['a :status that is not 3 digits', [[':status', '20']], 'response'],
  ];
  for (const [what, fields, kind] of malformed) {
    test(`malformed: ${what}`, () => assert.equal(typeof checkHeaders(fields, kind), 'string'));
  }
});
