import type { Command } from 'commander';
import { clusterOptions, connectCluster, waitForCluster } from '../cluster';
import { durationOption } from '../options';
import type { ClusterOptions } from '../cluster';
import { CliError } from '../errors';
import { ExitCode } from '../exit-codes';
import { parseOutputFormat, printJson } from '../output';
import { runAttribute } from './attribute';
import { buildStatusView, compareNames, nodeStateText } from '@remora/scheduler';

interface StandbyOptions extends ClusterOptions {
  readonly node?: string;
  readonly lifetime?: string;
  readonly outputAs: string;
  readonly quiet?: boolean;
  readonly wait?: boolean;
  readonly timeout: string;
}

/** `remora standby` (crm_standby) and `remora node` (crm_node). */
export function registerNodeCommands(program: Command): void {
  clusterOptions(
    program
      .command('standby')
      .argument('[state]', 'on, off, or show (the default)', 'show')
      .description(
        'put a node in standby (it runs no resources) or bring it back, or show its standby state (crm_standby)',
      )
      .option('-N, --node <node>', 'the node (default: the node this runs on)')
      .option(
        '-l, --lifetime <lifetime>',
        'forever (default) or reboot (until the node restarts)',
        'forever',
      )
      .option('-q, --quiet', 'print only the value')
      .option('--wait', 'after the change, wait until the cluster has nothing left to do')
      .option('-T, --timeout <duration>', 'how long --wait waits', '60s')
      .option('--output-as <format>', 'text or json', 'text'),
  )
    .addHelpText(
      'after',
      `
Examples:
  remora standby on --wait                 # this node (also on a guest or remote node)
  remora standby off --node guest1
  remora standby --node node2       # show

Exit codes: 0 ok, 105 no such node, 102 not connected to a cluster, 64 usage.`,
    )
    .action(async (state: string, options: StandbyOptions) => {
      const format = parseOutputFormat(options.outputAs) as 'text' | 'json';
      if (!['on', 'off', 'show'].includes(state))
        throw new CliError(`'${state}' is not on, off or show`, ExitCode.USAGE);
      if (options.lifetime !== 'forever' && options.lifetime !== 'reboot')
        throw new CliError(
          `--lifetime: '${options.lifetime}' is not forever or reboot`,
          ExitCode.USAGE,
        );
      const scope = options.lifetime === 'reboot' ? 'status' : 'nodes';
      const cluster = connectCluster(options);
      if (options.wait && (state === 'show' || cluster.mode === 'file'))
        throw new CliError('--wait goes with on/off on a running cluster', ExitCode.USAGE);
      const { parseDuration } = await import('@remora/agent-runner');
      const timeoutMs = durationOption('--timeout', options.timeout, parseDuration);
      const node = await runAttribute(cluster, {
        scope,
        name: 'standby',
        value: state === 'show' ? undefined : state,
        remove: false,
        node: options.node,
        defaultValue: 'off',
        quiet: options.quiet === true,
        format,
      });
      if (node !== undefined && format === 'text' && !options.quiet)
        process.stdout.write(`${node}: standby ${state}\n`);
      if (options.wait) await waitForCluster(cluster, timeoutMs);
    });

  const node = program
    .command('node')
    .description('list, name and remove cluster nodes (crm_node)');

  clusterOptions(
    node
      .command('list')
      .description(
        'list the nodes: id, name, kind (member, remote, guest) and state, as crm_mon words it',
      )
      .option('--output-as <format>', 'text or json', 'text'),
  )
    .addHelpText(
      'after',
      `
Output: one line per node, "<id> <name> <kind> <state>", a guest's host after it
(e.g. "guest1 guest1 guest online host=node2").

Example:
  remora node list`,
    )
    .action(async (options: ClusterOptions & { outputAs: string }) => {
      const format = parseOutputFormat(options.outputAs);
      const snap = await connectCluster(options).query();
      const view = buildStatusView(snap.cib);
      const nodes = [...view.nodes].sort((a, b) => compareNames(a.name, b.name));
      if (format === 'json') {
        printJson(nodes.map((n) => ({ ...n, state: nodeStateText(n) })));
        return;
      }
      for (const n of nodes)
        process.stdout.write(
          `${n.id} ${n.name} ${n.kind} ${nodeStateText(n)}${n.host ? ` host=${n.host}` : ''}\n`,
        );
    });

  clusterOptions(
    node
      .command('name')
      .description(
        "print the name the cluster knows this node by (crm_node -n; on a guest, the controller's name for it)",
      ),
  )
    .addHelpText('after', '\nExample:\n  remora node name')
    .action(async (options: ClusterOptions) => {
      const snap = await connectCluster(options).query();
      process.stdout.write(`${snap.node}\n`);
    });

  clusterOptions(
    node
      .command('remove')
      .argument('<node>', 'the node to forget')
      .description(
        'forget a node that has left the cluster: its configuration and status (crm_node --remove); refused while it is online',
      )
      .option('--output-as <format>', 'text or json', 'text'),
  )
    .addHelpText(
      'after',
      `
Guest and remote nodes are defined by their resources: delete the resource
instead.

Example:
  remora node remove node3

Exit codes: 0 ok, 105 no such node, 2 node still online or defined by a
resource, 102 not connected to a cluster.`,
    )
    .action(async (name: string, options: ClusterOptions & { outputAs: string }) => {
      const format = parseOutputFormat(options.outputAs);
      const r = await connectCluster(options).edit({ command: 'node-remove', node: name });
      if (format === 'json') printJson({ node: name, removed: r.changed });
      else process.stdout.write(`Removed node ${name}\n`);
    });
}
