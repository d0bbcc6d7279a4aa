// Fixtures for the egress end-to-end tests: the demo's egress world (src/demo/egress-manifests.ts),
// a raw client that runs inside a pod as its unprivileged user, and hand-made bad first bytes.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alpn, hello, serverName, supportedVersions } from '../../unit/egress/hello-builder.js';
import { HOSTS } from '../../../src/demo/egress-manifests.js';

export { HOSTS, egressConfig, icmpProbe, labFile, principal, sleeper } from '../../../src/demo/egress-manifests.js';

/**
 * A raw client the pod's own user runs: resolves the host with the pod's resolver (so through the
 * node proxy's DNS), connects, writes the base64 payload (optionally half-closing), and prints
 * what came back. `udp` sends one datagram instead; `dns` sends a DNS query to a chosen server.
 */
const CLIENT = `
import net from 'node:net';
import dgram from 'node:dgram';
const [mode, host, port, b64 = '', waitMs = '3000'] = process.argv.slice(2);
const payload = Buffer.from(b64, 'base64');
let got = Buffer.alloc(0);
const done = (how) => { console.log(JSON.stringify({ how, bytes: got.length, text: got.subarray(0, 400).toString('latin1'), hex: got.subarray(0, 512).toString('hex') })); process.exit(0); };
setTimeout(() => done('timeout'), Number(waitMs));
if (mode === 'udp' || mode === 'dns') {
  const s = dgram.createSocket('udp4');
  s.on('message', (m) => { got = m; done('reply'); });
  s.on('error', (e) => done('error:' + e.code));
  s.send(payload, Number(port), host);
} else {
  const s = net.connect({ host, port: Number(port), allowHalfOpen: true });
  s.on('connect', () => { s.write(payload); if (mode === 'end') s.end(); });
  s.on('data', (d) => { got = Buffer.concat([got, d]); });
  // The peer's FIN ends it too (allowHalfOpen keeps the socket open otherwise).
  s.on('end', () => done('closed'));
  s.on('close', () => done('closed'));
  s.on('error', (e) => done('error:' + e.code));
}
`;

/** Writes the client where the pod user can read it; returns its path and a cleanup. */
export function writePodClient(): { path: string; write: (name: string, text: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-egress-e2e-'));
  chmodSync(dir, 0o755);
  const write = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text, { mode: 0o644 });
    return p;
  };
  return { path: write('client.mjs', CLIENT), write, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** First bytes a gateway must refuse, each with the refusal code its audit line must carry. */
export function badFirstBytes(): { what: string; port: number; bytes: Buffer; end: boolean; code: RegExp }[] {
  const good = hello([serverName(HOSTS.api.name), alpn('http/1.1'), supportedVersions(0x0304)]);
  return [
    { what: 'a truncated ClientHello', port: 443, bytes: good.subarray(0, Math.floor(good.length / 2)), end: true, code: /^EGRESS_FIRST_BYTES_TRUNCATED$/ },
    { what: 'an oversized ClientHello', port: 443, bytes: hello([serverName(HOSTS.api.name), [0xffa5, Buffer.alloc(20_000, 1)]]), end: false, code: /^TLS_CLIENT_HELLO_TOO_LARGE$/ },
    { what: 'a ClientHello without SNI', port: 443, bytes: hello([alpn('http/1.1')]), end: false, code: /^EGRESS_SNI_MISSING$/ },
    { what: 'an SNI with invalid characters', port: 443, bytes: hello([serverName('api.exa mple.com')]), end: false, code: /^TLS_SNI_INVALID$/ },
    { what: 'HTTP/1.1 without Host', port: 80, bytes: Buffer.from('GET / HTTP/1.1\r\nAccept: */*\r\n\r\n'), end: false, code: /^HTTP_HOST_MISSING$/ },
    { what: 'HTTP/1.0 without Host', port: 80, bytes: Buffer.from('GET / HTTP/1.0\r\n\r\n'), end: false, code: /^EGRESS_HOST_MISSING$/ },
    {
      what: 'pipelined requests to two hosts',
      port: 80,
      bytes: Buffer.from(`GET /one HTTP/1.1\r\nHost: ${HOSTS.api.name}\r\n\r\nGET /two HTTP/1.1\r\nHost: ${HOSTS.other.name}\r\n\r\n`),
      end: false,
      code: /^EGRESS_PIPELINED_HOST$/,
    },
  ];
}
