// `ambit app NAME ...`: the built-in programs that lab pods and internet hosts run (echo,
// https-server) and the load client. argv -> validated options -> start; nothing else.
import { readFile } from 'node:fs/promises';
import { type Command, Option } from 'commander';
import { exitOnSignal, listenAddress, parsePort, runLoad, startEchoServer, startHttpsServer, type LoadMode, type LoadTarget } from '../apps/index.js';
import { AmbitError, showValue } from '../errors.js';
import { createLogger } from '../log.js';

async function readTls(cert: string, key: string): Promise<{ cert: Buffer; key: Buffer }> {
  try {
    return { cert: await readFile(cert), key: await readFile(key) };
  } catch (err) {
    throw new AmbitError('APP_INVALID_ARGUMENT', `Cannot read TLS files --cert ${showValue(cert)} / --key ${showValue(key)}: ${(err as Error).message}`, { cause: err });
  }
}

function positive(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+(\.\d+)?$/.test(v) || n <= 0) throw new AmbitError('APP_INVALID_ARGUMENT', `Cannot parse ${flag}: ${showValue(v)} is not a positive number`, { path: flag, value: v });
    return n;
  };
}

interface EchoFlags { port?: string; listen?: string; tcp?: boolean; mode?: 'http' | 'tcp'; tcpPort?: string; tls?: boolean; cert?: string; key?: string; name?: string }
interface HttpsFlags { port?: string; listen?: string; cert: string; key: string; name?: string; httpPort?: string }
interface LoadFlags { url?: string; tcp?: string; mode?: LoadMode; rate?: number; requests?: number; duration?: number; concurrency: number; size?: number; timeout: number; cacert?: string }

export function registerApp(program: Command): void {
  const app = program.command('app').description('built-in programs for lab pods and internet hosts');

  app.command('echo')
    .description('HTTP/1.1 echo (JSON report of what the server saw) and raw TCP echo')
    .option('--port <n>', 'port on all addresses')
    .option('--listen <ip:port>', 'address to listen on (instead of --port)')
    .option('--tcp', 'serve a raw TCP echo instead of HTTP on the main port')
    .addOption(new Option('--mode <mode>', 'http or tcp (same as --tcp)').choices(['http', 'tcp']))
    .option('--tcp-port <n>', 'also serve a raw TCP echo on this port')
    .option('--tls', 'terminate TLS on the main port (needs --cert and --key)')
    .option('--cert <file>', 'PEM certificate for --tls')
    .option('--key <file>', 'PEM private key for --tls')
    .option('--name <name>', 'name to report (default $POD_NAME, $HOSTNAME)')
    .action(async (f: EchoFlags) => {
      const log = createLogger('app-echo');
      if (f.tls && (!f.cert || !f.key)) throw new AmbitError('APP_INVALID_ARGUMENT', 'Cannot start echo: --tls needs --cert and --key', { path: '--tls' });
      if (!f.tls && (f.cert || f.key)) throw new AmbitError('APP_INVALID_ARGUMENT', 'Cannot start echo: --cert/--key given without --tls', { path: '--cert' });
      const running = await startEchoServer({
        listen: listenAddress(f),
        mode: f.tcp ? 'tcp' : f.mode ?? 'http',
        tcpPort: f.tcpPort === undefined ? undefined : parsePort(f.tcpPort, '--tcp-port'),
        tls: f.tls ? await readTls(f.cert!, f.key!) : undefined,
        name: f.name,
        logger: log,
      });
      exitOnSignal(() => running.close(), log);
    });

  app.command('https-server')
    .description('a public HTTPS site stand-in that reports SNI, Host, path and peer')
    .option('--port <n>', 'port on all addresses (e.g. 443)')
    .option('--listen <ip:port>', 'address to listen on (instead of --port)')
    .requiredOption('--cert <file>', 'PEM certificate')
    .requiredOption('--key <file>', 'PEM private key')
    .option('--name <name>', 'server name to report')
    .option('--http-port <n>', 'also serve plain HTTP on this port')
    .action(async (f: HttpsFlags) => {
      const log = createLogger('app-https-server');
      const running = await startHttpsServer({
        listen: listenAddress(f),
        tls: await readTls(f.cert, f.key),
        name: f.name,
        httpPort: f.httpPort === undefined ? undefined : parsePort(f.httpPort, '--http-port'),
        logger: log,
      });
      exitOnSignal(() => running.close(), log);
    });

  app.command('load')
    .description('bounded load client; prints JSON stats on stdout')
    .option('--url <url>', 'http:// or https:// target')
    .option('--tcp <host:port>', 'raw TCP echo target')
    .addOption(new Option('--mode <mode>', 'TCP: echo (kept connections), connect (a new connection per round trip; also for --url), stream (one-way bulk, then half-close)').choices(['echo', 'connect', 'stream']))
    .option('--rate <n>', 'start at most N requests per second (across all connections)', positive('--rate'))
    .option('--requests <n>', 'stop after N requests', positive('--requests'))
    .option('--duration <s>', 'stop after S seconds', positive('--duration'))
    .option('--concurrency <c>', 'concurrent connections', positive('--concurrency'), 1)
    .option('--size <bytes>', 'request body (HTTP POST) or round-trip size (TCP)', (v) => (v === '0' ? 0 : positive('--size')(v)))
    .option('--timeout <ms>', 'per-request timeout', positive('--timeout'), 5000)
    .option('--cacert <file>', 'trusted root PEM for https:// targets')
    .action(async (f: LoadFlags) => {
      if ((f.url === undefined) === (f.tcp === undefined)) throw new AmbitError('APP_INVALID_ARGUMENT', 'Cannot run load: give exactly one of --url or --tcp', { path: '--url' });
      let target: LoadTarget;
      if (f.tcp !== undefined) {
        const m = /^(.+):(\d{1,5})$/.exec(f.tcp);
        if (!m) throw new AmbitError('APP_INVALID_ARGUMENT', `Cannot parse --tcp: ${showValue(f.tcp)} is not HOST:PORT`, { path: '--tcp', value: f.tcp });
        target = { kind: 'tcp', host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port: parsePort(m[2]!, '--tcp') };
      } else {
        target = { kind: 'http', url: f.url! };
      }
      const stats = await runLoad({
        target,
        mode: f.mode,
        rate: f.rate,
        requests: f.requests,
        durationSec: f.duration,
        concurrency: f.concurrency,
        size: f.size,
        timeoutMs: f.timeout,
        caPem: f.cacert ? await readFile(f.cacert, 'utf8') : undefined,
      });
      process.stdout.write(`${JSON.stringify(stats)}\n`);
    });
}
