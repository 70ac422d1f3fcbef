import { escapeAttr } from '@remora/cib';
import type {
  StatusClone,
  StatusFailCount,
  StatusFailedAction,
  StatusGroup,
  StatusNode,
  StatusPrimitive,
  StatusResource,
  StatusView,
} from './view';

/**
 * crm_mon: `remora status` (as `crm_mon -1 -r -f`); simulate: the
 * "Current cluster status:" block of `crm_simulate` (node and resource lists
 * only, two more spaces of indentation).
 */
export type StatusStyle = 'crm_mon' | 'simulate';

export interface FormatStatusOptions {
  readonly style?: StatusStyle;
  /** "Last updated" (crm_mon style); default now. */
  readonly now?: Date;
  /** Print times in this IANA zone (default: the process's, as crm_mon). */
  readonly timeZone?: string;
}

/** Natural, case-insensitive order (node2 before node10), as Pacemaker sorts node names. */
export function compareNames(a: string, b: string): number {
  return (
    a.localeCompare(b, 'en', { numeric: true, sensitivity: 'base' }) || (a < b ? -1 : a > b ? 1 : 0)
  );
}

/** A date as crm_mon prints it: `Wed Feb 22 17:04:34 2012` (ctime). */
export function formatCtime(epochSeconds: number, timeZone?: string): string {
  const d = new Date(epochSeconds * 1000);
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone,
      weekday: 'short',
      month: 'short',
      day: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      year: 'numeric',
      hourCycle: 'h23',
    })
      .formatToParts(d)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.weekday} ${parts.month} ${String(parts.day).padStart(2, ' ')} ${parts.hour}:${parts.minute}:${parts.second} ${parts.year}`;
}

function nodeKindWord(n: StatusNode): string {
  return n.kind === 'remote' ? 'RemoteNode' : n.kind === 'guest' ? 'GuestNode' : 'Node';
}

/** A node's state when it is listed on its own line (crm_mon's words). */
export function nodeStateText(n: StatusNode): string {
  if (n.unclean)
    return n.online ? 'UNCLEAN (online)' : n.pending ? 'UNCLEAN (pending)' : 'UNCLEAN (offline)';
  if (n.pending) return 'pending';
  if (n.standbyOnFail && n.online) return 'standby (on-failure)';
  if (n.standby) {
    if (!n.online) return 'OFFLINE (standby)';
    return n.resourcesRunning > 0 ? 'standby (with active resources)' : 'standby';
  }
  if (n.maintenance) return n.online ? 'maintenance' : 'OFFLINE (maintenance)';
  return n.online ? 'online' : 'OFFLINE';
}

function nodeLines(nodes: readonly StatusNode[]): string[] {
  const lines: string[] = [];
  const lists: Record<string, string[]> = {
    Online: [],
    OFFLINE: [],
    RemoteOnline: [],
    RemoteOFFLINE: [],
    GuestOnline: [],
  };
  for (const n of [...nodes].sort((a, b) => compareNames(a.name, b.name))) {
    const special =
      n.pending || n.unclean || n.standby || n.maintenance || (n.online && n.standbyOnFail);
    const prefix = n.kind === 'remote' ? 'Remote' : n.kind === 'guest' ? 'Guest' : '';
    if (!special && n.online) lists[`${prefix}Online`]!.push(n.name);
    // An offline guest node is not listed (its container's state says it all), as in crm_mon.
    else if (!special && n.kind !== 'guest')
      lists[prefix ? `${prefix}OFFLINE` : 'OFFLINE']!.push(n.name);
    else if (!special) continue;
    else lines.push(`* ${nodeKindWord(n)} ${n.name}: ${nodeStateText(n)}`);
  }
  for (const [label, names] of Object.entries(lists))
    if (names.length > 0) lines.push(`* ${label}: [ ${names.join(' ')} ]`);
  return lines;
}

function flagsText(flags: readonly string[]): string {
  return flags.length > 0 ? ` (${flags.join(', ')})` : '';
}

function primitiveFlags(r: StatusPrimitive): string[] {
  const flags: string[] = [];
  if (r.pendingMonitor) flags.push('Monitoring');
  if (r.uncleanNodes && r.uncleanNodes.length > 0) flags.push('UNCLEAN');
  if (r.lockedTo !== undefined && r.nodes.length <= 1 && (r.nodes[0] ?? r.lockedTo) === r.lockedTo)
    flags.push('LOCKED');
  if (r.orphaned) flags.push('ORPHANED');
  if (r.failureIgnored) flags.push('failure ignored');
  if (r.disabled) flags.push('disabled');
  else if (r.targetRole) flags.push(`target-role:${r.targetRole}`);
  if (r.blocked) flags.push('blocked');
  else if (!r.managed) flags.push('unmanaged');
  return flags;
}

function primitiveLine(r: StatusPrimitive, id = r.id): string {
  let state: string = r.role;
  if (r.failed) state = r.role === 'Promoted' ? 'FAILED Promoted' : 'FAILED';
  const flags = flagsText(primitiveFlags(r));
  // Several nodes: the flags come before the node list, as crm_mon prints them.
  if (r.nodes.length > 1)
    return `* ${id}\t(${r.agent}):\t ${state}${flags} [ ${r.nodes.join(' ')} ]`;
  // a stopped resource locked to a node shows that node
  const node = r.nodes[0] ?? r.lockedTo;
  const where = node !== undefined ? ` ${node}` : '';
  return `* ${id}\t(${r.agent}):\t ${state}${where}${flags}`;
}

function groupLines(g: StatusGroup, id = g.id): string[] {
  const flags: string[] = [];
  if (g.disabled) flags.push('disabled');
  if (!g.managed) flags.push('unmanaged');
  return [
    `* Resource Group: ${id}${flagsText(flags)}:`,
    ...g.children.map((c) => `  ${primitiveLine(c)}`),
  ];
}

/** Whether an anonymous clone's instance can be summarized in a "Started: [ ... ]" list. */
function plainInstance(
  i: StatusPrimitive | StatusGroup,
): { role: string; node: string } | undefined {
  if (i.kind === 'primitive') {
    if (i.failed || !i.managed || i.blocked || i.orphaned || i.nodes.length !== 1) return undefined;
    if (i.uncleanNodes && i.uncleanNodes.length > 0) return undefined;
    return { role: i.role, node: i.nodes[0]! };
  }
  // A cloned group: all members started on one node.
  const first = i.children[0];
  if (!first || !i.managed) return undefined;
  const node = first.nodes[0];
  for (const c of i.children) {
    if (c.failed || !c.managed || c.nodes.length !== 1 || c.nodes[0] !== node) return undefined;
    if (c.role !== first.role) return undefined;
  }
  return node === undefined ? undefined : { role: first.role, node };
}

function cloneLines(c: StatusClone): string[] {
  const flags: string[] = [];
  if (c.promotable) flags.push('promotable');
  if (c.unique) flags.push('unique');
  if (c.disabled) flags.push('disabled');
  if (!c.managed) flags.push('unmanaged');
  const lines = [`* Clone Set: ${c.id} [${c.childId}]${flagsText(flags)}:`];
  const body: string[] = [];
  if (c.unique) {
    for (const i of c.instances)
      body.push(...(i.kind === 'primitive' ? [primitiveLine(i)] : groupLines(i)));
  } else {
    const byRole = new Map<string, string[]>();
    for (const i of c.instances) {
      const plain = plainInstance(i);
      if (plain) {
        const list = byRole.get(plain.role) ?? [];
        list.push(plain.node);
        byRole.set(plain.role, list);
      } else if (i.kind === 'primitive') {
        if (i.nodes.length > 0 || i.failed) body.push(primitiveLine(i, i.historyId ?? c.childId));
      } else if (i.children.some((x) => x.nodes.length > 0)) body.push(...groupLines(i));
    }
    for (const role of ['Promoted', 'Unpromoted', 'Started']) {
      const nodes = byRole.get(role);
      if (nodes) body.push(`* ${role}: [ ${nodes.sort(compareNames).join(' ')} ]`);
    }
    if (c.stoppedOn.length > 0)
      body.push(
        `* Stopped${c.disabled ? ' (disabled)' : ''}: [ ${[...c.stoppedOn].sort(compareNames).join(' ')} ]`,
      );
  }
  return [...lines, ...body.map((l) => `  ${l}`)];
}

/** The lines of one resource (no leading indentation). */
export function resourceLines(r: StatusResource): string[] {
  if (r.kind === 'primitive') return [primitiveLine(r)];
  if (r.kind === 'group') return groupLines(r);
  return cloneLines(r);
}

function duration(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(3)}s` : `${ms}ms`;
}

