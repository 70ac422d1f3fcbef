import { childElements, firstChild, parseXml } from '@remora/cib';
import type { XmlElement } from '@remora/cib';
import { GraphFormatError } from './errors';

/** The kinds of action in a transition graph (Pacemaker's element names). */
export const ActionKind = {
  /** A resource operation run by an executor. */
  rscOp: 'rsc_op',
  /** An ordering point with no work (e.g. `all_stopped`, group `_running_0`). */
  pseudo: 'pseudo_event',
  /** A cluster action: `stonith`, `do_shutdown`, `clear_failcount`, `lrm_refresh`. */
  crmEvent: 'crm_event',
} as const;
export type ActionKind = (typeof ActionKind)[keyof typeof ActionKind];

/** The resource an rsc_op acts on. */
export interface GraphResource {
  readonly id: string;
  /** `long-id` when it differs (clone instances). */
  readonly longId?: string;
  readonly class: string;
  readonly provider?: string;
  readonly type: string;
}

/** One action of a transition (an element of a synapse's action_set). */
export interface GraphAction {
  readonly id: number;
  readonly kind: ActionKind;
  /** `start`, `stop`, `monitor`, `cancel`, `stonith`, ... */
  readonly operation: string;
  /** `rsc_start_0`, `rsc_monitor_10000`, ... */
  readonly operationKey: string;
  readonly onNode?: string;
  readonly onNodeUuid?: string;
  /** For actions on remote/guest nodes: the cluster node hosting the connection. */
  readonly routerNode?: string;
  readonly resource?: GraphResource;
  /** Every attribute of `<attributes>`: instance parameters and `CRM_meta_*`. */
  readonly attributes: Readonly<Record<string, string>>;
  /** CRM_meta_interval in ms (0 for one-shot operations). */
  readonly interval: number;
  /** CRM_meta_timeout in ms (undefined when the scheduler gave none). */
  readonly timeout?: number;
  /** The rc that counts as success: CRM_meta_op_target_rc, default 0. */
  readonly targetRc: number;
  /** Synapse priority (higher first). */
  readonly priority: number;
  /** Nodes this action takes down (`<downed>`: fencing, shutdown). */
  readonly downed: readonly string[];
  /** `maintenance_nodes` pseudo events: remote nodes entering (true) or leaving maintenance. */
  readonly maintenance: readonly { readonly node: string; readonly on: boolean }[];
}

/** A set of actions that may start once all of its inputs have completed. */
export interface Synapse {
  readonly id: number;
  readonly priority: number;
  readonly actions: readonly GraphAction[];
  /** Ids of the actions that must complete first. */
  readonly inputs: readonly number[];
}

/** A transition graph as `crm_simulate -G` writes it. */
export interface TransitionGraph {
  readonly transitionId: number;
  /** Maximum actions in flight at once cluster-wide (0 = no limit). */
  readonly batchLimit: number;
  /** Maximum actions per node (`migration-limit` is separate); 0 = no limit. */
  readonly clusterDelay: string;
  readonly synapses: readonly Synapse[];
  /** Every action by id. */
  readonly actions: ReadonlyMap<number, GraphAction>;
}

function requiredAttr(el: XmlElement, name: string, path: string): string {
  const v = el.attributes.get(name);
  if (v === undefined) throw new GraphFormatError(path, `<${el.name}> has no ${name}`);
  return v;
}

function intAttr(value: string | undefined, fallback: number, path: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new GraphFormatError(path, `"${value}" is not an integer`);
  return n;
}

