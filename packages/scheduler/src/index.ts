/**
 * @remora/scheduler — placement and transition graphs from a CIB, making
 * the decisions Pacemaker 2.1's scheduler makes.
 *
 * ```ts
 * import { schedule } from '@remora/scheduler';
 * const result = schedule(cibXml);
 * for (const line of result.summary) console.log(line.text);
 * ```
 */
import type { Cib, XmlDocument } from '@remora/cib';
import { mergeNvSets, parseInterval, parseXml, readCib } from '@remora/cib';
import type { GraphContext } from './graph';
import { actionAttributes, graphNames, locksToNode } from './graph';
import type { ActionSet } from './actions';
import { createActions, guestProbeOrderings } from './actions';
import { applyNodeCriteria, assignAll, createInternalConstraints } from './assign';
import type { Action, Rsc, SNode } from './model';
import { cloneOf, displayName } from './model';
import type { SummaryLine } from './output';
import { actionLine, executedActions, graphInput, transitionSummary } from './output';
import { buildStatusView } from './status/build';
import { formatStatus } from './status/format';
import type { ExecutedAction } from './status/inject';
import { injectTransition } from './status/inject';
import type { StatusView } from './status/view';
import type { RemoteNodeLink } from './status/revise';
import { revisedNodeStates } from './status/revise';
import type { FailedOp, WorkingSet } from './unpack';
import { unpack, unpackConstraints } from './unpack';
import { nodeStateViews, scheduleTime } from './nodes';

export type { FailedOp, SummaryLine };
export type {
  StatusClone,
  StatusFailCount,
  StatusFailedAction,
  StatusGroup,
  StatusNode,
  StatusPrimitive,
  StatusResource,
  StatusRole,
  StatusView,
} from './status/view';
export { buildStatusView, formatStatus, injectTransition };
export type { FormatStatusOptions, StatusStyle } from './status/format';
export type { ExecutedAction, InjectOptions } from './status/inject';
export { transitionGraphXml } from './graph';
export { parametersDigest } from './digest';
export {
  compareNames,
  failedActionText,
  formatCtime,
  formatStatusXml,
  nodeStateText,
  resourceLines,
} from './status/format';

/** One action of a transition graph. */
export interface GraphAction {
  readonly id: number;
  /** `rsc_op` (runs an agent), `pseudo` (ordering point), `cluster` (fencing, shutdown, clear fail count). */
  readonly type: 'rsc_op' | 'pseudo' | 'cluster';
  readonly task: string;
  readonly resource?: string;
  /** The agent, `class:provider:type`, for resource operations. */
  readonly agent?: string;
  readonly node?: string;
  /** For actions on a remote or guest node: the cluster node its connection runs on. */
  readonly routerNode?: string;
  readonly interval: number;
  /** Fencing: reboot, off or on. */
  readonly fenceAction?: string;
  /** The rc that counts as success (7 for probes). */
  readonly expectedRc: number;
  /** Ids of actions that must complete first. */
  readonly inputs: readonly number[];
  /** The line crm_simulate would print when executing it. */
  readonly text: string;
  /** The operation key (`rsc_monitor_10000`, `stonith-node1-reboot`, `g_start_0`). */
  readonly key: string;
  /** Instance parameters and `CRM_meta_*`, as the transition graph gives them to the executor. */
  readonly attributes: Readonly<Record<string, string>>;
  /** The node's id (uuid) when there is a node. */
  readonly nodeId?: string;
  /**
   * The name the resource's history on the node is found under first, as
   * crm_simulate records results (an anonymous clone instance's name in the
   * history, or its configured id: the name `text` shows).
   */
  readonly historyId?: string;
  /**
   * The resource's id in the graph's `<primitive id>` (an anonymous clone
   * instance's configured id), which new history entries take.
   */
  readonly primitiveId?: string;
  /** The graph's `long-id` (the instance's id, or the name its history has) when it differs from `primitiveId`. */
  readonly longId?: string;
  /**
   * shutdown-lock: when the resource's lock to the node started (seconds
   * since the epoch), on actions that keep it locked there, so the executor
   * records the lock with the result.
   */
  readonly shutdownLock?: number;
}