/** crm_mon's description of one failed action. */
export function failedActionText(f: StatusFailedAction, timeZone?: string): string {
  const what =
    f.task === 'monitor' && f.interval === 0
      ? 'probe'
      : f.interval > 0
        ? `${f.interval % 1000 === 0 ? `${f.interval / 1000}s` : `${f.interval}ms`}-interval ${f.task}`
        : f.task;
  const reason = f.exitReason ? ` (${f.exitReason})` : '';
  let text: string;
  if (f.status === 'complete')
    text = `${f.resource} ${what} on ${f.node} returned '${f.rcText}'${reason}`;
  else
    text = `${f.resource} ${what} on ${f.node} could not be executed (${f.status}${f.exitReason ? `: ${f.exitReason}` : ''})`;
  if (f.lastRcChange !== undefined && f.lastRcChange > 0) {
    text += ` at ${formatCtime(f.lastRcChange, timeZone)}`;
    if (f.execTime !== undefined && f.execTime > 0) text += ` after ${duration(f.execTime)}`;
  }
  return text;
}

function failCountLines(counts: readonly StatusFailCount[], timeZone?: string): string[] {
  const byNode = new Map<string, StatusFailCount[]>();
  for (const c of counts) byNode.set(c.node, [...(byNode.get(c.node) ?? []), c]);
  const lines: string[] = [];
  // In the order of the status section, as crm_mon.
  for (const node of byNode.keys()) {
    lines.push(`* Node: ${node}:`);
    for (const c of byNode.get(node)!) {
      const last = c.lastFailure ? ` last-failure='${formatCtime(c.lastFailure, timeZone)}'` : '';
      lines.push(
        `  * ${c.resource}: migration-threshold=${c.migrationThreshold} fail-count=${c.failCount}${last}`,
      );
    }
  }
  return lines;
}

