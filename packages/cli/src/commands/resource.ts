import type * as AgentRunnerLib from '@remora/agent-runner';
import type { Command } from 'commander';
import type { ClusterConnection, ClusterOptions } from '../cluster';
import { clusterOptions, connectCluster, waitForCluster } from '../cluster';
import { CliError } from '../errors';
import { ExitCode } from '../exit-codes';
import { durationOption } from '../options';
import { parseOutputFormat, printJson } from '../output';
import type { OutputFormat } from '../output';

interface ResourceOptions extends ClusterOptions {
  readonly resource?: string;
  readonly node?: string;
  readonly move?: boolean;
  readonly ban?: boolean;
  readonly clear?: boolean;
  readonly cleanup?: boolean;
  readonly restart?: boolean;
  readonly listAgents?: string;
  readonly listStandards?: boolean;
  readonly listOcfProviders?: boolean;
  readonly showMetadata?: string;
  readonly lifetime?: string;
  readonly promoted?: boolean;
  readonly wait?: boolean;
  readonly timeout: string;
  readonly quiet?: boolean;
  readonly outputAs: string;
}

const COMMANDS = [
  'move',
  'ban',
  'clear',
  'cleanup',
  'restart',
  'listAgents',
  'listStandards',
  'listOcfProviders',
  'showMetadata',
] as const;
type ResourceCommand = (typeof COMMANDS)[number];

function commandOf(options: ResourceOptions): ResourceCommand {
  const given = COMMANDS.filter((c) => options[c] !== undefined && options[c] !== false);
  if (given.length === 0)
    throw new CliError(
      'no command given: use one of --move, --ban, --clear, --cleanup, --restart, --list-agents, --list-standards, --list-ocf-providers, --show-metadata',
      ExitCode.USAGE,
    );
  if (given.length > 1)
    throw new CliError(
      `give one command at a time (got --${given.map(kebab).join(', --')})`,
      ExitCode.USAGE,
    );
  return given[0]!;
}

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function needResource(options: ResourceOptions, what: string): string {
  if (!options.resource) throw new CliError(`${what} needs --resource`, ExitCode.USAGE);
  return options.resource;
}

async function agentRunner(): Promise<typeof AgentRunnerLib> {
  return import('@remora/agent-runner');
}

function ocfRoot(): string {
  return process.env.OCF_ROOT || '/usr/lib/ocf';
}

function printList(names: readonly string[], format: OutputFormat): void {
  if (format === 'json') printJson(names);
  else for (const n of names) process.stdout.write(`${n}\n`);
}

async function agentCommands(
  command: 'listAgents' | 'listStandards' | 'listOcfProviders' | 'showMetadata',
  options: ResourceOptions,
  format: OutputFormat,
): Promise<void> {
  const lib = await agentRunner();
  await using runner = new lib.AgentRunner({ ocfRoot: ocfRoot() });
  const invalid = (err: unknown): never => {
    if (err instanceof lib.MetadataError)
      throw new CliError(err.message, ExitCode.NOT_INSTALLED, { cause: err });
    if (err instanceof lib.AgentRunnerError)
      throw new CliError(err.message, ExitCode.INVALID_PARAM, { cause: err });
    throw err;
  };
  if (command === 'listStandards') return printList(await runner.listClasses(), format);
  if (command === 'listOcfProviders') return printList(await runner.listProviders(), format);
  if (command === 'listAgents') {
    const spec = options.listAgents!;
    const [cls, provider] = spec.split(':', 2);
    if (!lib.isAgentClass(cls!))
      throw new CliError(
        `--list-agents: unknown standard '${cls}' (known: ocf, lsb, systemd, upstart, service)`,
        ExitCode.INVALID_PARAM,
      );
    return printList(await runner.listAgents(cls, provider).catch(invalid), format);
  }
  const md = await runner.metaData(options.showMetadata!).catch(invalid);
  if (format === 'json') {
    const { xml: _xml, ...rest } = md;
    printJson(rest);
  } else process.stdout.write(md.xml.endsWith('\n') ? md.xml : `${md.xml}\n`);
}

/** The resource's own target-role (not inherited), to restore after a restart. */
async function ownTargetRole(cluster: ClusterConnection, rsc: string): Promise<string | undefined> {
  const snap = await cluster.query();
  const lib = await import('@remora/cib');
  const loc = lib.findResource(snap.cib, rsc);
  if (!loc) throw new CliError(`no resource '${rsc}' in the configuration`, ExitCode.NOSUCH);
  return lib.mergeNvSets(loc.resource.meta)['target-role'];
}

