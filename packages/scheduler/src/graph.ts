/**
 * A schedule as a Pacemaker transition graph (`<transition_graph>`, the
 * format `crm_simulate -G` and the DC's scheduler write), so controllers
 * built for Pacemaker's graphs can run remora's.
 */
import { escapeAttr as esc } from '@remora/cib';
import type { Action, Rsc, SNode } from './model';
import { Role, cloneOf, instanceOf, primitivesOf } from './model';
import { ABSENT } from './scores';
import type { GraphAction, Schedule } from './index';

/**
 * A resource's names in a transition graph (Pacemaker's add_resource_details):
 * an anonymous clone instance goes by its configured id, with its own id
 * (or the name its history has) as `long-id`; an orphan instance found in
 * the history under another name goes by that name; anything else by its id.
 */
export function graphNames(rsc: Rsc): { id: string; longId?: string } {
  if (rsc.orphan && rsc.historyName !== undefined) return { id: rsc.historyName, longId: rsc.id };
  const clone = cloneOf(rsc);
  if (clone && clone.clone?.unique === false && rsc.baseId !== undefined) {
    const history = rsc.historyName;
    return {
      id: rsc.baseId,
      longId: history !== undefined && history !== rsc.baseId ? history : rsc.id,
    };
  }
  return { id: rsc.id };
}

/** What attributes of actions need beyond the action: the cluster's nodes, and notification data computed once per clone. */
export interface GraphContext {
  readonly opDefaultTimeout: number;
  readonly nodes: readonly SNode[];
  /** Notification lists per clone (filled on first use). */
  readonly notifyData: Map<Rsc, Readonly<Record<string, string>>>;
}

/** Natural, case-insensitive order (node2 before node10), as Pacemaker sorts node names. */
function compareNodeNames(a: string, b: string): number {
  return (
    a.localeCompare(b, 'en', { numeric: true, sensitivity: 'base' }) || (a < b ? -1 : a > b ? 1 : 0)
  );
}

/** `CRM_meta_*` a clone gives its actions and its instances' (Pacemaker's clone add_graph_meta). */
function cloneMeta(clone: Rsc, attrs: Record<string, string>): void {
  const c = clone.clone;
  if (!c) return;
  attrs.CRM_meta_globally_unique = String(c.unique);
  attrs.CRM_meta_notify = String(c.notify);
  attrs.CRM_meta_clone_max = String(c.max);
  attrs.CRM_meta_clone_node_max = String(c.nodeMax);
  if (c.promotable && clone.promotable) {
    attrs.CRM_meta_promoted_max = String(clone.promotable.promotedMax);
    attrs.CRM_meta_promoted_node_max = String(clone.promotable.promotedNodeMax);
    // the deprecated names, still given to agents
    attrs.CRM_meta_master_max = String(clone.promotable.promotedMax);
    attrs.CRM_meta_master_node_max = String(clone.promotable.promotedNodeMax);
  }
}

/** The clone instance number of a resource in a clone (`db:2` -> 2). */
function instanceNumber(rsc: Rsc): string | undefined {
  const inst = instanceOf(rsc);
  const m = inst ? /:(\d+)$/.exec(inst.id) : null;
  return m ? m[1] : undefined;
}

const NOTIFIED_TASKS = new Set(['start', 'stop', 'promote', 'demote']);

interface NotifyEntry {
  readonly rsc: Rsc;
  readonly node?: SNode;
}

/**
 * Space-separated instance ids and node names of notification entries, as
 * Pacemaker lists them: by instance id then node id, one entry per
 * instance, " " when empty; entries without a node are left out of lists
 * with node names.
 */
function notifyLists(entries: NotifyEntry[], withNodes: boolean): [string, string] {
  const sorted = entries
    .filter((e) => !withNodes || e.node !== undefined)
    .sort((a, b) => {
      if (a.rsc.id !== b.rsc.id) return a.rsc.id < b.rsc.id ? -1 : 1;
      const x = a.node?.id ?? '';
      const y = b.node?.id ?? '';
      return x < y ? -1 : x > y ? 1 : 0;
    });
  const ids: string[] = [];
  const names: string[] = [];
  let last: string | undefined;
  for (const e of sorted) {
    if (e.rsc.id === last) continue;
    last = e.rsc.id;
    ids.push(e.rsc.id);
    if (e.node) names.push(e.node.name);
  }
  return [ids.join(' ') || ' ', names.join(' ') || ' '];
}