function countInstances(view: StatusView): string {
  const { configured, disabled, blocked } = view.resourceCounts;
  let s = `${configured} resource instance${configured === 1 ? '' : 's'} configured`;
  if (disabled > 0) s += ` (${disabled} DISABLED)`;
  if (blocked > 0) s += ` (${blocked} BLOCKED from further action due to failure)`;
  return s;
}

function indent(lines: readonly string[], by: string): string[] {
  return lines.map((l) => `${by}${l}`);
}

/**
 * Print a cluster's status as Pacemaker does: `crm_mon -1 -r -f` (style
 * crm_mon) or crm_simulate's "Current cluster status:" block (style
 * simulate, which starts after that heading).
 */
export function formatStatus(view: StatusView, options: FormatStatusOptions = {}): string {
  const tz = options.timeZone;
  const resources = view.resources.flatMap(resourceLines);
  if (options.style === 'simulate') {
    const out = [
      '  * Node List:',
      ...indent(nodeLines(view.nodes), '    '),
      '',
      '  * Full List of Resources:',
      ...indent(resources.length > 0 ? resources : ['* No resources'], '    '),
    ];
    return `${out.join('\n')}\n`;
  }
  const now = options.now ?? new Date();
  const dc = view.dc
    ? `${view.dc.name} (version ${view.dc.version ?? 'unknown'}) - partition ${view.haveQuorum ? 'with' : 'WITHOUT'} quorum`
    : 'NONE';
  const summary = [
    `* Stack: ${view.stack}`,
    `* Current DC: ${dc}`,
    `* Last updated: ${formatCtime(Math.floor(now.getTime() / 1000), tz)}`,
  ];
  const lc = view.lastChange;
  let change = `* Last change:  ${lc?.time ?? ''}`;
  if (lc?.user) change += ` by ${lc.user}`;
  if (lc?.client) change += ` via ${lc.client}`;
  if (lc?.origin) change += ` on ${lc.origin}`;
  summary.push(change);
  summary.push(
    `* ${view.nodes.length} node${view.nodes.length === 1 ? '' : 's'} configured`,
    `* ${countInstances(view)}`,
  );
  const out = ['Cluster Summary:', ...indent(summary, '  ')];
  if (view.options.maintenanceMode)
    out.push(
      '',
      '              *** Resource management is DISABLED ***',
      '  The cluster will not attempt to start, stop or recover services',
    );
  out.push('', 'Node List:', ...indent(nodeLines(view.nodes), '  '));
  out.push('', 'Full List of Resources:');
  out.push(...indent(resources.length > 0 ? resources : ['* No resources'], '  '));
  out.push('', 'Migration Summary:', ...indent(failCountLines(view.failCounts, tz), '  '));
  if (view.failedActions.length > 0)
    out.push(
      '',
      'Failed Resource Actions:',
      ...indent(
        view.failedActions.map((f) => `* ${failedActionText(f, tz)}`),
        '  ',
      ),
    );
  return `${out.join('\n')}\n`;
}

