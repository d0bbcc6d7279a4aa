// Proves SVIDs work for what they are for: a TLS 1.3 mutual handshake over loopback where each
// side checks the other's SPIFFE ID from the URI SAN.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type PeerCertificate, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { CertificateAuthority, type IssuedSvid } from '../../../src/ca/index.js';
import { createCsr, workloadId, type SpiffeId } from '../../../src/identity/index.js';
import { OpensslDir } from '../identity/openssl.js';

const ossl = new OpensslDir('mtls');
after(() => ossl.remove());

function svidFor(ca: CertificateAuthority, id: SpiffeId): { svid: IssuedSvid; keyPem: string } {
  const made = createCsr(id);
  return { svid: ca.signCsr(made.csrDer, { spiffeId: id, ttlSeconds: 3600, issuedTo: null }), keyPem: made.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

const uriOf = (c: PeerCertificate): string | undefined => /^URI:(\S+)$/.exec(c.subjectaltname ?? '')?.[1];

/** Server with `server` SVID; client with `client` SVID expecting `expectServer`. Resolves to what each side saw. */
async function handshake(opts: {
  server: ReturnType<typeof svidFor>; client: ReturnType<typeof svidFor>; serverBundle: string; clientBundle: string; expectServer: string;
}): Promise<{ serverSaw: string | undefined; protocol: string | null }> {
  const server = createServer({
    cert: opts.server.svid.chainPem.join(''), key: opts.server.keyPem, ca: opts.serverBundle,
    requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3',
  });
  const seen = new Promise<string | undefined>((resolve) => {
    server.on('secureConnection', (s: TLSSocket) => {
      resolve(uriOf(s.getPeerCertificate()));
      s.end('ok');
    });
  });
  const serverError = new Promise<NodeJS.ErrnoException>((resolve) => server.on('tlsClientError', resolve));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const port = (server.address() as AddressInfo).port;
    const sock = connect({
      host: '127.0.0.1', port, cert: opts.client.svid.chainPem.join(''), key: opts.client.keyPem, ca: opts.clientBundle,
      minVersion: 'TLSv1.3',
      checkServerIdentity: (_host, cert) => {
        const uri = uriOf(cert);
        return uri === opts.expectServer ? undefined : new Error(`server identity ${uri} is not ${opts.expectServer}`);
      },
    });
    const data = await new Promise<string>((resolve, reject) => {
      sock.once('data', (d) => resolve(String(d)));
      sock.once('error', reject);
      sock.once('close', () => reject(new Error('connection closed before any data')));
    }).catch(async (err: Error) => {
      // Report what the server said too: with TLS 1.3 the client may only see the close.
      const timeout = new Promise<undefined>((r) => setTimeout(r, 500));
      const onServer = await Promise.race([serverError, timeout]);
      throw new Error(`client: ${err.message}; server: ${onServer?.code ?? 'no error'}`);
    });
    const protocol = sock.getProtocol();
    sock.destroy();
    assert.equal(data, 'ok');
    return { serverSaw: await seen, protocol };
  } finally {
    server.close();
  }
}

describe('mutual TLS between two SVIDs', () => {
  const ca = CertificateAuthority.generate({ trustDomain: 'cluster.local' });
  const web = workloadId('cluster.local', 'shop', 'web');
  const db = workloadId('cluster.local', 'shop', 'db');
  const client = svidFor(ca, web);
  const server = svidFor(ca, db);
  const bundle = ca.bundle.pem();

  test('succeeds with TLS 1.3 and each side sees the other identity', async () => {
    const r = await handshake({ server, client, serverBundle: bundle, clientBundle: bundle, expectServer: db.uri });
    assert.deepEqual(r, { serverSaw: web.uri, protocol: 'TLSv1.3' });
  });

  test('the client refuses a server presenting another identity', async () => {
    await assert.rejects(handshake({ server, client, serverBundle: bundle, clientBundle: bundle, expectServer: workloadId('cluster.local', 'shop', 'cache').uri }),
      { message: new RegExp(`^client: server identity ${db.uri} is not spiffe://cluster.local/ns/shop/sa/cache; server: `) });
  });

  test('a client SVID from another CA is refused', async () => {
    const rogue = CertificateAuthority.generate({ trustDomain: 'cluster.local' });
    const rogueClient = svidFor(rogue, web);
    await assert.rejects(handshake({ server, client: rogueClient, serverBundle: bundle, clientBundle: bundle, expectServer: db.uri }),
      // Node's server drops an unauthorized TLS 1.3 client without an alert the client reports.
      { message: /^client: (connection closed before any data|.*ALERT)/ });
  });

  test('works through an operator intermediate (chain sent by each peer)', async () => {
    const op = ossl.operatorCa('example.org');
    const inter = CertificateAuthority.fromFiles({ certChainPem: op.intermediatePem, keyPem: op.intermediateKeyPem, rootsPem: op.rootPem });
    const a = workloadId('example.org', 'x', 'a');
    const b = workloadId('example.org', 'y', 'b');
    const r = await handshake({ server: svidFor(inter, b), client: svidFor(inter, a), serverBundle: op.rootPem, clientBundle: op.rootPem, expectServer: b.uri });
    assert.deepEqual(r, { serverSaw: a.uri, protocol: 'TLSv1.3' });
  });
});