/**
 * The notification variables of a clone (Pacemaker's collect_resource_data
 * and add_notif_keys), given to its instances' notify actions and to their
 * required start, stop, promote and demote actions: which instances are
 * active, inactive, promoted and unpromoted now, which start, stop, promote
 * and demote (required and runnable, or stops on unclean nodes), the nodes
 * the clone may run on and every node.
 */
function notifyData(clone: Rsc, ctx: GraphContext): Readonly<Record<string, string>> {
  const cached = ctx.notifyData.get(clone);
  if (cached) return cached;
  const lists: Record<string, NotifyEntry[]> = {
    active: [],
    inactive: [],
    promoted: [],
    unpromoted: [],
    start: [],
    stop: [],
    promote: [],
    demote: [],
  };
  for (const p of primitivesOf(clone)) {
    const entry: NotifyEntry = { rsc: p, node: p.runningOn[0] };
    if (p.role === Role.Stopped) lists.inactive!.push(entry);
    else if (p.role !== Role.Unknown) lists.active!.push(entry);
    if (p.role === Role.Unpromoted) lists.unpromoted!.push(entry);
    else if (p.role === Role.Promoted) lists.promoted!.push(entry);
    for (const a of p.actions) {
      if (a.optional || !a.node || !NOTIFIED_TASKS.has(a.task)) continue;
      if (!a.runnable && !(a.task === 'stop' && a.node.unclean)) continue;
      lists[a.task]!.push({ rsc: p, node: a.node });
    }
  }
  const out: Record<string, string> = {};
  const both = (name: string, key: string): void => {
    const [ids, nodes] = notifyLists(lists[name]!, true);
    out[`CRM_meta_notify_${key}_resource`] = ids;
    out[`CRM_meta_notify_${key}_uname`] = nodes;
  };
  both('stop', 'stop');
  both('start', 'start');
  both('demote', 'demote');
  both('promote', 'promote');
  both('active', 'active');
  both('unpromoted', 'unpromoted');
  both('unpromoted', 'slave');
  both('promoted', 'promoted');
  both('promoted', 'master');
  out.CRM_meta_notify_inactive_resource = notifyLists(lists.inactive!, false)[0];
  const available = ctx.nodes
    .filter(
      (n) =>
        clone.allowed.get(n.index) !== ABSENT &&
        // with exclusive discovery, only the nodes a constraint names
        (!clone.exclusiveDiscover || clone.discovery.get(n.index) === 'exclusive'),
    )
    .map((n) => n.name)
    .sort(compareNodeNames);
  out.CRM_meta_notify_available_uname = available.join(' ') || ' ';
  const all = [...ctx.nodes].sort((a, b) => compareNodeNames(a.name, b.name));
  out.CRM_meta_notify_all_uname = all.map((n) => n.name).join(' ') || ' ';
  if (clone.meta['container-attribute-target'] === 'host')
    out.CRM_meta_notify_all_hosts =
      all
        .map((n) => {
          const host = n.kind === 'guest' ? n.connection?.container?.runningOn[0] : undefined;
          return (host ?? n).name;
        })
        .join(' ') || ' ';
  ctx.notifyData.set(clone, out);
  return out;
}

/** Notification pseudo action keys: `clone_post_notify_running_0` (key type post, key operation running). */
const NOTIFY_KEY = /_(pre|post|confirmed-pre|confirmed-post)_notify_([a-z_-]+)_0$/;

/** The operation a notification key's operation stands for (a post-notification is keyed by the completion). */
const NOTIFIED_OPERATION: Readonly<Record<string, string>> = {
  running: 'start',
  stopped: 'stop',
  promoted: 'promote',
  demoted: 'demote',
  stonith: 'stop',
};

/**
 * The notification meta of a notify action or notification pseudo action:
 * its type (pre or post) and the operation notified, and the key's type and
 * operation (`confirmed-post` and `running` for the confirmation after the
 * clone's instances started).
 */
