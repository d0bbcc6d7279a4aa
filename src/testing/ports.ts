// Free TCP ports on loopback, for tests that must know a port before they listen on it.
import net from 'node:net';

function listenAnyPort(): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}

const closeServer = (s: net.Server) => new Promise<void>((r) => s.close(() => r()));

export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}

/**
 * `n` distinct free ports. Each is held open until all are chosen: ports taken one at a time
 * can come back twice (the kernel may hand out a just-closed port again), and two listeners
 * that share a port with SO_REUSEPORT (HAProxy's default) split its connections silently.
 */
export async function freePorts(n: number): Promise<number[]> {
  const held: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) held.push(await listenAnyPort());
    return held.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(held.map(closeServer));
  }
}