export interface Schedule {
  readonly summary: readonly SummaryLine[];
  /** Required, runnable actions, in a valid execution order. */
  readonly actions: readonly GraphAction[];
  /** The status before the transition, as `remora status` / crm_mon read the CIB. */
  readonly current: StatusView;
  /** The status once every action succeeded (the CIB with their results recorded, read the same way). */
  readonly revised: StatusView;
  readonly failedActions: readonly FailedOp[];
  /** Node scores per resource (for "why is X not running?"): resource -> node -> score. */
  readonly scores: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly warnings: readonly string[];
}

export interface ScheduleOptions {
  /** "Now" for rules and failure timeouts (default: the CIB's execution-date, else the clock). */
  readonly now?: Date;
}

function toCib(input: string | XmlDocument | Cib): Cib {
  if (typeof input === 'string') return readCib(parseXml(input));
  if ('root' in input) return readCib(input);
  return input;
}

/**
 * A GraphAction over the scheduler's action: the line and the attributes are
 * computed when read (a large transition has hundreds of thousands of actions
 * and most readers want neither); JSON has every field.
 */
class ScheduledAction implements GraphAction {
  readonly type: GraphAction['type'];
  readonly task: string;
  readonly resource?: string;
  readonly agent?: string;
  readonly node?: string;
  readonly routerNode?: string;
  readonly interval: number;
  readonly fenceAction?: string;
  readonly expectedRc: number;
  readonly key: string;
  readonly nodeId?: string;
  readonly #action: Action;
  readonly #graph: GraphContext;

  constructor(
    a: Action,
    readonly id: number,
    readonly inputs: readonly number[],
    graph: GraphContext,
  ) {
    this.#action = a;
    this.#graph = graph;
    const router =
      a.node && a.node.kind !== 'member'
        ? (a.node.connection?.assignedTo ?? a.node.connection?.runningOn[0])
        : undefined;
    this.type = a.pseudo
      ? 'pseudo'
      : a.rsc && !a.clearFailcount && !a.historyDelete
        ? 'rsc_op'
        : 'cluster';
    this.task = a.task;
    this.resource = a.rsc?.id;
    this.agent = a.rsc && a.rsc.kind === 'primitive' ? a.rsc.agent : undefined;
    this.node = a.node?.name;
    this.routerNode = router?.name;
    this.interval = a.interval;
    this.fenceAction = a.fenceAction;
    this.expectedRc = a.expectedRc ?? 0;
    this.key = a.key;
    this.nodeId = a.node?.id;
  }

