// Every HBONE tunable with its default, in one place (docs/hbone.md has the table).

export interface HboneServerLimits {
  /** A TLS handshake not finished this long after the TCP accept is dropped (slow-loris). */
  handshakeTimeoutMs: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS: tunnels per connection. */
  maxConcurrentStreams: number;
  /** Request header bytes (RFC 9113 size: name + value + 32 per field) above this get 431. */
  maxHeaderListSize: number;
  /** A connection with no open tunnel for this long is closed with GOAWAY. */
  idleTimeoutMs: number;
  /**
   * A stream the HTTP/2 layer began but never handed over (its header block refused by nghttp2, or
   * not finished) for this long closes its connection, logged (BAD_REQUEST). Checked every half.
   */
  headerBlockTimeoutMs: number;
  /** HTTP/2 stream and connection receive window (FIELD-NOTES: 64 KB costs a third of throughput). */
  initialWindowSize: number;
  /** nghttp2 memory cap per session, in MB. */
  maxSessionMemoryMb: number;
  /** A PING this long after the last one was answered (keepalive.ts). */
  keepaliveIntervalMs: number;
  /** A PING unanswered this long closes the connection, logged (UNRESPONSIVE). */
  keepaliveTimeoutMs: number;
}

export const DEFAULT_SERVER_LIMITS: Readonly<HboneServerLimits> = Object.freeze({
  handshakeTimeoutMs: 10_000,
  maxConcurrentStreams: 1000,
  maxHeaderListSize: 16 * 1024,
  idleTimeoutMs: 5 * 60_000,
  headerBlockTimeoutMs: 2_000,
  initialWindowSize: 8 * 1024 * 1024,
  maxSessionMemoryMb: 64,
  keepaliveIntervalMs: 30_000,
  keepaliveTimeoutMs: 10_000,
});

export interface HbonePoolLimits {
  /** Tunnels per pooled connection before the pool opens another connection. */
  maxStreamsPerSession: number;
  /** A pooled connection with no tunnel for this long is closed. */
  idleTimeoutMs: number;
  /** TCP + TLS + SETTINGS must complete within this. */
  connectTimeoutMs: number;
  /** The CONNECT response must arrive within this. */
  responseTimeoutMs: number;
  initialWindowSize: number;
  maxSessionMemoryMb: number;
  /** A PING this long after the last one was answered (keepalive.ts). */
  keepaliveIntervalMs: number;
  /** A PING unanswered this long takes the connection out of the pool and closes it. */
  keepaliveTimeoutMs: number;
}

export const DEFAULT_POOL_LIMITS: Readonly<HbonePoolLimits> = Object.freeze({
  maxStreamsPerSession: 100,
  idleTimeoutMs: 60_000,
  connectTimeoutMs: 10_000,
  responseTimeoutMs: 10_000,
  initialWindowSize: 8 * 1024 * 1024,
  maxSessionMemoryMb: 64,
  keepaliveIntervalMs: 30_000,
  keepaliveTimeoutMs: 10_000,
});

/** Header bytes as RFC 9113 section 6.5.2 counts them, from a flat [name, value, ...] list. */
export function headerListSize(rawHeaders: readonly string[]): number {
  let size = 0;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    size += Buffer.byteLength(rawHeaders[i]!) + Buffer.byteLength(rawHeaders[i + 1]!) + 32;
  }
  return size;
}
