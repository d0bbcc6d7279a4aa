// A bounded load client for benchmarks and lab checks: N requests or S seconds (whichever the
// caller sets, always under a hard time ceiling) at C concurrent connections, over HTTP(S) or a
// raw TCP echo, summarised as JSON (rps, latency percentiles, bytes, errors).
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { type Socket, connect } from 'node:net';
import { AmbitError, showValue } from '../errors.js';

export type LoadTarget = { kind: 'http'; url: string } | { kind: 'tcp'; host: string; port: number };

export interface LoadOptions {
  target: LoadTarget;
  /** Stop after this many requests. Default 100 when no duration is given. */
  requests?: number;
  /** Stop after this many seconds. Default (and ceiling when only requests are given): 300. */
  durationSec?: number;
  concurrency?: number;
  /** Request body (HTTP: POST body; TCP: bytes per round trip; default 64 for TCP, 0 for HTTP). */
  size?: number;
  /** Per-request timeout (default 5000 ms). */
  timeoutMs?: number;
  /** Trusted roots for https:// targets. */
  caPem?: string;
}

export interface LoadStats {
  target: string;
  requests: number;
  errors: number;
  durationSec: number;
  rps: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  bytesSent: number;
  bytesReceived: number;
  statusCodes: Record<string, number>;
  firstError: string | null;
}

const LIMITS = { requests: 10_000_000, durationSec: 3600, concurrency: 1000, size: 64 * 1024 * 1024 };
const DEFAULT_CEILING_SEC = 300;

function checkLimit(name: keyof typeof LIMITS, v: number | undefined, min: number): void {
  if (v === undefined) return;
  if (!Number.isFinite(v) || v < min || v > LIMITS[name]) {
    throw new AmbitError('APP_INVALID_ARGUMENT', `Cannot run load: ${name} ${showValue(v)} is outside ${min}..${LIMITS[name]}`, { path: name, value: v });
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return Math.round(sorted[Math.max(0, i)]! * 1000) / 1000;
}

interface Tally { latencies: number[]; errors: number; sent: number; received: number; codes: Record<string, number>; firstError: string | null }

/** One HTTP request on the shared keep-alive agent; resolves with its latency or rejects. */
function httpOnce(url: URL, agent: HttpAgent, body: Buffer, timeoutMs: number, t: Tally): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { method: body.length ? 'POST' : 'GET', agent, headers: body.length ? { 'content-length': body.length } : {} }, (res) => {
      res.on('data', (c: Buffer) => { t.received += c.length; });
      res.on('end', () => {
        const code = String(res.statusCode ?? 0);
        t.codes[code] = (t.codes[code] ?? 0) + 1;
        if ((res.statusCode ?? 0) >= 400) reject(new Error(`HTTP ${code}`));
        else { t.latencies.push(performance.now() - started); resolve(); }
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no response within ${timeoutMs} ms`)));
    req.on('error', reject);
    t.sent += body.length;
    req.end(body);
  });
}

/** A persistent TCP connection that sends `size` bytes and waits for them to come back. */
class EchoRoundTrip {
  private sock: Socket | undefined;
  constructor(private readonly host: string, private readonly port: number) {}

  async once(body: Buffer, timeoutMs: number, t: Tally): Promise<void> {
    const sock = this.sock ?? (await this.open(timeoutMs));
    const started = performance.now();
    await new Promise<void>((resolve, reject) => {
      let got = 0;
      const timer = setTimeout(() => fail(new Error(`echo incomplete after ${timeoutMs} ms`)), timeoutMs);
      const onData = (c: Buffer) => { got += c.length; t.received += c.length; if (got >= body.length) finish(); };
      const onClose = () => fail(new Error('connection closed during a round trip'));
      const cleanup = () => { clearTimeout(timer); sock.off('data', onData); sock.off('close', onClose); sock.off('error', fail); };
      const finish = () => { cleanup(); t.latencies.push(performance.now() - started); resolve(); };
      function fail(err: Error) { cleanup(); sock.destroy(); reject(err); }
      sock.on('data', onData);
      sock.on('close', onClose);
      sock.on('error', fail);
      t.sent += body.length;
      sock.write(body);
    }).catch((err: unknown) => { this.sock = undefined; throw err; });
  }

  close(): void { this.sock?.destroy(); }

  private open(timeoutMs: number): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: this.host, port: this.port, noDelay: true });
      const timer = setTimeout(() => { s.destroy(); reject(new Error(`connect timed out after ${timeoutMs} ms`)); }, timeoutMs);
      s.once('connect', () => { clearTimeout(timer); s.off('error', onErr); this.sock = s; resolve(s); });
      const onErr = (err: Error) => { clearTimeout(timer); reject(err); };
      s.once('error', onErr);
    });
  }
}

export async function runLoad(opts: LoadOptions): Promise<LoadStats> {
  checkLimit('requests', opts.requests, 1);
  checkLimit('durationSec', opts.durationSec, 0.01);
  checkLimit('concurrency', opts.concurrency, 1);
  checkLimit('size', opts.size, 0);
  const target = opts.target;
  const requests = opts.requests ?? (opts.durationSec === undefined ? 100 : Infinity);
  const deadline = performance.now() + 1000 * (opts.durationSec ?? DEFAULT_CEILING_SEC);
  const concurrency = Math.min(opts.concurrency ?? 1, requests);
  const timeoutMs = opts.timeoutMs ?? 5000;
  const body = Buffer.alloc(opts.size ?? (target.kind === 'tcp' ? 64 : 0), 0x61);
  if (target.kind === 'tcp' && body.length === 0) throw new AmbitError('APP_INVALID_ARGUMENT', 'Cannot run load: size 0 is not a TCP round trip (give --size >= 1)', { path: 'size', value: 0 });
  let url: URL | undefined;
  if (target.kind === 'http') {
    try { url = new URL(target.url); } catch { url = undefined; }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw new AmbitError('APP_INVALID_ARGUMENT', `Cannot run load: url ${showValue(target.url)} is not an http:// or https:// URL`, { path: 'url', value: target.url });
    }
  }
  const agentOpts = { keepAlive: true, maxSockets: concurrency };
  const agent = url?.protocol === 'https:' ? new HttpsAgent({ ...agentOpts, ...(opts.caPem ? { ca: opts.caPem } : {}) }) : new HttpAgent(agentOpts);
  const t: Tally = { latencies: [], errors: 0, sent: 0, received: 0, codes: {}, firstError: null };
  let issued = 0;
  const started = performance.now();
  const worker = async () => {
    const conn = target.kind === 'tcp' ? new EchoRoundTrip(target.host, target.port) : undefined;
    try {
      while (issued < requests && performance.now() < deadline) {
        issued++;
        try {
          if (conn) await conn.once(body, timeoutMs, t);
          else await httpOnce(url!, agent, body, timeoutMs, t);
        } catch (err) {
          t.errors++;
          t.firstError ??= (err as Error).message;
        }
      }
    } finally {
      conn?.close();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  const elapsed = (performance.now() - started) / 1000;
  const sorted = t.latencies.sort((a, b) => a - b);
  return {
    target: target.kind === 'tcp' ? `tcp://${target.host}:${target.port}` : target.url,
    requests: issued,
    errors: t.errors,
    durationSec: Math.round(elapsed * 1000) / 1000,
    rps: Math.round((issued - t.errors) / Math.max(elapsed, 1e-6)),
    latencyMs: { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: percentile(sorted, 100) },
    bytesSent: t.sent,
    bytesReceived: t.received,
    statusCodes: t.codes,
    firstError: t.firstError,
  };
}
