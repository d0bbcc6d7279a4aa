// `ambit lab ...`: argv -> lab library calls. Every sub-command takes --name (default $AMBIT_LAB
// or "default"); nothing here builds anything itself.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { AmbitError } from '../errors.js';
import { currentLab } from '../paths.js';
import {
  assertLabHost, defaultLabSpec, execInPod, formatLabStatus, killComponent, labDown, labStatus, labUp,
  parseLabFile, pauseConfig, podLogs, restartComponent, runLabAgent, setNetem,
} from '../lab/index.js';

function labName(o: { name?: string }, cmd: Command): string {
  const parentLab = (cmd.parent?.parent?.opts() as { lab?: string } | undefined)?.lab;
  return o.name ?? parentLab ?? currentLab();
}

/** Commander passes (args..., options, command); the command is always last. */
function withName(c: Command): Command {
  return c.option('--name <lab>', 'lab name (default: $AMBIT_LAB or "default")');
}

export function registerLab(program: Command): void {
  const lab = program.command('lab').description('Build and run a multi-node cluster from network namespaces (Linux, root)');
  // Not root or not Linux: exactly one line that says what is needed, before anything is touched.
  lab.hook('preAction', (_lab, action) => {
    if (action.name() === 'status' || action.name() === 'logs') return;
    try {
      assertLabHost();
    } catch (err) {
      process.stderr.write(`${(err as Error).message}\n`);
      process.exit(1);
    }
  });

  withName(lab.command('up'))
    .description('Create the lab: underlay, nodes, control plane, DNS, internet hosts, agent')
    .option('-f, --file <lab.yaml>', 'lab spec (kind: Lab) plus resources to apply')
    .option('--replace', 'tear down a running lab of the same name first')
    .action(async (o: { name?: string; file?: string; replace?: boolean }, cmd: Command) => {
      const file = o.file ? parseLabFile(readFileSync(o.file, 'utf8'), o.file) : undefined;
      const name = o.name ?? file?.name ?? labName({}, cmd);
      const t0 = Date.now();
      await labUp({
        name,
        spec: file?.spec ?? defaultLabSpec(),
        ...(file ? { resourcesText: file.resourcesText, resourcesSource: o.file! } : {}),
        replace: o.replace === true,
        progress: (line) => process.stdout.write(`${line}\n`),
      });
      process.stdout.write(`lab ${name} is up (${Date.now() - t0} ms); try: ambit lab status --name ${name}\n`);
    });

  withName(lab.command('down'))
    .description('Remove everything the lab made (also a crashed lab)')
    .action(async (o: { name?: string }, cmd: Command) => {
      const name = labName(o, cmd);
      const t0 = Date.now();
      const r = await labDown(name);
      process.stdout.write(`lab ${name} is down: removed ${r.namespaces.length} namespaces, ${r.processes} processes (${Date.now() - t0} ms)\n`);
    });

  withName(lab.command('status'))
    .description('Nodes, components, pods, IPs and process states')
    .option('-o, --output <format>', 'table or json', 'table')
    .action((o: { name?: string; output: string }, cmd: Command) => {
      const r = labStatus(labName(o, cmd));
      if (o.output === 'json') process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      else if (o.output === 'table') process.stdout.write(formatLabStatus(r));
      else throw new AmbitError('FLAG_INVALID', `Cannot print status as -o ${JSON.stringify(o.output)}: expected table or json`, { path: '-o', value: o.output });
    });

  withName(lab.command('exec'))
    .description('Run a command inside a pod, as its apps run (nobody, no capabilities)')
    .argument('<pod>')
    .argument('<command...>', 'after --')
    .option('-n, --namespace <ns>', 'pod namespace', 'default')
    .action(async (pod: string, argv: string[], o: { name?: string; namespace: string }, cmd: Command) => {
      const r = await execInPod(labName(o, cmd), o.namespace, pod, argv, { inherit: true });
      process.exitCode = r.code;
    });

  withName(lab.command('logs'))
    .description("Print a pod's container logs")
    .argument('<pod>')
    .option('-n, --namespace <ns>', 'pod namespace', 'default')
    .option('-c, --container <name>', 'one container')
    .action((pod: string, o: { name?: string; namespace: string; container?: string }, cmd: Command) => {
      process.stdout.write(podLogs(labName(o, cmd), o.namespace, pod, o.container));
    });

  for (const [verb, paused] of [['pause-config', true], ['resume-config', false]] as const) {
    withName(lab.command(verb))
      .description(`${paused ? 'Hold' : 'Resume'} configuration delivery to one node's proxy`)
      .argument('<node>')
      .action(async (node: string, o: { name?: string }, cmd: Command) => {
        await pauseConfig(labName(o, cmd), node, paused);
        process.stdout.write(`configuration delivery to ${node}: ${paused ? 'paused' : 'resumed'}\n`);
      });
  }

  withName(lab.command('kill'))
    .description('Kill a lab component (control-plane, agent, cluster-dns, internet-dns, inet-...)')
    .argument('<component>')
    .action(async (c: string, o: { name?: string }, cmd: Command) => {
      await killComponent(labName(o, cmd), c);
      process.stdout.write(`killed ${c}\n`);
    });

  withName(lab.command('restart'))
    .description('Restart a lab component with the same command line')
    .argument('<component>')
    .action(async (c: string, o: { name?: string }, cmd: Command) => {
      const pid = await restartComponent(labName(o, cmd), c);
      process.stdout.write(`restarted ${c} (pid ${pid})\n`);
    });

  withName(lab.command('netem'))
    .description("Add latency or loss to a node's underlay link (both directions), or --clear")
    .argument('<node>')
    .option('--delay <duration>', 'e.g. 50ms')
    .option('--loss <percent>', 'e.g. 1%')
    .option('--clear', 'remove delay and loss')
    .action(async (node: string, o: { name?: string; delay?: string; loss?: string; clear?: boolean }, cmd: Command) => {
      await setNetem(labName(o, cmd), node, o);
      process.stdout.write(o.clear ? `netem cleared on ${node}\n` : `netem on ${node}: ${[o.delay && `delay ${o.delay}`, o.loss && `loss ${o.loss}`].filter(Boolean).join(', ')}\n`);
    });

  withName(lab.command('agent', { hidden: true }))
    .description('Run the lab agent (started by `lab up`)')
    .action(async (o: { name?: string }, cmd: Command) => {
      await runLabAgent(labName(o, cmd));
    });
}
