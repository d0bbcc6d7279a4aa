// The CLI's and the lab's handle on a control plane: AdminApi over HTTP on the admin Unix socket.
import http from 'node:http';
import { AmbitError } from '../errors.js';
import type { AdminApi, ApplyResult, ControlPlaneStatus, CredentialList, DeleteResult, NodeRevocationResult, CredentialRevocationResult, StoreEvent } from './admin-api.js';
import type { Kind, PodStatus, Resource } from '../config/types.js';

export class AdminHttpClient implements AdminApi {
  constructor(readonly socketPath: string) {}

  apply(resources: Resource[]): Promise<ApplyResult[]> {
    return this.call('POST', '/v1/apply', { resources });
  }
  delete(refs: { kind: Kind; namespace?: string; name: string }[]): Promise<DeleteResult[]> {
    return this.call('POST', '/v1/delete', { refs });
  }
  get(kind: Kind, opts: { namespace?: string; name?: string } = {}): Promise<Resource[]> {
    const q = new URLSearchParams({ kind, ...opts });
    return this.call('GET', `/v1/resources?${q}`);
  }
  async setPodStatus(namespace: string, name: string, status: PodStatus): Promise<void> {
    await this.call('POST', '/v1/pod-status', { namespace, name, status });
  }
  async issueNodeToken(node: string, ttlSeconds: number): Promise<string> {
    return (await this.call<{ token: string }>('POST', '/v1/node-tokens', { node, ttlSeconds })).token;
  }
  async issueWorkloadToken(node: string, identity: string, ttlSeconds: number): Promise<string> {
    return (await this.call<{ token: string }>('POST', '/v1/workload-tokens', { node, identity, ttlSeconds })).token;
  }
  async trustBundle(): Promise<string> {
    return (await this.call<{ pem: string }>('GET', '/v1/trust-bundle')).pem;
  }
  status(): Promise<ControlPlaneStatus> {
    return this.call('GET', '/v1/status');
  }
  revokeNode(node: string): Promise<NodeRevocationResult> {
    return this.call('POST', '/v1/node-revocations', { node });
  }

  revokeCredential(node: string, credential: string): Promise<CredentialRevocationResult> {
    return this.call('POST', '/v1/node-revocations', { node, credential });
  }

  listCredentials(node?: string): Promise<CredentialList> {
    return this.call('GET', node === undefined ? '/v1/credentials' : `/v1/credentials?node=${encodeURIComponent(node)}`);
  }
  async pauseDelivery(node: string, paused: boolean): Promise<void> {
    await this.call('POST', '/v1/faults/pause-delivery', { node, paused });
  }

  watch(fromRevision: number, onEvent: (e: StoreEvent) => void, onError?: (err: Error) => void): { close(): void } {
    let closed = false;
    const req = http.request({ socketPath: this.socketPath, path: `/v1/watch?from=${fromRevision}`, method: 'GET' }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (line.trim()) onEvent(JSON.parse(line) as StoreEvent);
        }
      });
      // However the watch ends (cleanly, or cut because the control plane died), say so exactly once.
      let reported = false;
      const ended = (why: string): void => {
        if (closed || reported) return;
        reported = true;
        onError?.(new AmbitError('WATCH_ENDED', `Cannot keep watching: ${why}`));
      };
      res.on('end', () => ended('the control plane closed the watch'));
      res.on('error', (err) => ended(`the watch broke (${err.message})`));
      res.on('close', () => ended('the connection to the control plane closed'));
    });
    req.on('error', (err) => {
      if (!closed) onError?.(this.unreachable(err));
    });
    req.end();
    return {
      close: () => {
        closed = true;
        req.destroy();
      },
    };
  }

  private call<T>(method: string, path: string, payload?: unknown): Promise<T> {
    return new Promise((resolve, reject) => {
      const data = payload === undefined ? undefined : Buffer.from(JSON.stringify(payload));
      const req = http.request(
        { socketPath: this.socketPath, path, method, headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {} },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            let parsed: unknown;
            try {
              parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              return reject(new AmbitError('ADMIN_PROTOCOL', `Cannot read the control plane's answer to ${method} ${path}: not JSON`));
            }
            const err = (parsed as { error?: { code: string; message: string; path?: string; value?: unknown } }).error;
            if (res.statusCode !== 200 && err) return reject(new AmbitError(err.code, err.message, { ...(err.path ? { path: err.path } : {}), value: err.value }));
            resolve(parsed as T);
          });
        },
      );
      req.on('error', (err) => reject(this.unreachable(err)));
      if (data) req.write(data);
      req.end();
    });
  }

  private unreachable(err: Error): AmbitError {
    return new AmbitError(
      'CONTROL_PLANE_UNREACHABLE',
      `Cannot reach the control plane at ${this.socketPath}: ${(err as NodeJS.ErrnoException).code ?? err.message} (is the lab up? try \`ambit lab up\`, or set --admin-socket / AMBIT_ADMIN_SOCKET)`,
      { cause: err },
    );
  }
}