/** `remora resource` (crm_resource). */
export function registerResourceCommands(program: Command): void {
  clusterOptions(
    program
      .command('resource')
      .description(
        'inspect and control resources: locate, move, ban, clean up, restart (crm_resource)',
      )
      .option('-r, --resource <id>', 'the resource')
      .option('-N, --node <node>', 'the node (move target, ban/clear/cleanup scope)')
      .option('-M, --move', 'move the resource to --node (a cli-prefer constraint)')
      .option(
        '-B, --ban',
        'keep the resource off --node (default: where it runs now; a cli-ban constraint)',
      )
      .option(
        '-U, --clear',
        'remove the move/ban constraints of the resource (only those on --node if given)',
      )
      .option('-u, --lifetime <duration>', 'move/ban only for this long (e.g. 1h, PT1H)')
      .option('--promoted', 'move/ban only the promoted role')
      .option(
        '-C, --cleanup',
        "forget the resource's failures so it is re-probed (all failed resources without -r)",
      )
      .option('--restart', 'stop the resource and start it again (waits for both)')
      .option('--wait', 'after the change, wait until the cluster has nothing left to do')
      .option('-T, --timeout <duration>', 'how long --wait and --restart wait', '60s')
      .option(
        '--list-agents <standard>',
        'list the agents of a standard (ocf, ocf:heartbeat, lsb, systemd, ...)',
      )
      .option('--list-standards', 'list the agent standards (classes)')
      .option('--list-ocf-providers', 'list the OCF providers')
      .option('--show-metadata <agent>', "print an agent's meta-data, e.g. ocf:heartbeat:Dummy")
      .option('-Q, --quiet', 'print less')
      .option('--output-as <format>', 'text or json', 'text'),
  )
    .addHelpText(
      'after',
      `
Examples:
  remora resource --move -r web -N node2 --lifetime 1h --wait
  remora resource --ban -r web -N guest1
  remora resource --clear -r web
  remora resource --cleanup -r web
  remora resource --restart -r web
  remora resource --list-agents ocf:heartbeat
  remora resource --show-metadata ocf:heartbeat:Dummy

Exit codes: 0 ok, 105 no such resource/node, 2 invalid value, 124 --wait or
--restart timed out, 102 not connected to a cluster, 5 agent not installed,
64 usage.`,
    )
    .action(async (options: ResourceOptions) => {
      const format = parseOutputFormat(options.outputAs);
      const command = commandOf(options);
      if (
        command === 'listAgents' ||
        command === 'listStandards' ||
        command === 'listOcfProviders' ||
        command === 'showMetadata'
      )
        return agentCommands(command, options, format);
      const { parseDuration } = await agentRunner();
      const timeoutMs = durationOption('--timeout', options.timeout, parseDuration);
      const lifetimeMs =
        options.lifetime === undefined
          ? undefined
          : durationOption('--lifetime', options.lifetime, parseDuration);
      if (lifetimeMs !== undefined && command !== 'move' && command !== 'ban')
        throw new CliError('--lifetime goes with --move or --ban', ExitCode.USAGE);
      const cluster = connectCluster(options);
      if (options.wait && cluster.mode === 'file')
        throw new CliError(
          '--wait needs a running cluster, not a CIB file',
          ExitCode.UNIMPLEMENT_FEATURE,
        );
      const done = async (data: Record<string, unknown>, text: string[]): Promise<void> => {
        if (options.wait) await waitForCluster(cluster, timeoutMs);
        if (format === 'json') printJson(data);
        else if (!options.quiet) for (const line of text) process.stdout.write(`${line}\n`);
      };

      switch (command) {
        case 'move':
        case 'ban': {
          const rsc = needResource(options, `--${command}`);
          if (!options.node)
            throw new CliError(
              `--${command} needs --node (the node to ${command === 'move' ? 'move to' : 'keep it off'})`,
              ExitCode.USAGE,
            );
          const r = await cluster.edit({
            command,
            resource: rsc,
            node: options.node,
            lifetimeMs,
            promoted: options.promoted,
          });
          const until =
            lifetimeMs === undefined ? undefined : new Date(Date.now() + lifetimeMs).toISOString();
          const text = [
            command === 'move'
              ? `${rsc} will move to ${options.node} (constraint ${r.ids[0]})`
              : `${rsc} is banned from ${options.node} (constraint ${r.ids[0]})`,
          ];
          if (until) text.push(`  until ${until}`);
          else text.push(`  until removed with: remora resource --clear -r ${rsc}`);
          return done(
            { resource: rsc, node: options.node, constraint: r.ids[0], until: until ?? null },
            text,
          );
        }
        case 'clear': {
          const rsc = needResource(options, '--clear');
          const r = await cluster.edit({ command: 'clear', resource: rsc, node: options.node });
          return done(
            { resource: rsc, removed: r.ids },
            r.ids.length > 0
              ? r.ids.map((id) => `Removing constraint: ${id}`)
              : [`${rsc} has no move/ban constraints${options.node ? ` on ${options.node}` : ''}`],
          );
        }
        case 'cleanup': {
          const r = await cluster.edit({
            command: 'cleanup',
            resource: options.resource,
            node: options.node,
          });
          const what = options.resource ?? 'failed resources';
          return done(
            { resource: options.resource ?? null, nodes: r.ids },
            r.ids.length > 0
              ? [`Cleaned up ${what} on ${r.ids.join(', ')}`]
              : [`${what}: nothing to clean up`],
          );
        }
        case 'restart': {
          const rsc = needResource(options, '--restart');
          if (cluster.mode === 'file')
            throw new CliError(
              '--restart needs a running cluster, not a CIB file',
              ExitCode.UNIMPLEMENT_FEATURE,
            );
          const previous = await ownTargetRole(cluster, rsc);
          if (previous?.toLowerCase() === 'stopped')
            throw new CliError(
              `${rsc} is stopped on purpose (target-role=Stopped): start it first`,
              ExitCode.NOT_RUNNING,
            );
          await cluster.edit({
            command: 'resource-meta',
            resource: rsc,
            name: 'target-role',
            value: 'Stopped',
          });
          try {
            await waitForCluster(cluster, timeoutMs, `${rsc} to stop`);
          } finally {
            await cluster.edit({
              command: 'resource-meta',
              resource: rsc,
              name: 'target-role',
              value: previous,
            });
          }
          await waitForCluster(cluster, timeoutMs, `${rsc} to start`);
          if (format === 'json') printJson({ resource: rsc, restarted: true });
          else if (!options.quiet) process.stdout.write(`${rsc} restarted\n`);
          return;
        }
        default: {
          const unreachable: never = command;
          throw new CliError(`unknown command ${String(unreachable)}`, ExitCode.SOFTWARE);
        }
      }
    });
}
