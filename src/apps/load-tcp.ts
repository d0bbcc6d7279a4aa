// The load client's raw-TCP modes, one per benchmark shape: a round trip on a kept connection
// (latency, rps), a round trip on a fresh connection each time (connection churn), and a one-way
// bulk stream that ends with a half-close (throughput, counted until the server closes).
import { type Socket, connect } from 'node:net';

/** What every mode adds to: latencies in ms, bytes, errors. */
export interface Tally { latencies: number[]; errors: number; sent: number; received: number; codes: Record<string, number>; firstError: string | null }

export function openTcp(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, noDelay: true });
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`connect timed out after ${timeoutMs} ms`)); }, timeoutMs);
    const onErr = (err: Error) => { clearTimeout(timer); s.destroy(); reject(err); };
    s.once('connect', () => { clearTimeout(timer); s.off('error', onErr); resolve(s); });
    s.once('error', onErr);
  });
}

/** Writes `body` and resolves once as many bytes came back; rejects (and destroys) on any trouble. */
function roundTrip(sock: Socket, body: Buffer, timeoutMs: number, t: Tally): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let got = 0;
    const timer = setTimeout(() => fail(new Error(`echo incomplete after ${timeoutMs} ms`)), timeoutMs);
    const onData = (c: Buffer) => { got += c.length; t.received += c.length; if (got >= body.length) finish(); };
    const onClose = () => fail(new Error('connection closed during a round trip'));
    const cleanup = () => { clearTimeout(timer); sock.off('data', onData); sock.off('close', onClose); sock.off('error', fail); };
    const finish = () => { cleanup(); resolve(); };
    function fail(err: Error) { cleanup(); sock.destroy(); reject(err); }
    sock.on('data', onData);
    sock.on('close', onClose);
    sock.on('error', fail);
    t.sent += body.length;
    sock.write(body);
  });
}

/** A persistent TCP connection that sends `size` bytes and waits for them to come back. */
export class EchoRoundTrip {
  private sock: Socket | undefined;
  constructor(private readonly host: string, private readonly port: number) {}

  async once(body: Buffer, timeoutMs: number, t: Tally): Promise<void> {
    const sock = this.sock ?? (this.sock = await openTcp(this.host, this.port, timeoutMs));
    const started = performance.now();
    await roundTrip(sock, body, timeoutMs, t).catch((err: unknown) => { this.sock = undefined; throw err; });
    t.latencies.push(performance.now() - started);
  }

  close(): void { this.sock?.destroy(); }
}

/** Connect, one round trip, close: the latency counts all three. */
export async function connectRoundTrip(host: string, port: number, body: Buffer, timeoutMs: number, t: Tally): Promise<void> {
  const started = performance.now();
  const sock = await openTcp(host, port, timeoutMs);
  try {
    await roundTrip(sock, body, timeoutMs, t);
    t.latencies.push(performance.now() - started);
  } finally {
    sock.destroy();
  }
}

/**
 * One connection that writes `chunk` while `more()` allows (honouring back-pressure), then
 * half-closes and waits until the server closes too, so every byte counted has been taken in by
 * the far end. Each chunk written counts as a request; bytes that come back are counted, not needed.
 */
export async function streamOneWay(host: string, port: number, chunk: Buffer, more: () => boolean, timeoutMs: number, t: Tally): Promise<void> {
  const sock = await openTcp(host, port, timeoutMs);
  let closed = false;
  let failure: Error | undefined;
  const closedP = new Promise<void>((resolve) => sock.once('close', () => { closed = true; resolve(); }));
  sock.on('error', (err) => { failure ??= err; });
  sock.on('data', (c: Buffer) => { t.received += c.length; });
  try {
    while (!closed && more()) {
      t.sent += chunk.length;
      if (!sock.write(chunk)) {
        await Promise.race([new Promise((r) => sock.once('drain', r)), closedP]);
      }
    }
    if (closed) throw failure ?? new Error('server closed the stream early');
    sock.end();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), timeoutMs); });
    const how = await Promise.race([closedP.then(() => 'closed' as const), timedOut]);
    clearTimeout(timer);
    if (how === 'timeout') throw new Error(`server did not close the stream within ${timeoutMs} ms of the half-close`);
    if (failure) throw failure;
  } finally {
    sock.destroy();
  }
}
