import type * as AgentRunnerLib from '@remora/agent-runner';
import type { Command } from 'commander';
import type { ClusterConnection, ClusterOptions } from '../cluster';
import { clusterOptions, connectCluster, waitForCluster } from '../cluster';
import { CliError } from '../errors';
import { ExitCode } from '../exit-codes';
import { durationOption } from '../options';
import { parseOutputFormat, printJson } from '../output';
import type { OutputFormat } from '../output';
import { buildStatusView, resourceLines } from '@remora/scheduler';
import type { StatusView } from '@remora/scheduler';
import { explain, locate } from '../why';
import type { Cib } from '@remora/cib';

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
  readonly list?: boolean;
  readonly setParameter?: string;
  readonly deleteParameter?: string;
  readonly getParameter?: string;
  readonly parameterValue?: string;
  readonly meta?: boolean;
  readonly utilization?: boolean;
  readonly locate?: boolean;
  readonly why?: boolean;
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
  'list',
  'locate',
  'setParameter',
  'getParameter',
  'deleteParameter',
  'why',
] as const;
type ResourceCommand = (typeof COMMANDS)[number];

function commandOf(options: ResourceOptions): ResourceCommand {
  const given = COMMANDS.filter((c) => options[c] !== undefined && options[c] !== false);
  if (given.length === 0)
    throw new CliError(
      'no command given: use one of --list, --locate, --why, --move, --ban, --clear, --cleanup, --restart, --get-parameter, --set-parameter, --delete-parameter, --list-agents, --list-standards, --list-ocf-providers, --show-metadata',
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

const SET_WORDS = {
  meta: 'meta attribute',
  instance: 'parameter',
  utilization: 'utilization attribute',
} as const;

/** Which attribute set -p/-g/-d act on: agent parameters unless --meta or -z. */
function attributeSet(options: ResourceOptions): keyof typeof SET_WORDS {
  if (options.meta && options.utilization)
    throw new CliError('give --meta or --utilization, not both', ExitCode.USAGE);
  return options.meta ? 'meta' : options.utilization ? 'utilization' : 'instance';
}

/** The resource's own target-role (not inherited), to restore after a restart. */
async function ownTargetRole(cluster: ClusterConnection, rsc: string): Promise<string | undefined> {
  const snap = await cluster.query();
  const lib = await import('@remora/cib');
  const loc = lib.findResource(snap.cib, rsc);
  if (!loc) throw new CliError(`no resource '${rsc}' in the configuration`, ExitCode.NOSUCH);
  return lib.mergeNvSets(loc.resource.meta)['target-role'];
}

async function statusOf(
  cluster: ClusterConnection,
): Promise<{ readonly view: StatusView; readonly cib: Cib }> {
  const snap = await cluster.query();
  return { view: buildStatusView(snap.cib), cib: snap.cib };
}

/**
 * Put back the target-role a restart changed. The node's link to the
 * cluster may drop meanwhile (a guest being recovered): keep trying for 30 s,
 * then say exactly what was left behind and how to undo it.
 */
async function restoreTargetRole(
  cluster: ClusterConnection,
  rsc: string,
  previous: string | undefined,
): Promise<void> {
  const until = Date.now() + 30_000;
  for (;;) {
    try {
      await cluster.edit({
        command: 'resource-attribute',
        resource: rsc,
        set: 'meta',
        name: 'target-role',
        value: previous,
      });
      return;
    } catch (err) {
      if (
        !(err instanceof CliError) ||
        err.exitCode !== ExitCode.DISCONNECT ||
        Date.now() > until
      ) {
        const undo =
          previous === undefined
            ? `remora resource -r ${rsc} --meta -d target-role`
            : `remora resource -r ${rsc} --meta -p target-role -v ${previous}`;
        throw new CliError(
          `${rsc} was left with target-role=Stopped (${(err as Error).message}); to undo: ${undo}`,
          err instanceof CliError ? err.exitCode : ExitCode.ERROR,
          { cause: err },
        );
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/** The scheduler's view of where a resource may run (per-node scores), or why it has none. */
async function allocationScores(
  cib: Cib,
  rsc: string,
): Promise<{ scores?: Readonly<Record<string, number>>; error?: string }> {
  try {
    const { schedule } = await import('@remora/scheduler');
    const scores = schedule(cib).scores[rsc];
    return scores ? { scores } : { error: `the scheduler gives no scores for ${rsc}` };
  } catch (err) {
    return { error: `the scheduler could not run: ${(err as Error).message}` };
  }
}

/** The single node a resource runs on (for --move/--ban without --node). */
async function currentNode(
  cluster: ClusterConnection,
  rsc: string,
  command: string,
): Promise<string> {
  const { view } = await statusOf(cluster);
  const where = locate(view, rsc);
  if (where.length === 1) return where[0]!.node;
  throw new CliError(
    where.length === 0
      ? `${rsc} is not running: --${command} needs --node`
      : `${rsc} runs on ${where.map((w) => w.node).join(', ')}: --${command} needs --node`,
    where.length === 0 ? ExitCode.NOT_RUNNING : ExitCode.USAGE,
  );
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
      .option('-L, --list', 'list the resources and where they run')
      .option('-W, --locate', 'print the nodes the resource runs on')
      .option('-Y, --why', 'why the resource runs where it does, or not at all')
      .option(
        '-p, --set-parameter <name>',
        "set an agent parameter (instance attribute; with --meta a meta attribute, with -z a utilization) to -v's value",
      )
      .option('-v, --parameter-value <value>', 'the value for --set-parameter')
      .option('-g, --get-parameter <name>', 'print the value of a parameter (see -p)')
      .option('-d, --delete-parameter <name>', 'delete a parameter (see -p)')
      .option('--meta', 'the parameter is a meta attribute (target-role, is-managed, ...)')
      .option('-z, --utilization', 'the parameter is a utilization attribute (cpu, memory, ...)')
      .option('-N, --node <node>', 'the node (move target, ban/clear/cleanup scope)')
      .option(
        '-M, --move',
        'move the resource to --node (a cli-prefer constraint); without --node, away from where it runs',
      )
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
  remora resource --list
  remora resource --locate -r web
  remora resource --why -r web
  remora resource -r web --meta -p target-role -v Stopped
  remora resource -r web -p ip -v 192.0.2.10       # an agent parameter
  remora resource -r web -z -p memory -v 512      # utilization
  remora resource -r web -g ip
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
          // Without --node: ban from where it runs now (a move without a target, as crm_resource).
          const node = options.node ?? (await currentNode(cluster, rsc, command));
          const edit = options.node === undefined ? 'ban' : command;
          const r = await cluster.edit({
            command: edit,
            resource: rsc,
            node,
            lifetimeMs,
            promoted: options.promoted,
          });
          const until =
            lifetimeMs === undefined ? undefined : new Date(Date.now() + lifetimeMs).toISOString();
          const text = [
            edit === 'move'
              ? `${rsc} will move to ${node} (constraint ${r.ids[0]})`
              : `${rsc} is banned from ${node} (constraint ${r.ids[0]})`,
          ];
          if (until) text.push(`  until ${until}`);
          else text.push(`  until removed with: remora resource --clear -r ${rsc}`);
          return done({ resource: rsc, node, constraint: r.ids[0], until: until ?? null }, text);
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
        case 'list': {
          const { view } = await statusOf(cluster);
          if (format === 'json') printJson(view.resources);
          else {
            const lines = view.resources.flatMap(resourceLines);
            process.stdout.write(
              `Full List of Resources:\n${(lines.length > 0 ? lines : ['* No resources']).map((l) => `  ${l}\n`).join('')}`,
            );
          }
          return;
        }
        case 'locate': {
          const rsc = needResource(options, '--locate');
          const { view } = await statusOf(cluster);
          const where = locate(view, rsc);
          if (format === 'json') printJson({ resource: rsc, running: where });
          else if (where.length === 0) process.stderr.write(`resource ${rsc} is NOT running\n`);
          else
            for (const w of where)
              process.stdout.write(
                options.quiet
                  ? `${w.node}\n`
                  : `resource ${rsc} is running on: ${w.node}${w.role === 'Promoted' ? ' Promoted' : ''}\n`,
              );
          return;
        }
        case 'why': {
          const rsc = needResource(options, '--why');
          const { view, cib } = await statusOf(cluster);
          const w = explain(view, cib, rsc, options.node, await allocationScores(cib, rsc));
          if (format === 'json') printJson(w);
          else {
            process.stdout.write(
              `Resource ${rsc} is ${w.running.length > 0 ? `running on ${w.running.map((r) => r.node).join(', ')}` : 'not running'}\n`,
            );
            for (const reason of w.reasons) process.stdout.write(`${reason}\n`);
            for (const n of w.nodes) for (const b of n.blockers) process.stdout.write(`${b}\n`);
            if (w.allocationScores)
              process.stdout.write(
                `Allocation scores: ${Object.entries(w.allocationScores)
                  .map(([n, v]) => `${n}=${v}`)
                  .join(' ')}\n`,
              );
          }
          return;
        }
        case 'getParameter': {
          const rsc = needResource(options, '--get-parameter');
          const set = attributeSet(options);
          const name = options.getParameter!;
          const { cib } = await cluster.query();
          const lib = await import('@remora/cib');
          const loc = lib.findResource(cib, rsc);
          if (!loc)
            throw new CliError(`no resource '${rsc}' in the configuration`, ExitCode.NOSUCH);
          const r = loc.resource;
          const sets =
            set === 'meta'
              ? r.meta
              : r.kind === 'primitive'
                ? set === 'instance'
                  ? r.params
                  : r.utilization
                : [];
          const value = lib.mergeNvSets(sets)[name];
          if (value === undefined)
            throw new CliError(`'${rsc}' has no ${SET_WORDS[set]} ${name}`, ExitCode.NOSUCH);
          if (format === 'json') printJson({ resource: rsc, set, name, value });
          else process.stdout.write(`${value}\n`);
          return;
        }
        case 'setParameter':
        case 'deleteParameter': {
          const rsc = needResource(options, `--${kebab(command)}`);
          const set = attributeSet(options);
          const name = (options.setParameter ?? options.deleteParameter)!;
          if (command === 'setParameter' && options.parameterValue === undefined)
            throw new CliError('--set-parameter needs -v VALUE', ExitCode.USAGE);
          const value = command === 'setParameter' ? options.parameterValue : undefined;
          const r = await cluster.edit({
            command: 'resource-attribute',
            resource: rsc,
            set,
            name,
            value,
          });
          return done({ resource: rsc, set, name, value: value ?? null, changed: r.changed }, [
            value === undefined
              ? r.changed
                ? `Deleted '${rsc}' option: name=${name}`
                : `'${rsc}' has no ${SET_WORDS[set]} ${name}`
              : `Set '${rsc}' option: name=${name} value=${value}`,
          ]);
        }
        case 'restart': {
          const rsc = needResource(options, '--restart');
          if (cluster.mode === 'file')
            throw new CliError(
              '--restart needs a running cluster, not a CIB file',
              ExitCode.UNIMPLEMENT_FEATURE,
            );
          const previous = await ownTargetRole(cluster, rsc);
          if (locate((await statusOf(cluster)).view, rsc).length === 0)
            throw new CliError(`${rsc} is not running`, ExitCode.NOT_RUNNING);
          if (previous?.toLowerCase() === 'stopped')
            throw new CliError(
              `${rsc} is stopped on purpose (target-role=Stopped): start it first`,
              ExitCode.NOT_RUNNING,
            );
          await cluster.edit({
            command: 'resource-attribute',
            resource: rsc,
            set: 'meta',
            name: 'target-role',
            value: 'Stopped',
          });
          try {
            await waitForCluster(cluster, timeoutMs, `${rsc} to stop`);
          } finally {
            await restoreTargetRole(cluster, rsc, previous);
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
