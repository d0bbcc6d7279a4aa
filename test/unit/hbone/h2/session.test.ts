// The HTTP/2 session of src/hbone/h2 against Node's own HTTP/2 (nghttp2) as the real peer, both
// ways, over TLS on loopback: CONNECT streams, echo with half-close, flow control with small
// windows, many streams at once, PING, GOAWAY. Then hostile peers (test/unit/hbone/raw-h2.ts
// writes frames by hand) against our server end.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http2 from 'node:http2';
import { connect as tlsConnect, createServer as tlsServer, type Server, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { H2Session, type H2SessionOptions, type IncomingStream } from '../../../../src/hbone/h2/session.js';
import type { H2Stream } from '../../../../src/hbone/h2/stream.js';
import { ErrorCode } from '../../../../src/hbone/h2/frame.js';
import { MeshFixture, svidContext } from '../../../../src/testing/svid-fixtures.js';
import { FRAME, RawH2, frame, hpackBlock } from '../raw-h2.js';

const mesh = MeshFixture.create();
const serverContext = svidContext(mesh.mint(mesh.workload('shop', 'backend')));
const clientContext = svidContext(mesh.mint(mesh.workload('shop', 'frontend')));

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

function collect(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  s.on('data', (d: Buffer) => parts.push(d));
  return new Promise((resolve, reject) => {
    s.once('end', () => resolve(Buffer.concat(parts)));
    s.once('error', reject);
  });
}

/** Our server end: every CONNECT gets 200 and its bytes echoed back, half-close kept. */
class OurServer {
  readonly sessions: H2Session[] = [];
  readonly events: string[] = [];
  server!: Server;
  port = 0;

  /** @param read false: streams are answered but never read (a stalled upstream). */
  async start(options: Partial<H2SessionOptions> = {}, read = true): Promise<this> {
    this.server = tlsServer({ secureContext: serverContext, requestCert: true, ALPNProtocols: ['h2'], minVersion: 'TLSv1.3' }, (socket: TLSSocket) => {
      const session = new H2Session(socket, 'server', options);
      this.sessions.push(session);
      session.on('protocolError', (code: number, message: string) => this.events.push(`protocolError ${code} ${message}`));
      session.on('streamError', (id: number, code: number, message: string) => this.events.push(`streamError ${id} ${code} ${message}`));
      session.on('streamRefused', (id: number) => this.events.push(`streamRefused ${id}`));
      session.on('stream', ({ stream, headers, oversized }: IncomingStream) => {
        if (oversized) return stream.respond(431, {}, { endStream: true });
        if (headers[':method'] !== 'CONNECT') return stream.respond(400, {}, { endStream: true });
        stream.respond(200);
        if (read) stream.pipe(stream);
        stream.on('error', () => undefined);
      });
      socket.on('error', () => undefined);
    });
    // tls.Server takes no ready-made context; this is how src/hbone/server.ts sets its SVID too.
    (this.server as unknown as { _sharedCreds: unknown })._sharedCreds = serverContext;
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sessions) s.destroy();
    this.server.close();
  }
}