function esc(v: string | number | boolean): string {
  return escapeAttr(String(v));
}

function el(
  name: string,
  attrs: Record<string, string | number | boolean | undefined>,
  children?: string[],
  depth = 0,
): string {
  const pad = '  '.repeat(depth);
  const a = Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${esc(v!)}"`)
    .join('');
  if (!children || children.length === 0) return `${pad}<${name}${a}/>`;
  return `${pad}<${name}${a}>\n${children.join('\n')}\n${pad}</${name}>`;
}

function xmlPrimitive(r: StatusPrimitive, depth: number, nodes: readonly StatusNode[]): string {
  return el(
    'resource',
    {
      id: r.id,
      resource_agent: r.agent,
      role: r.role,
      target_role: r.disabled ? 'Stopped' : r.targetRole,
      active: r.nodes.length > 0,
      orphaned: r.orphaned,
      blocked: r.blocked,
      managed: r.managed,
      failed: r.failed,
      failure_ignored: r.failureIgnored,
      nodes_running_on: r.nodes.length,
    },
    r.nodes.map((n) =>
      el(
        'node',
        { name: n, id: nodes.find((x) => x.name === n)?.id ?? n, cached: true },
        undefined,
        depth + 1,
      ),
    ),
    depth,
  );
}

function xmlResource(r: StatusResource, depth: number, nodes: readonly StatusNode[]): string {
  if (r.kind === 'primitive') return xmlPrimitive(r, depth, nodes);
  if (r.kind === 'group')
    return el(
      'group',
      { id: r.id, number_resources: r.children.length, managed: r.managed, disabled: r.disabled },
      r.children.map((c) => xmlPrimitive(c, depth + 1, nodes)),
      depth,
    );
  return el(
    'clone',
    {
      id: r.id,
      multi_state: r.promotable,
      unique: r.unique,
      managed: r.managed,
      disabled: r.disabled,
      failed: r.instances.some((i) =>
        i.kind === 'primitive' ? i.failed : i.children.some((c) => c.failed),
      ),
      failure_ignored: false,
    },
    r.instances.map((i) => xmlResource(i, depth + 1, nodes)),
    depth,
  );
}