function notifyMeta(a: Action, attrs: Record<string, string>): boolean {
  if (a.task !== 'notify' && a.task !== 'notified') return false;
  const m = NOTIFY_KEY.exec(a.key);
  if (!m) return false;
  const keyType = m[1] as string;
  const notified = m[2] as string;
  const type = keyType.replace('confirmed-', '');
  const operation = NOTIFIED_OPERATION[notified] ?? notified;
  let keyOperation = notified;
  if (!a.pseudo) {
    // an instance's notification is keyed by the operation; its key operation is its clone notification's
    const sources = notifySources(a);
    const source = sources.fencing ?? sources.regular;
    const pm = source ? NOTIFY_KEY.exec(source.key) : null;
    if (pm) keyOperation = pm[2] as string;
  }
  attrs.CRM_meta_notify_type = type;
  attrs.CRM_meta_notify_operation = operation;
  attrs.CRM_meta_notify_key_type = keyType;
  attrs.CRM_meta_notify_key_operation = keyOperation;
  return true;
}

/**
 * The notification pseudo actions an instance's notify action answers: the
 * clone's (regular) and, for a stop implied by fencing, the fenced
 * instance's notification after the fencing (which made it first).
 */
function notifySources(a: Action): { regular?: Action; fencing?: Action } {
  const out: { regular?: Action; fencing?: Action } = {};
  for (const o of a.before) {
    const m = o.first.pseudo ? NOTIFY_KEY.exec(o.first.key) : null;
    if (!m) continue;
    if (m[2] === 'stonith') out.fencing ??= o.first;
    else out.regular ??= o.first;
  }
  return out;
}

/** Whether an action keeps its resource locked to the node (shutdown-lock): on the lock node, and only stops while it shuts down. */
export function locksToNode(a: Action): boolean {
  const rsc = a.rsc;
  if (!rsc || !a.node || rsc.lockNode !== a.node || rsc.lockTime === undefined) return false;
  return !(a.node.shutdown && a.task !== 'stop');
}

/** Parameters and `CRM_meta_*` of an action, as the graph carries them. */
export function actionAttributes(a: Action, ctx: GraphContext): Record<string, string> {
  const attrs: Record<string, string> = {};
  const rsc: Rsc | undefined = a.rsc;
  if (a.node) {
    attrs.CRM_meta_on_node = a.node.name;
    attrs.CRM_meta_on_node_uuid = a.node.id;
  }
  if (a.task === 'stonith') {
    attrs.CRM_meta_stonith_action = a.fenceAction ?? 'reboot';
    return attrs;
  }
  const clone = rsc ? (rsc.kind === 'clone' ? rsc : cloneOf(rsc)) : undefined;
  if (clone) cloneMeta(clone, attrs);
  const notifying = clone?.clone?.notify === true;
  if (rsc && notifyMeta(a, attrs)) {
    if (a.pseudo) attrs.CRM_meta_timeout = String(ctx.opDefaultTimeout);
    else if (clone) {
      // after fencing, the fenced instance's stop is all it is told (and it was made first)
      const sources = notifySources(a);
      const fenced = sources.fencing;
      if (fenced?.rsc) {
        const fence = fenced.before.find((o) => o.first.task === 'stonith')?.first;
        attrs.CRM_meta_notify_stop_resource = fenced.rsc.id;
        attrs.CRM_meta_notify_stop_uname = fence?.node?.name ?? ' ';
      }
      if (!fenced || sources.regular)
        for (const [k, v] of Object.entries(notifyData(clone, ctx))) attrs[k] ??= v;
    }
  }
  const n = rsc && rsc.kind === 'primitive' ? instanceNumber(rsc) : undefined;
  if (n !== undefined) attrs.CRM_meta_clone = n;
  // the instances' required starts, stops, promotions and demotions (implied stops too) carry the lists
  if (
    notifying &&
    clone &&
    rsc?.kind === 'primitive' &&
    (a.node !== undefined || a.pseudo) &&
    !a.optional &&
    NOTIFIED_TASKS.has(a.task)
  )
    Object.assign(attrs, notifyData(clone, ctx));
  if (!rsc || rsc.kind !== 'primitive' || a.pseudo) {
    if (clone && a.pseudo) {
      // a clone instance's own pseudo actions (notifications after fencing) carry its parameters
      if (rsc?.kind === 'primitive') Object.assign(attrs, rsc.params);
      attrs.CRM_meta_timeout ??= String(ctx.opDefaultTimeout);
    }
    return attrs;
  }
  Object.assign(attrs, rsc.params);
  const name = a.cancel ? (a.cancelTask ?? 'monitor') : a.task;
  const op = rsc.ops.find((o) => o.name === name && o.interval === a.interval);
  if (op && !a.cancel) Object.assign(attrs, op.params);
  if (a.task !== 'notify') {
    attrs.CRM_meta_name = name;
    attrs.CRM_meta_interval = String(a.interval);
  }
  attrs.CRM_meta_timeout = String(op?.timeout ?? ctx.opDefaultTimeout);
  if (a.expectedRc !== undefined && a.task !== 'notify')
    attrs.CRM_meta_op_target_rc = String(a.expectedRc);
  if (a.task === 'migrate_to' || a.task === 'migrate_from') {
    const m = rsc.migration;
    if (m) {
      attrs.CRM_meta_migrate_source = m.to?.node?.name ?? rsc.partialSource?.name ?? '';
      attrs.CRM_meta_migrate_target = m.from.node?.name ?? '';
    }
  }
  return attrs;
}