describe('our server, Node\'s HTTP/2 client', () => {
  let ours: OurServer;
  before(async () => { ours = await new OurServer().start({ initialWindowSize: 65_535, maxFrameSize: 16_384 }); });
  after(async () => { await ours.stop(); });

  test('50 CONNECT streams at once each echo 200 KB through 64 KB windows, ending cleanly', async () => {
    const client = http2.connect(`https://127.0.0.1:${ours.port}`, { secureContext: clientContext, checkServerIdentity: () => undefined });
    await once(client, 'connect');
    const results = await Promise.all(Array.from({ length: 50 }, async (_, i) => {
      const s = client.request({ ':method': 'CONNECT', ':authority': `10.44.0.${i}:8080` }, { endStream: false });
      const [headers] = await once(s, 'response') as [http2.IncomingHttpHeaders];
      assert.equal(headers[':status'], 200);
      const body = pattern(200_000, i);
      const echoed = collect(s);
      s.end(body);
      const back = await echoed;
      await once(s, 'close');
      return { same: back.equals(body), rst: s.rstCode };
    }));
    for (const [i, r] of results.entries()) {
      assert.ok(r.same, `stream ${i} echoed intact`);
      assert.equal(r.rst, http2.constants.NGHTTP2_NO_ERROR, `stream ${i} closed without a reset`);
    }
    assert.deepEqual(ours.events, []);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(ours.sessions.at(-1)!.streamCount, 0, 'every stream forgotten');
    client.close();
  });

  test('a PING from the client is answered; a request above the header limit gets 431; a GET gets 400', async () => {
    const client = http2.connect(`https://127.0.0.1:${ours.port}`, { secureContext: clientContext, checkServerIdentity: () => undefined });
    await once(client, 'connect');
    const ms = await new Promise<number>((resolve, reject) => client.ping((err, d) => (err ? reject(err) : resolve(d))));
    assert.ok(ms >= 0);
    const big = client.request({ ':method': 'CONNECT', ':authority': '10.44.0.1:80', 'x-big': 'b'.repeat(20_000) });
    const [h1] = await once(big, 'response') as [http2.IncomingHttpHeaders];
    assert.equal(h1[':status'], 431);
    const get = client.request({ ':path': '/' });
    const [h2] = await once(get, 'response') as [http2.IncomingHttpHeaders];
    assert.equal(h2[':status'], 400);
    client.close();
  });
});