/** crm_mon's `--output-as xml` (the same element and attribute names, a subset of them). */
export function formatStatusXml(view: StatusView, request: string, now = new Date()): string {
  const summary = [
    el('stack', { type: view.stack }, undefined, 2),
    el(
      'current_dc',
      view.dc
        ? {
            present: true,
            version: view.dc.version ?? 'unknown',
            name: view.dc.name,
            id: view.dc.id,
            with_quorum: view.haveQuorum,
          }
        : { present: false },
      undefined,
      2,
    ),
    el('last_update', { time: formatCtime(Math.floor(now.getTime() / 1000)) }, undefined, 2),
    ...(view.lastChange?.time !== undefined
      ? [
          el(
            'last_change',
            {
              time: view.lastChange.time,
              user: view.lastChange.user ?? '',
              client: view.lastChange.client ?? '',
              origin: view.lastChange.origin ?? '',
            },
            undefined,
            2,
          ),
        ]
      : []),
    el('nodes_configured', { number: view.nodes.length }, undefined, 2),
    el(
      'resources_configured',
      {
        number: view.resourceCounts.configured,
        disabled: view.resourceCounts.disabled,
        blocked: view.resourceCounts.blocked,
      },
      undefined,
      2,
    ),
    el(
      'cluster_options',
      {
        'stonith-enabled': view.options.stonithEnabled,
        'maintenance-mode': view.options.maintenanceMode,
        'stop-all-resources': view.options.stopAllResources,
      },
      undefined,
      2,
    ),
  ];
  const nodes = [...view.nodes]
    .sort((a, b) => compareNames(a.name, b.name))
    .map((n) =>
      el(
        'node',
        {
          name: n.name,
          id: n.id,
          online: n.online,
          standby: n.standby,
          standby_onfail: n.standbyOnFail,
          maintenance: n.maintenance,
          pending: n.pending,
          unclean: n.unclean,
          shutdown: n.shutdown,
          is_dc: n.isDc,
          resources_running: n.resourcesRunning,
          type: n.kind === 'member' ? 'member' : 'remote',
          id_as_resource: n.kind === 'guest' ? n.resource : undefined,
        },
        undefined,
        2,
      ),
    );
  const history = [...new Set(view.failCounts.map((c) => c.node))].sort(compareNames).map((node) =>
    el(
      'node',
      { name: node },
      view.failCounts
        .filter((c) => c.node === node)
        .map((c) =>
          el(
            'resource_history',
            {
              id: c.resource,
              'migration-threshold': c.migrationThreshold,
              'fail-count': c.failCount,
              'last-failure': c.lastFailure ? formatCtime(c.lastFailure) : undefined,
            },
            undefined,
            3,
          ),
        ),
      2,
    ),
  );
  const failures = view.failedActions.map((f) =>
    el(
      'failure',
      {
        op_key: f.operationKey,
        node: f.node,
        exitstatus: f.rcText,
        exitreason: f.exitReason || 'none',
        exitcode: f.rc,
        call: f.callId,
        status: f.status,
        'last-rc-change':
          f.lastRcChange !== undefined
            ? new Date(f.lastRcChange * 1000)
                .toISOString()
                .replace('T', ' ')
                .replace(/\.\d+Z$/, 'Z')
            : undefined,
        queued: f.queueTime,
        exec: f.execTime,
        interval: f.interval,
        task: f.task,
      },
      undefined,
      2,
    ),
  );
  const body = [
    el('summary', {}, summary, 1),
    el('nodes', {}, nodes, 1),
    el(
      'resources',
      {},
      view.resources.map((r) => xmlResource(r, 2, view.nodes)),
      1,
    ),
    ...(history.length > 0 ? [el('node_history', {}, history, 1)] : []),
    ...(failures.length > 0 ? [el('failures', {}, failures, 1)] : []),
    el('status', { code: 0, message: 'OK' }, undefined, 1),
  ];
  return `${el('pacemaker-result', { 'api-version': '2.25', request }, body)}\n`;
}
