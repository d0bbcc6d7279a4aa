// Test helpers that drive the openssl CLI: an independent implementation that makes keys, CSRs
// and operator CAs for the tests, and checks what ambit emits. Temp dirs are removed by `after`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class OpensslDir {
  readonly dir: string;
  constructor(tag: string) {
    this.dir = mkdtempSync(join(tmpdir(), `ambit-${tag}-${process.pid}-`));
  }
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
  path(name: string): string {
    return join(this.dir, name);
  }
  write(name: string, text: string | Buffer): string {
    writeFileSync(this.path(name), text);
    return this.path(name);
  }
  read(name: string): string {
    return readFileSync(this.path(name), 'utf8');
  }
  /** Runs openssl in the dir; returns stdout. Throws with stderr on failure. */
  run(args: string[]): string {
    return execFileSync('openssl', args, { cwd: this.dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }
  /** A new private key file; kind "p256" | "p384" | "rsa". */
  key(name: string, kind: 'p256' | 'p384' | 'rsa' = 'p256'): string {
    const args = kind === 'rsa'
      ? ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', name]
      : ['genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${kind === 'p256' ? 'P-256' : 'P-384'}`, '-out', name];
    this.run(args);
    return this.read(name);
  }
  /** A CSR PEM made by openssl with the given subject ("/" = empty) and SAN list ("URI:...,DNS:..."). */
  csr(opts: { key: string; subject?: string; san?: string; digest?: string }): string {
    const out = `csr-${Math.random().toString(36).slice(2)}.pem`;
    const args = ['req', '-new', '-key', opts.key, '-subj', opts.subject ?? '/', `-${opts.digest ?? 'sha256'}`, '-out', out];
    if (opts.san) args.push('-addext', `subjectAltName=${opts.san}`);
    this.run(args);
    return this.read(out);
  }
  /** An operator root and an intermediate CA for `trustDomain`, made by openssl. */
  operatorCa(trustDomain: string): { rootPem: string; intermediatePem: string; intermediateKeyPem: string } {
    this.key('op-root.key');
    this.run(['req', '-x509', '-new', '-key', 'op-root.key', '-subj', '/O=Operator/CN=Operator Root', '-days', '30',
      '-addext', 'basicConstraints=critical,CA:true', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', 'op-root.pem']);
    const intermediateKeyPem = this.key('op-int.key');
    this.run(['req', '-new', '-key', 'op-int.key', '-subj', '/O=Operator/CN=Mesh Intermediate', '-out', 'op-int.csr']);
    this.write('op-int.ext', [
      '[v3]', 'basicConstraints=critical,CA:true,pathlen:0', 'keyUsage=critical,keyCertSign,cRLSign',
      'subjectKeyIdentifier=hash', 'authorityKeyIdentifier=keyid', `subjectAltName=URI:spiffe://${trustDomain}`, '',
    ].join('\n'));
    this.run(['x509', '-req', '-in', 'op-int.csr', '-CA', 'op-root.pem', '-CAkey', 'op-root.key', '-CAcreateserial',
      '-days', '20', '-extfile', 'op-int.ext', '-extensions', 'v3', '-out', 'op-int.pem']);
    return { rootPem: this.read('op-root.pem'), intermediatePem: this.read('op-int.pem'), intermediateKeyPem };
  }
}