describe('our client, Node\'s HTTP/2 server', () => {
  let server: http2.Http2SecureServer;
  let port = 0;
  const sessions: http2.ServerHttp2Session[] = [];
  before(async () => {
    server = http2.createSecureServer({ allowHTTP1: false, settings: { initialWindowSize: 65_535, maxConcurrentStreams: 20 } });
    (server as unknown as { _sharedCreds: unknown })._sharedCreds = serverContext;
    server.on('session', (s) => sessions.push(s));
    server.on('stream', (stream) => {
      stream.respond({ ':status': 200 });
      stream.pipe(stream);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  after(() => { for (const s of sessions) s.destroy(); server.close(); });

  async function dial(): Promise<H2Session> {
    const socket = tlsConnect({ host: '127.0.0.1', port, secureContext: clientContext, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined });
    await once(socket, 'secureConnect');
    const session = new H2Session(socket, 'client');
    await once(session, 'remoteSettings');
    return session;
  }

  test('streams up to the server\'s limit each echo 1 MB through its 64 KB windows; the next is refused until one closes', async () => {
    const session = await dial();
    assert.equal(session.remote.maxConcurrentStreams, 20);
    const streams: H2Stream[] = [];
    for (let i = 0; i < 20; i++) streams.push(session.request([[':method', 'CONNECT'], [':authority', `10.0.0.${i}:443`]]));
    assert.throws(() => session.request([[':method', 'CONNECT'], [':authority', '10.0.0.99:443']]), /allows 20 streams/);
    const echoed = await Promise.all(streams.map(async (s, i) => {
      const [headers] = await once(s, 'response') as [Record<string, string>];
      assert.equal(headers[':status'], '200');
      const body = pattern(1_000_000, i);
      const back = collect(s);
      s.end(body);
      return (await back).equals(body);
    }));
    assert.ok(echoed.every(Boolean), 'every stream echoed intact');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(session.streamCount, 0);
    const ms = await new Promise<number>((resolve, reject) => session.ping((err, d) => (err ? reject(err) : resolve(d))));
    assert.ok(ms >= 0);
    const closed = once(session, 'close');
    session.close();
    await closed;
  });

  test('GOAWAY from the server is seen: no new stream, and the session closes once idle', async () => {
    const session = await dial();
    const goaway = once(session, 'goaway');
    const closed = once(session, 'close');
    sessions.at(-1)!.goaway(http2.constants.NGHTTP2_NO_ERROR);
    const [code] = await goaway as [number];
    assert.equal(code, ErrorCode.NO_ERROR);
    assert.throws(() => session.request([[':method', 'CONNECT'], [':authority', '10.0.0.1:443']]), /closing/);
    await closed;
  });
});

describe('our server against hostile peers', () => {
  let ours: OurServer;
  before(async () => { ours = await new OurServer().start({ maxConcurrentStreams: 3, headerBlockTimeoutMs: 200, maxHeaderBlockBytes: 4096 }); });
  after(async () => { await ours.stop(); });

  async function goawayCode(raw: RawH2): Promise<number> {
    await raw.waitFor((f) => f.some((x) => x.type === FRAME.GOAWAY));
    return raw.frames.find((x) => x.type === FRAME.GOAWAY)!.payload.readUInt32BE(4);
  }

  const cases: Array<[string, (raw: RawH2) => void, number, RegExp]> = [
    ['DATA on stream 0', (raw) => raw.socket.write(frame(FRAME.DATA, 0, 0, Buffer.from('x'))), ErrorCode.PROTOCOL_ERROR, /DATA on stream 0/],
    ['a SETTINGS frame of 5 bytes', (raw) => raw.socket.write(frame(FRAME.SETTINGS, 0, 0, Buffer.alloc(5))), ErrorCode.FRAME_SIZE_ERROR, /SETTINGS of 5 bytes/],
    ['a header block larger than allowed', (raw) => raw.socket.write(frame(FRAME.HEADERS, 0x4, 1, hpackBlock([[':method', 'CONNECT'], ['x', 'y'.repeat(5000)]]))), ErrorCode.ENHANCE_YOUR_CALM, /header block above/],
    ['a header block never finished (no CONTINUATION)', (raw) => raw.socket.write(frame(FRAME.HEADERS, 0, 1, hpackBlock([[':method', 'CONNECT']]))), ErrorCode.PROTOCOL_ERROR, /not finished within 200 ms/],
    ['garbage HPACK', (raw) => raw.socket.write(frame(FRAME.HEADERS, 0x4, 1, Buffer.from([0x80]))), ErrorCode.COMPRESSION_ERROR, /index 0/],
    ['thousands of resets', (raw) => {
      const frames: Buffer[] = [];
      for (let id = 1; id < 2 * 400; id += 2) frames.push(raw.connectFrame(id, '10.0.0.1:80'), frame(FRAME.RST_STREAM, 0, id, Buffer.from([0, 0, 0, 8])));
      raw.socket.write(Buffer.concat(frames));
    }, ErrorCode.ENHANCE_YOUR_CALM, /too many streams (reset|refused)/],
    ['a WINDOW_UPDATE overflowing the connection window', (raw) => raw.socket.write(frame(FRAME.WINDOW_UPDATE, 0, 0, Buffer.from([0x7f, 0xff, 0xff, 0xff]))), ErrorCode.FLOW_CONTROL_ERROR, /above 2\^31-1/],
  ];
  for (const [what, attack, code, message] of cases) {
    test(`${what}: GOAWAY ${code}, reported, connection closed; a good client is served meanwhile`, async () => {
      const before = ours.events.length;
      const raw = await RawH2.connect(ours.port, clientContext);
      try {
        await raw.waitFor((f) => f.some((x) => x.type === FRAME.SETTINGS));
        attack(raw);
        assert.equal(await goawayCode(raw), code);
        await raw.waitFor(() => raw.closed, 3000);
      } finally {
        raw.socket.destroy();
      }
      const reported = ours.events.slice(before).filter((e) => e.startsWith('protocolError'));
      assert.equal(reported.length, 1, JSON.stringify(ours.events.slice(before)));
      assert.match(reported[0]!, message);
      const client = http2.connect(`https://127.0.0.1:${ours.port}`, { secureContext: clientContext, checkServerIdentity: () => undefined });
      const s = client.request({ ':method': 'CONNECT', ':authority': '10.0.0.1:80' });
      const back = collect(s);
      s.end('still served');
      assert.equal((await back).toString(), 'still served');
      client.close();
    });
  }

  test('bytes that are not an HTTP/2 preface end the connection', async () => {
    const before = ours.events.length;
    const socket = tlsConnect({ host: '127.0.0.1', port: ours.port, secureContext: clientContext, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined });
    await once(socket, 'secureConnect');
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    socket.resume();
    await once(socket, 'close');
    assert.match(ours.events.slice(before).join('\n'), /not an HTTP\/2 client preface/);
  });

  test('a stream above MAX_CONCURRENT_STREAMS is refused with RST_STREAM(REFUSED_STREAM); the others work', async () => {
    const raw = await RawH2.connect(ours.port, clientContext);
    try {
      raw.socket.write(Buffer.concat([1, 3, 5, 7].map((id) => raw.connectFrame(id, '10.0.0.1:80'))));
      await raw.waitFor((f) => f.some((x) => x.type === FRAME.RST_STREAM && x.streamId === 7));
      const rst = raw.frames.find((x) => x.type === FRAME.RST_STREAM)!;
      assert.equal(rst.payload.readUInt32BE(0), ErrorCode.REFUSED_STREAM);
      assert.equal(raw.frames.filter((x) => x.type === FRAME.HEADERS).length, 3, 'the first three answered');
      assert.ok(ours.events.includes('streamRefused 7'));
    } finally {
      raw.socket.destroy();
    }
  });

  test('a malformed request (CONNECT with :path) is a stream error; the connection stays', async () => {
    const raw = await RawH2.connect(ours.port, clientContext);
    try {
      raw.socket.write(frame(FRAME.HEADERS, 0x4, 1, hpackBlock([[':method', 'CONNECT'], [':authority', '10.0.0.1:80'], [':path', '/']])));
      await raw.waitFor((f) => f.some((x) => x.type === FRAME.RST_STREAM && x.streamId === 1));
      raw.socket.write(raw.connectFrame(3, '10.0.0.1:80'));
      await raw.waitFor((f) => f.some((x) => x.type === FRAME.HEADERS && x.streamId === 3));
      assert.ok(!raw.frames.some((x) => x.type === FRAME.GOAWAY));
    } finally {
      raw.socket.destroy();
    }
  });

  test('DATA beyond the window of a stream nobody reads is a stream error (FLOW_CONTROL_ERROR); the connection stays', async () => {
    const small = await new OurServer().start({ initialWindowSize: 65_535, maxFrameSize: 16_384 }, false);
    const raw = await RawH2.connect(small.port, clientContext);
    try {
      // The stream's reader never reads: its window is credited only while its buffer (256 KB)
      // fills, so 64 KB + 256 KB is all the peer may send; 24 frames of 16 KB are more. The
      // connection window is credited on receipt, so the connection itself is not at fault.
      raw.socket.write(raw.connectFrame(1, '10.0.0.1:80'));
      const chunk = frame(FRAME.DATA, 0, 1, Buffer.alloc(16_384));
      raw.socket.write(Buffer.concat(Array.from({ length: 24 }, () => chunk)));
      await raw.waitFor((f) => f.some((x) => x.type === FRAME.RST_STREAM && x.streamId === 1));
      assert.equal(raw.frames.find((x) => x.type === FRAME.RST_STREAM)!.payload.readUInt32BE(0), ErrorCode.FLOW_CONTROL_ERROR);
      assert.match(small.events.join('\n'), /streamError 1 3 DATA beyond the stream window/);
      assert.ok(!raw.frames.some((x) => x.type === FRAME.GOAWAY), 'no GOAWAY');
    } finally {
      raw.socket.destroy();
      await small.stop();
    }
  });
});
