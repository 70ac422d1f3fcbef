import type { Cib } from '@remora/cib';
import type { Command } from 'commander';
import type { ClusterConnection } from '../cluster';
import { clusterOptions, connectCluster } from '../cluster';
import type { ClusterOptions } from '../cluster';
import { CliError } from '../errors';
import { ExitCode } from '../exit-codes';
import { parseOutputFormat, printJson } from '../output';

/** Where an attribute lives, in crm_attribute's words. */
type Scope = 'crm_config' | 'nodes' | 'status';

interface AttributeOptions extends ClusterOptions {
  readonly name?: string;
  readonly update?: string;
  readonly delete?: boolean;
  readonly query?: boolean;
  readonly node?: string;
  readonly lifetime?: string;
  readonly type?: string;
  readonly default?: string;
  readonly quiet?: boolean;
  readonly outputAs: string;
}

function lifetimeOf(value: string | undefined): 'forever' | 'reboot' | undefined {
  if (value === undefined) return undefined;
  if (value === 'forever' || value === 'reboot') return value;
  // crm_attribute's historical synonyms
  if (value === 'permanent') return 'forever';
  if (value === 'transient') return 'reboot';
  throw new CliError(
    `--lifetime: '${value}' is not forever or reboot (also: permanent, transient)`,
    ExitCode.USAGE,
  );
}

/** crm_attribute's rules: -t wins; a node or lifetime means a node attribute; else a cluster property. */
function scopeOf(options: AttributeOptions, promotion: boolean): Scope {
  const lifetime = lifetimeOf(options.lifetime);
  if (options.type !== undefined) {
    if (options.type === 'crm_config') {
      if (options.node !== undefined || lifetime !== undefined)
        throw new CliError('--type crm_config takes no --node or --lifetime', ExitCode.USAGE);
      return 'crm_config';
    }
    if (options.type === 'nodes' || options.type === 'forever') return 'nodes';
    if (options.type === 'status' || options.type === 'reboot') return 'status';
    throw new CliError(
      `--type: '${options.type}' is not crm_config, nodes or status`,
      ExitCode.USAGE,
    );
  }
  if (lifetime === 'reboot') return 'status';
  if (lifetime === 'forever') return 'nodes';
  if (promotion) return 'status';
  return options.node !== undefined ? 'nodes' : 'crm_config';
}

function nodeValues(cib: Cib, node: string, scope: 'nodes' | 'status'): Record<string, string> {
  if (!cib.nodes.some((n) => n.name === node))
    throw new CliError(`no node '${node}' in the cluster`, ExitCode.NOSUCH);
  if (scope === 'status')
    return { ...(cib.status.find((s) => s.uname === node)?.transientAttributes ?? {}) };
  const sets = cib.nodes.find((n) => n.name === node)!.attributes;
  const out: Record<string, string> = {};
  // Every set's values, highest score first (rules are shown as configured, not evaluated).
  for (const s of [...sets].sort((a, b) => b.score - a.score))
    for (const [k, v] of Object.entries(s.values)) if (!(k in out)) out[k] = v;
  return out;
}

interface AttributeAction {
  readonly scope: Scope;
  readonly name?: string;
  /** undefined with `remove` false: a query. */
  readonly value?: string;
  readonly remove: boolean;
  readonly node?: string;
  readonly defaultValue?: string;
  readonly quiet: boolean;
  readonly format: 'text' | 'json';
}

/** Query, update or delete one attribute; shared by `attribute`, `promotion-score` and `standby`. */
/** Returns the node an update applied to. */
export async function runAttribute(
  cluster: ClusterConnection,
  a: AttributeAction,
): Promise<string | undefined> {
  const update = a.value !== undefined || a.remove;
  if (update) {
    if (a.name === undefined)
      throw new CliError('--name is needed to update or delete', ExitCode.USAGE);
    const r =
      a.scope === 'crm_config'
        ? await cluster.edit({ command: 'cluster-property', name: a.name, value: a.value })
        : await cluster.edit({
            command: 'node-attribute',
            node: a.node,
            name: a.name,
            value: a.value,
            lifetime: a.scope === 'status' ? 'reboot' : 'forever',
          });
    const where = r.node ? ` node=${r.node}` : '';
    if (a.format === 'json')
      printJson({
        scope: a.scope,
        name: a.name,
        value: a.value ?? null,
        node: r.node ?? null,
        changed: r.changed,
      });
    else if (a.remove && r.changed)
      process.stdout.write(`Deleted ${a.scope} attribute: name=${a.name}${where}\n`);
    else if (a.remove && !a.quiet)
      process.stderr.write(`${a.scope} attribute ${a.name}${where} was not set\n`);
    return r.node;
  }
  const snap = await cluster.query();
  const node = a.node ?? snap.node;
  const values =
    a.scope === 'crm_config' ? { ...snap.cib.properties } : nodeValues(snap.cib, node, a.scope);
  const names = a.name !== undefined ? [a.name] : Object.keys(values).sort();
  const found: { name: string; value: string }[] = [];
  for (const name of names) {
    const value = values[name] ?? (a.name !== undefined ? a.defaultValue : undefined);
    if (value !== undefined) found.push({ name, value });
  }
  if (a.name !== undefined && found.length === 0) {
    const what =
      a.scope === 'crm_config'
        ? `cluster property '${a.name}' is not set`
        : `${a.scope === 'status' ? 'transient' : 'permanent'} attribute '${a.name}' is not set on node ${node}`;
    throw new CliError(what, ExitCode.NOSUCH);
  }
  if (a.format === 'json') {
    printJson(
      found.map((f) => ({ scope: a.scope, ...(a.scope === 'crm_config' ? {} : { node }), ...f })),
    );
    return;
  }
  for (const f of found)
    process.stdout.write(
      a.quiet ? `${f.value}\n` : `scope=${a.scope}  name=${f.name} value=${f.value}\n`,
    );
}