function readAction(el: XmlElement, priority: number, path: string): GraphAction {
  if (!(Object.values(ActionKind) as string[]).includes(el.name))
    throw new GraphFormatError(path, `unknown action element <${el.name}>`);
  const kind = el.name as ActionKind;
  const id = intAttr(requiredAttr(el, 'id', path), 0, path);
  const attrsEl = firstChild(el, 'attributes');
  const attributes: Record<string, string> = {};
  if (attrsEl) for (const [k, v] of attrsEl.attributes) attributes[k] = v;
  const rsc = firstChild(el, 'primitive');
  const resource: GraphResource | undefined = rsc
    ? {
        id: requiredAttr(rsc, 'id', `${path}/primitive`),
        longId: rsc.attributes.get('long-id'),
        class: requiredAttr(rsc, 'class', `${path}/primitive`),
        provider: rsc.attributes.get('provider'),
        type: requiredAttr(rsc, 'type', `${path}/primitive`),
      }
    : undefined;
  if (kind === ActionKind.rscOp && !resource)
    throw new GraphFormatError(path, `rsc_op ${id} has no <primitive>`);
  const timeout = attributes.CRM_meta_timeout;
  const downedEl = firstChild(el, 'downed');
  const maintenanceEl = firstChild(el, 'maintenance');
  return {
    id,
    kind,
    operation: requiredAttr(el, 'operation', path),
    operationKey: el.attributes.get('operation_key') ?? requiredAttr(el, 'operation', path),
    onNode: el.attributes.get('on_node'),
    onNodeUuid: el.attributes.get('on_node_uuid'),
    routerNode: el.attributes.get('router_node'),
    resource,
    attributes,
    interval: intAttr(attributes.CRM_meta_interval, 0, path),
    timeout: timeout === undefined ? undefined : intAttr(timeout, 0, path),
    targetRc: intAttr(attributes.CRM_meta_op_target_rc, 0, path),
    priority,
    downed: downedEl
      ? childElements(downedEl, 'node').map((n) => requiredAttr(n, 'id', `${path}/downed`))
      : [],
    maintenance: maintenanceEl
      ? childElements(maintenanceEl, 'node').map((n) => ({
          node: requiredAttr(n, 'id', `${path}/maintenance`),
          on: n.attributes.get('node_in_maintenance') === '1',
        }))
      : [],
  };
}

/**
 * Parse a transition graph (`<transition_graph>` with synapses, action sets
 * and inputs, as Pacemaker's scheduler and `crm_simulate -G` write it).
 * Throws GraphFormatError naming the element that is wrong.
 */
export function parseTransitionGraph(xml: string, source = 'graph'): TransitionGraph {
  const doc = parseXml(xml, { source });
  const root = doc.root;
  if (root.name !== 'transition_graph')
    throw new GraphFormatError(source, `root element is <${root.name}>, not <transition_graph>`);
  const actions = new Map<number, GraphAction>();
  const synapses: Synapse[] = [];
  for (const s of childElements(root, 'synapse')) {
    const path = `${source}/synapse[@id=${s.attributes.get('id') ?? '?'}]`;
    const priority = intAttr(s.attributes.get('priority'), 0, path);
    const set = firstChild(s, 'action_set');
    if (!set) throw new GraphFormatError(path, 'no <action_set>');
    const list = childElements(set).map((a) => readAction(a, priority, `${path}/${a.name}`));
    for (const a of list) actions.set(a.id, a);
    const inputs: number[] = [];
    const inputsEl = firstChild(s, 'inputs');
    for (const t of inputsEl ? childElements(inputsEl, 'trigger') : [])
      for (const a of childElements(t))
        inputs.push(intAttr(requiredAttr(a, 'id', `${path}/inputs`), 0, `${path}/inputs`));
    synapses.push({
      id: intAttr(requiredAttr(s, 'id', path), 0, path),
      priority,
      actions: list,
      inputs,
    });
  }
  for (const s of synapses)
    for (const i of s.inputs)
      if (!actions.has(i))
        throw new GraphFormatError(
          `${source}/synapse[@id=${s.id}]/inputs`,
          `input action ${i} is not in the graph`,
        );
  return {
    transitionId: intAttr(root.attributes.get('transition_id'), 0, source),
    batchLimit: intAttr(root.attributes.get('batch-limit'), 0, source),
    clusterDelay: root.attributes.get('cluster-delay') ?? '60s',
    synapses,
    actions,
  };
}
