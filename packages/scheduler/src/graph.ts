/**
 * A schedule as a Pacemaker transition graph (`<transition_graph>`, the
 * format `crm_simulate -G` and the DC's scheduler write), so controllers
 * built for Pacemaker's graphs can run remora's.
 */
import { escapeAttr as esc } from '@remora/cib';
import type { Action, Rsc } from './model';
import { cloneOf } from './model';
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

/** Parameters and `CRM_meta_*` of an action, as the graph carries them. */
export function actionAttributes(a: Action, opDefaultTimeout: number): Record<string, string> {
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
  if (!rsc || rsc.kind !== 'primitive' || a.pseudo) return attrs;
  Object.assign(attrs, rsc.params);
  const name = a.cancel ? (a.cancelTask ?? 'monitor') : a.task;
  const op = rsc.ops.find((o) => o.name === name && o.interval === a.interval);
  if (op && !a.cancel) Object.assign(attrs, op.params);
  attrs.CRM_meta_name = name;
  attrs.CRM_meta_interval = String(a.interval);
  attrs.CRM_meta_timeout = String(op?.timeout ?? opDefaultTimeout);
  if (a.expectedRc !== undefined) attrs.CRM_meta_op_target_rc = String(a.expectedRc);
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
  const node = a.node
    ? ` on_node="${esc(a.node)}" on_node_uuid="${esc(a.nodeId ?? a.node)}"${
        a.routerNode ? ` router_node="${esc(a.routerNode)}"` : ''
      }`
    : '';
  const parts = [
    `<${kind} id="${a.id}" operation="${esc(operation)}" operation_key="${esc(a.key)}"${node}>`,
  ];
  if (a.resource && a.agent) {
    const [cls, provider, type] =
      a.agent.split(':').length === 3
        ? a.agent.split(':')
        : [a.agent.split(':')[0], undefined, a.agent.split(':')[1]];
    const id = a.primitiveId ?? a.resource;
    const longId = a.longId !== undefined && a.longId !== id ? ` long-id="${esc(a.longId)}"` : '';
    parts.push(
      `<primitive id="${esc(id)}"${longId} class="${esc(cls ?? '')}"${provider ? ` provider="${esc(provider)}"` : ''} type="${esc(type ?? '')}"/>`,
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