function attrsText(attrs: Readonly<Record<string, string>>): string {
  return Object.keys(attrs)
    .sort()
    .map((k) => ` ${k}="${esc(attrs[k] as string)}"`)
    .join('');
}

function actionXml(a: GraphAction): string {
  const kind = a.type === 'rsc_op' ? 'rsc_op' : a.type === 'pseudo' ? 'pseudo_event' : 'crm_event';
  const operation = a.task === 'clear_failcount' ? 'clear_failcount' : a.task;
  // pseudo events carry no node, except (guest) fencing
  const node =
    a.node && (a.type !== 'pseudo' || a.task === 'stonith')
      ? ` on_node="${esc(a.node)}" on_node_uuid="${esc(a.nodeId ?? a.node)}"${
          a.routerNode ? ` router_node="${esc(a.routerNode)}"` : ''
        }`
      : '';
  const lock = a.shutdownLock !== undefined ? ` shutdown-lock="${a.shutdownLock}"` : '';
  const parts = [
    `<${kind} id="${a.id}" operation="${esc(operation)}" operation_key="${esc(a.key)}"${node}${lock}>`,
  ];
  if (a.resource && a.agent && a.type !== 'pseudo') {
    const [cls, provider, type] =
      a.agent.split(':').length === 3
        ? a.agent.split(':')
        : [a.agent.split(':')[0], undefined, a.agent.split(':')[1]];
    // The instance's own id (@remora/controller records results and keys recurring operations
    // by it); Pacemaker names an anonymous instance by its configured id (GraphAction.primitiveId)
    // with this one as long-id.
    parts.push(
      `<primitive id="${esc(a.resource)}" class="${esc(cls ?? '')}"${provider ? ` provider="${esc(provider)}"` : ''} type="${esc(type ?? '')}"/>`,
    );
  }
  parts.push(`<attributes${attrsText(a.attributes)}/>`);
  if ((a.task === 'stonith' || a.task === 'do_shutdown') && a.node)
    parts.push(`<downed><node id="${esc(a.nodeId ?? a.node)}"/></downed>`);
  parts.push(`</${kind}>`);
  return parts.join('');
}

/** The schedule's required actions as `<transition_graph>` XML: one synapse per action, inputs from its orderings. */
export function transitionGraphXml(
  result: Schedule,
  options: { transitionId?: number; batchLimit?: number; clusterDelay?: string } = {},
): string {
  const lines = [
    `<transition_graph cluster-delay="${esc(options.clusterDelay ?? '60s')}" stonith-timeout="60s" failed-stop-offset="INFINITY" failed-start-offset="INFINITY" transition_id="${options.transitionId ?? 0}" batch-limit="${options.batchLimit ?? 0}">`,
  ];
  const byId = new Map(result.actions.map((a) => [a.id, a]));
  for (const a of result.actions) {
    lines.push(`  <synapse id="${a.id}">`);
    lines.push(`    <action_set>${actionXml(a)}</action_set>`);
    if (a.inputs.length === 0) lines.push('    <inputs/>');
    else {
      lines.push('    <inputs>');
      for (const i of a.inputs) {
        const input = byId.get(i);
        if (!input) continue;
        const kind =
          input.type === 'rsc_op'
            ? 'rsc_op'
            : input.type === 'pseudo'
              ? 'pseudo_event'
              : 'crm_event';
        lines.push(
          `      <trigger><${kind} id="${i}" operation="${esc(input.task)}" operation_key="${esc(input.key)}"/></trigger>`,
        );
      }
      lines.push('    </inputs>');
    }
    lines.push('  </synapse>');
  }
  lines.push('</transition_graph>');
  return `${lines.join('\n')}\n`;
}
