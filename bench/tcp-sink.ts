// A TCP sink for the throughput benchmark: swallows every byte and closes only after the
// client's half-close, so the client's stream mode measures bytes that truly arrived.
// Run in a pod: node dist/bench/tcp-sink.js PORT
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export function startTcpSink(port: number, host = '0.0.0.0'): Promise<{ port: number; close(): void }> {
  const server = createServer((sock) => {
    sock.on('error', () => sock.destroy());
    sock.on('end', () => sock.end());
    sock.resume();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve({ port: (server.address() as { port: number }).port, close: () => server.close() }));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    process.stderr.write(`Cannot start the sink: port ${JSON.stringify(process.argv[2])} is not 1..65535\n`);
    process.exit(2);
  }
  await startTcpSink(port);
  process.on('SIGTERM', () => process.exit(0));
}
