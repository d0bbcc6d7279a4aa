#!/usr/bin/env node
// The one `ambit` binary: every component and every operator command is a sub-command here.
// This file only assembles them; each lives in its own module.
import './early-tuning.js';
import { Command, CommanderError } from 'commander';
import { AmbitError } from '../errors.js';
import { VERSION } from '../version.js';
import { registerResourceCommands } from './resources.js';
import { registerStatus } from './status.js';
import { registerNode } from './node.js';
import { registerControlPlane } from './control-plane.js';
import { registerLab } from './lab.js';
import { registerApp } from './app.js';
import { registerDnsServer } from './dns-server.js';
import { registerDemo } from './demo.js';
import { registerNodeProxy } from './node-proxy.js';
import { registerEgressGateway } from './egress-gateway.js';
import { registerProxyConfig } from './proxy-config.js';

const program = new Command();
program
  .name('ambit')
  .description('ambit: a sidecarless, zero-trust service mesh')
  .version(VERSION)
  .option('--admin-socket <path>', 'control plane admin socket (default: $AMBIT_ADMIN_SOCKET, else the lab\'s)')
  .option('--lab <name>', 'talk to this lab\'s control plane (default: $AMBIT_LAB or "default")')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

registerResourceCommands(program);
registerStatus(program);
registerNode(program);
registerControlPlane(program);
registerNodeProxy(program);
registerEgressGateway(program);
registerProxyConfig(program);
registerDemo(program);
registerLab(program);
registerApp(program);
registerDnsServer(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  const e = err as Error;
  process.stderr.write(`ambit: ${e.message}\n`);
  if (err instanceof AmbitError && process.env.AMBIT_DEBUG) process.stderr.write(`${e.stack}\n`);
  process.exit(1);
}
