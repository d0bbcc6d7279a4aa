// A bounded load client for benchmarks and lab checks: N requests or S seconds (whichever the
// caller sets, always under a hard time ceiling) at C concurrent connections, over HTTP(S) or a
// raw TCP echo, summarised as JSON (rps, latency percentiles, bytes, errors). TCP targets also
// have a connection-per-request mode and a one-way bulk stream mode; any mode can be rate-limited.
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { AmbitError, showValue } from '../errors.js';
import { EchoRoundTrip, type Tally, connectRoundTrip, streamOneWay } from './load-tcp.js';

export type LoadTarget = { kind: 'http'; url: string } | { kind: 'tcp'; host: string; port: number };

/** `echo` round trips on kept connections and `stream` one-way bulk per connection (TCP only); `connect` a new connection per round trip (TCP or HTTP). */
export type LoadMode = 'echo' | 'connect' | 'stream';

export interface LoadOptions {
  target: LoadTarget;
  /** TCP modes (default echo). In stream mode a request is one `size`-byte write (default 64 KiB). */
  mode?: LoadMode;
  /** Start at most this many requests per second, evenly spaced, across all connections. */
  rate?: number;
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
  mode: 'http' | LoadMode;
  requests: number;
  errors: number;
  durationSec: number;
  rps: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  bytesSent: number;
  bytesReceived: number;
  /** bytesSent over the run, in Gbit/s (the stream mode's result). */
  sendGbps: number;
  statusCodes: Record<string, number>;
  firstError: string | null;
}

const LIMITS = { requests: 10_000_000, durationSec: 3600, concurrency: 1000, size: 64 * 1024 * 1024, rate: 1_000_000 };
const MODES: readonly LoadMode[] = ['echo', 'connect', 'stream'];
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

function checkMode(opts: LoadOptions): LoadMode | undefined {
  const mode = opts.mode;
  if (mode === undefined) return opts.target.kind === 'tcp' ? 'echo' : undefined;
  if (!MODES.includes(mode)) {
    throw new AmbitError('APP_INVALID_ARGUMENT', `Cannot run load: mode ${showValue(mode)} is not one of ${MODES.join(', ')}`, { path: 'mode', value: mode });
  }
  if (opts.target.kind !== 'tcp' && mode !== 'connect') throw new AmbitError('APP_INVALID_ARGUMENT', `Cannot run load: mode ${showValue(mode)} needs a TCP target`, { path: 'mode', value: mode });
  if (mode === 'stream' && opts.rate !== undefined) {
    throw new AmbitError('APP_INVALID_ARGUMENT', `Cannot run load: rate ${showValue(opts.rate)} does not apply to mode "stream"`, { path: 'rate', value: opts.rate });
  }
  return mode;
}

const sleepUntil = (at: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, at - performance.now())));

export async function runLoad(opts: LoadOptions): Promise<LoadStats> {
  checkLimit('requests', opts.requests, 1);
  checkLimit('durationSec', opts.durationSec, 0.01);
  checkLimit('concurrency', opts.concurrency, 1);
  checkLimit('size', opts.size, 0);
  checkLimit('rate', opts.rate, 0.01);
  const mode = checkMode(opts);
  const target = opts.target;
  const requests = opts.requests ?? (opts.durationSec === undefined ? 100 : Infinity);
  const deadline = performance.now() + 1000 * (opts.durationSec ?? DEFAULT_CEILING_SEC);
  const concurrency = Math.min(opts.concurrency ?? 1, requests);
  const timeoutMs = opts.timeoutMs ?? 5000;
  const body = Buffer.alloc(opts.size ?? (target.kind === 'tcp' ? (mode === 'stream' ? 65536 : 64) : 0), 0x61);
  if (target.kind === 'tcp' && body.length === 0) throw new AmbitError('APP_INVALID_ARGUMENT', 'Cannot run load: size 0 is not a TCP round trip (give --size >= 1)', { path: 'size', value: 0 });
  let url: URL | undefined;
  if (target.kind === 'http') {
    try { url = new URL(target.url); } catch { url = undefined; }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw new AmbitError('APP_INVALID_ARGUMENT', `Cannot run load: url ${showValue(target.url)} is not an http:// or https:// URL`, { path: 'url', value: target.url });
    }
  }
  // HTTP in connect mode: a new connection (and, for https, a full TLS handshake) per request.
  const agentOpts = { keepAlive: mode !== 'connect', maxSockets: concurrency };
  const agent = url?.protocol === 'https:' ? new HttpsAgent({ ...agentOpts, ...(opts.caPem ? { ca: opts.caPem } : {}) }) : new HttpAgent(agentOpts);
  const t: Tally = { latencies: [], errors: 0, sent: 0, received: 0, codes: {}, firstError: null };
  const failed = (err: unknown) => { t.errors++; t.firstError ??= (err as Error).message; };
  let issued = 0;
  const started = performance.now();
  const spacingMs = opts.rate === undefined ? 0 : 1000 / opts.rate;
  /** Claims the next request, waiting for its slot when rate-limited; false once a bound is reached. */
  const claim = async (): Promise<boolean> => {
    if (issued >= requests || performance.now() >= deadline) return false;
    const slot = started + issued * spacingMs;
    issued++;
    if (spacingMs > 0 && slot > performance.now()) {
      if (slot >= deadline) { issued--; return false; }
      await sleepUntil(slot);
    }
    return true;
  };
  const worker = async () => {
    if (target.kind === 'tcp' && mode === 'stream') {
      const more = () => issued < requests && performance.now() < deadline && ++issued > 0;
      await streamOneWay(target.host, target.port, body, more, timeoutMs, t).catch(failed);
      return;
    }
    const conn = target.kind === 'tcp' && mode === 'echo' ? new EchoRoundTrip(target.host, target.port) : undefined;
    try {
      while (await claim()) {
        try {
          if (conn) await conn.once(body, timeoutMs, t);
          else if (target.kind === 'tcp') await connectRoundTrip(target.host, target.port, body, timeoutMs, t);
          else await httpOnce(url!, agent, body, timeoutMs, t);
        } catch (err) {
          failed(err);
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
    mode: mode ?? 'http',
    requests: issued,
    errors: t.errors,
    durationSec: Math.round(elapsed * 1000) / 1000,
    rps: Math.round((issued - t.errors) / Math.max(elapsed, 1e-6)),
    latencyMs: { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: percentile(sorted, 100) },
    bytesSent: t.sent,
    bytesReceived: t.received,
    sendGbps: Math.round((t.sent * 8) / Math.max(elapsed, 1e-6) / 1e6) / 1000,
    statusCodes: t.codes,
    firstError: t.firstError,
  };
}
