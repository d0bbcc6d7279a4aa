// `ambit control-plane`: runs the control plane until SIGTERM/SIGINT.
import type { Command } from 'commander';
import { createLogger } from '../log.js';
import { AmbitError } from '../errors.js';
import { controlPlaneDataDir, currentLab } from '../paths.js';
import { stopOnSignals } from './shutdown.js';

export function parseHostPort(text: string, flag: string): { host: string; port: number } {
  const i = text.lastIndexOf(':');
  const host = i > 0 ? text.slice(0, i).replace(/^\[|\]$/g, '') : '';
  const port = Number(text.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new AmbitError('FLAG_INVALID', `Cannot use ${flag} ${JSON.stringify(text)}: expected HOST:PORT with a port from 0 to 65535`, { value: text });
  }
  return { host, port };
}

export function registerControlPlane(program: Command): void {
  program
    .command('control-plane')
    .description('Run the control plane: registry, mesh CA, config stream (15012), metrics (15014), admin API')
    .option('--data-dir <dir>', 'durable state: store, CA, node-credential key (default: the lab\'s, from --lab or $AMBIT_LAB)')
    .option('--stream-listen <host:port>', 'config stream and certificate signing (TLS)', '0.0.0.0:15012')
    .option('--metrics-listen <host:port>', 'Prometheus metrics', '0.0.0.0:15014')
    .option('--admin-socket <path>', 'admin API Unix socket (default: <data-dir>/admin.sock)')
    .option('--trust-domain <td>', 'trust domain of a newly generated root CA (default: MeshConfig, else cluster.local)')
    .option('--ca-cert-chain <file>', 'operator-supplied intermediate CA: its certificate chain (PEM)')
    .option('--ca-key <file>', 'operator-supplied intermediate CA: its private key (PEM)')
    .option('--ca-roots <file>', 'operator-supplied intermediate CA: the trust bundle roots (PEM)')
    .action(async (flags: { dataDir?: string; streamListen: string; metricsListen: string; adminSocket?: string; trustDomain?: string; caCertChain?: string; caKey?: string; caRoots?: string }, cmd: Command) => {
      // --admin-socket and --lab are also the program's own options, and commander hands an option
      // both know to the program even when it follows the sub-command: read them with the globals.
      const globals = cmd.optsWithGlobals<{ adminSocket?: string; lab?: string }>();
      const o = { ...flags, dataDir: flags.dataDir ?? controlPlaneDataDir(globals.lab ?? currentLab()), adminSocket: flags.adminSocket ?? globals.adminSocket };
      const { ControlPlane } = await import('../controlplane/control-plane.js');
      const log = createLogger('control-plane');
      const caFlags = [o.caCertChain, o.caKey, o.caRoots].filter((x) => x !== undefined).length;
      if (caFlags !== 0 && caFlags !== 3) throw new AmbitError('FLAG_INVALID', 'Cannot use an operator-supplied CA: give all of --ca-cert-chain, --ca-key and --ca-roots');
      const cp = await ControlPlane.start({
        dataDir: o.dataDir,
        stream: parseHostPort(o.streamListen, '--stream-listen'),
        metrics: parseHostPort(o.metricsListen, '--metrics-listen'),
        ...(o.adminSocket ? { adminSocket: o.adminSocket } : {}),
        ...(o.trustDomain ? { trustDomain: o.trustDomain } : {}),
        ...(caFlags === 3 ? { caFiles: { certChain: o.caCertChain!, key: o.caKey!, roots: o.caRoots! } } : {}),
        log,
      });
      stopOnSignals(log, 'control plane', () => cp.stop());
    });
}