  get text(): string {
    return actionLine(this.#action);
  }

  get historyId(): string | undefined {
    const r = this.#action.rsc;
    return r && r.kind === 'primitive' ? displayName(r) : undefined;
  }

  get primitiveId(): string | undefined {
    const r = this.#action.rsc;
    return r && r.kind === 'primitive' ? graphNames(r).id : undefined;
  }

  get longId(): string | undefined {
    const r = this.#action.rsc;
    return r && r.kind === 'primitive' ? graphNames(r).longId : undefined;
  }

  get shutdownLock(): number | undefined {
    return locksToNode(this.#action) ? this.#action.rsc?.lockTime : undefined;
  }

  get attributes(): Readonly<Record<string, string>> {
    return actionAttributes(this.#action, this.#graph);
  }

  toJSON(): Record<string, unknown> {
    return {
      id: this.id,
      type: this.type,
      task: this.task,
      resource: this.resource,
      agent: this.agent,
      node: this.node,
      routerNode: this.routerNode,
      interval: this.interval,
      fenceAction: this.fenceAction,
      expectedRc: this.expectedRc,
      inputs: this.inputs,
      text: this.text,
      key: this.key,
      attributes: this.attributes,
      nodeId: this.nodeId,
      historyId: this.historyId,
      primitiveId: this.primitiveId,
      longId: this.longId,
      shutdownLock: this.shutdownLock,
    };
  }
}

/**
 * Each remote and guest node's connection (and container) by the ids their
 * histories use, when neither is a clone instance (whose histories may use
 * other ids): what the revised node states follow.
 */
function remoteNodeLinks(ws: WorkingSet): RemoteNodeLink[] {
  const plain = (r: Rsc | undefined): r is Rsc => r !== undefined && cloneOf(r) === undefined;
  const links: RemoteNodeLink[] = [];
  for (const n of ws.nodes) {
    if (n.kind === 'member') continue;
    const conn = n.connection;
    if (!plain(conn)) continue;
    if (n.kind === 'guest') {
      if (!plain(conn.container)) continue;
      links.push({ node: n.name, connection: conn.id, container: conn.container.id });
    } else links.push({ node: n.name, connection: conn.id });
  }
  return links;
}

/**
 * The warning for actions that can never run because they wait for each other
 * (strongly connected through their inputs), naming those and counting what
 * waits on them. Inputs always come earlier in a valid order, so only actions
 * from the first one with a later input on can be involved.
 */
function orderingLoopWarning(actions: readonly GraphAction[]): string | undefined {
  const start = actions.findIndex((a) => a.inputs.some((i) => i >= a.id));
  if (start < 0) return undefined;
  // Tarjan's strongly connected components over the tail, without recursion
  const index = new Map<number, number>();
  const low = new Map<number, number>();
  const stack: number[] = [];
  const onStack = new Set<number>();
  const inLoop = new Set<number>();
  let counter = 0;
  for (let root = start; root < actions.length; root++) {
    if (index.has(root)) continue;
    const work: Array<[number, number]> = [[root, 0]];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const top = work[work.length - 1] as [number, number];
      const [v, k] = top;
      const inputs = (actions[v] as GraphAction).inputs;
      if (k < inputs.length) {
        top[1] = k + 1;
        const w = inputs[k] as number;
        if (w < start) continue;
        if (!index.has(w)) {
          index.set(w, counter);
          low.set(w, counter++);
          stack.push(w);
          onStack.add(w);
          work.push([w, 0]);
        } else if (onStack.has(w))
          low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent[0], Math.min(low.get(parent[0]) as number, low.get(v) as number));
      if (low.get(v) !== index.get(v)) continue;
      const component: number[] = [];
      let w: number;
      do {
        w = stack.pop() as number;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || inputs.includes(v)) for (const c of component) inLoop.add(c);
    }
  }
  const loop = [...inLoop].sort((a, b) => a - b).map((i) => (actions[i] as GraphAction).text);
  const waiting = actions.length - start - inLoop.size;
  return (
    `ordering loop: these actions wait for each other and would never run: ${loop.join('; ')}` +
    (waiting > 0 ? ` (and ${waiting} action${waiting === 1 ? '' : 's'} waiting for them)` : '')
  );
}

/** Compute the transition for a CIB: where everything should run and the actions to get there. */
export function schedule(
  input: string | XmlDocument | Cib,
  options: ScheduleOptions = {},
): Schedule {
  const cib = toCib(input);
  const now = scheduleTime(cib, options.now);
  const ws = unpack(cib, now, { constraints: false });
  // the node states status lists show: before tickets and scheduling change them
  const before = nodeStateViews(ws);
  unpackConstraints(ws);
  applyNodeCriteria(ws);
  createInternalConstraints(ws);
  assignAll(ws);
  // node scores are computed on first use: large clusters have resources x nodes of them
  let scores: Record<string, Record<string, number>> | undefined;
  const scoresOf = (): Record<string, Record<string, number>> => {
    if (scores) return scores;
    scores = {};
    for (const r of ws.byId.values()) {
      if (r.kind !== 'primitive') continue;
      const s: Record<string, number> = {};
      for (const [i, w] of r.allowed.entries(ws.nodes.length)) s[(ws.nodes[i] as SNode).name] = w;
      scores[r.id] = s;
    }
    return scores;
  };
  const as: ActionSet = createActions(ws);
  const summary = transitionSummary(ws, as);
  let neverRun = new Set<Action>();
  let executed = executedActions(as, neverRun);
  // orderings after a guest's container that matter only when it never runs
  while (guestProbeOrderings(ws, as, neverRun)) {
    neverRun = new Set<Action>();
    executed = executedActions(as, neverRun);
  }
  const ids = new Map<Action, number>(executed.map((a, i) => [a, i]));
  const d = mergeNvSets(cib.opDefaults).timeout;
  const opDefaultTimeout = d ? parseInterval(d, '/cib/configuration/op_defaults/timeout') : 20_000;
  const graph: GraphContext = { opDefaultTimeout, nodes: ws.nodes, notifyData: new Map() };
  const actions: GraphAction[] = executed.map((a, i) => {
    const inputs: number[] = [];
    for (const o of a.before) {
      if (!graphInput(o)) continue;
      const id = ids.get(o.first);
      if (id !== undefined) inputs.push(id);
    }
    return new ScheduledAction(a, i, inputs, graph);
  });
  const loop = orderingLoopWarning(actions);
  if (loop) ws.warnings.push(loop);
  const result = {
    summary,
    actions,
    failedActions: ws.failedOps,
    warnings: ws.warnings,
  };
  Object.defineProperty(result, 'scores', { get: scoresOf, enumerable: true });
  // the status lists are read on first use too (a controller only wants the actions)
  const lazy = <T>(name: string, make: () => T): void => {
    let value: T | undefined;
    Object.defineProperty(result, name, { get: () => (value ??= make()), enumerable: true });
  };
  lazy('current', () => buildStatusView(cib, { now, nodeStates: before }));
  const links = remoteNodeLinks(ws);
  lazy('revised', () => {
    const nodeStates = revisedNodeStates(cib, before, actions, links);
    // with the node states known, probes finding a resource outside clones stopped add nothing the lists show
    const omitStoppedProbe = nodeStates
      ? (a: ExecutedAction): boolean => {
          const r = a.resource === undefined ? undefined : ws.byId.get(a.resource);
          return r !== undefined && r.kind === 'primitive' && cloneOf(r) === undefined;
        }
      : undefined;
    return buildStatusView(injectTransition(cib, actions, { omitStoppedProbe }), {
      now,
      nodeStates,
    });
  });
  return result as unknown as Schedule;
}

/** The text crm_simulate prints for a CIB (`-S` adds the executed transition and revised status). */
export function formatSimulation(
  result: Schedule,
  options: { simulate?: boolean; scores?: boolean } = {},
): string {
  const status = (view: StatusView): string[] =>
    formatStatus(view, { style: 'simulate' }).replace(/\n$/, '').split('\n');
  const lines: string[] = ['Current cluster status:', ...status(result.current), ''];
  if (options.scores) {
    lines.push('Allocation scores:');
    for (const [rsc, nodes] of Object.entries(result.scores))
      for (const [node, score] of Object.entries(nodes))
        lines.push(
          `pcmk__native_allocate: ${rsc} allocation score on ${node}: ${formatScoreText(score)}`,
        );
    lines.push('');
  }
  lines.push('Transition Summary:');
  for (const s of result.summary) lines.push(`  * ${s.text}`);
  if (options.simulate) {
    lines.push('', 'Executing Cluster Transition:');
    // as crm_simulate runs the graph: an action runs once all its inputs have, so
    // actions in an ordering loop, and what waits for them, never do
    const ran = new Set<number>();
    for (const a of result.actions) {
      if (!a.inputs.every((i) => ran.has(i))) continue;
      ran.add(a.id);
      lines.push(`  * ${a.text}`);
    }
    lines.push('', 'Revised Cluster Status:', ...status(result.revised));
  }
  return `${lines.join('\n')}\n`;
}

function formatScoreText(score: number): string {
  if (score >= 1_000_000) return 'INFINITY';
  if (score <= -1_000_000) return '-INFINITY';
  return String(score);
}