/** `remora attribute` (crm_attribute / attrd_updater) and `remora promotion-score` (crm_master). */
export function registerAttributeCommands(program: Command): void {
  clusterOptions(
    program
      .command('attribute')
      .description(
        'query, update or delete node attributes (permanent or transient) and cluster properties (crm_attribute, attrd_updater)',
      )
      .option('-n, --name <name>', 'the attribute or property (queries: all when omitted)')
      .option('-v, --update <value>', 'set it to this value')
      .option('-D, --delete', 'delete it')
      .option('-G, --query', 'print its value (the default)')
      .option('-N, --node <node>', 'a node attribute of this node (default: the node this runs on)')
      .option(
        '-l, --lifetime <lifetime>',
        'node attribute lifetime: forever (configuration) or reboot (transient, status)',
      )
      .option(
        '-t, --type <section>',
        'crm_config (cluster property), nodes (permanent) or status (transient)',
      )
      .option('-d, --default <value>', 'value to print when the attribute is not set')
      .option('-q, --quiet', 'print only the value')
      .option('--output-as <format>', 'text or json', 'text'),
  )
    .addHelpText(
      'after',
      `
With no --node, --lifetime or --type it acts on a cluster property; with
--lifetime and no --node, on the node this command runs on.

Examples:
  remora attribute -N node1 -n location -v office       # permanent node attribute
  remora attribute -l reboot -n pingd -v 100             # transient, on this node
  remora attribute -N node1 -n location -G -q
  remora attribute -n stonith-enabled -v false           # cluster property
  remora attribute -N guest1 -n location -D

Exit codes: 0 ok, 105 no such node/attribute, 102 not connected to a cluster,
64 usage.`,
    )
    .action(async (options: AttributeOptions) => {
      const format = parseOutputFormat(options.outputAs) as 'text' | 'json';
      if ([options.update !== undefined, options.delete, options.query].filter(Boolean).length > 1)
        throw new CliError('give only one of --update, --delete and --query', ExitCode.USAGE);
      const scope = scopeOf(options, false);
      await runAttribute(connectCluster(options), {
        scope,
        name: options.name,
        value: options.update,
        remove: options.delete === true,
        node: scope === 'crm_config' ? undefined : options.node,
        defaultValue: options.default,
        quiet: options.quiet === true,
        format,
      });
    });

  clusterOptions(
    program
      .command('promotion-score')
      .description(
        "query, update or delete a promotable resource's promotion score on a node (crm_master; transient by default)",
      )
      .option('-r, --resource <id>', 'the resource (default: $OCF_RESOURCE_INSTANCE)')
      .option('-v, --update <score>', 'set the score (an integer, INFINITY or -INFINITY)')
      .option('-D, --delete', 'delete the score')
      .option('-G, --query', 'print the score (the default)')
      .option('-N, --node <node>', 'the node (default: the node this runs on)')
      .option('-l, --lifetime <lifetime>', 'reboot (default) or forever')
      .option('-q, --quiet', 'print only the value')
      .option('--output-as <format>', 'text or json', 'text'),
  )
    .addHelpText(
      'after',
      `
Called from a promotable resource's agent (OCF_RESOURCE_INSTANCE is set there).

Examples:
  remora promotion-score -v 10                     # inside an agent
  remora promotion-score -r db -N node2 -G
  remora promotion-score -r db -D

Exit codes: 0 ok, 105 no such node/resource/score, 102 not connected, 64 usage.`,
    )
    .action(async (options: AttributeOptions & { resource?: string }) => {
      const format = parseOutputFormat(options.outputAs) as 'text' | 'json';
      const instance = options.resource ?? process.env.OCF_RESOURCE_INSTANCE;
      if (!instance)
        throw new CliError('no resource: give -r or set OCF_RESOURCE_INSTANCE', ExitCode.USAGE);
      if ([options.update !== undefined, options.delete, options.query].filter(Boolean).length > 1)
        throw new CliError('give only one of --update, --delete and --query', ExitCode.USAGE);
      if (options.update !== undefined && !/^[-+]?(\d+|INFINITY)$/.test(options.update))
        throw new CliError(`--update: '${options.update}' is not a score`, ExitCode.INVALID_PARAM);
      // A clone instance (db:1) shares its primitive's score.
      const resource = instance.replace(/:\d+$/, '');
      const cluster = connectCluster(options);
      if (options.update !== undefined) {
        const snap = await cluster.query();
        const lib = await import('@remora/cib');
        if (!lib.findResource(snap.cib, resource))
          throw new CliError(`no resource '${resource}' in the configuration`, ExitCode.NOSUCH);
      }
      await runAttribute(cluster, {
        scope: scopeOf({ ...options, type: undefined }, true),
        name: `master-${resource}`,
        value: options.update,
        remove: options.delete === true,
        node: options.node,
        quiet: options.quiet === true,
        format,
      });
    });
}
