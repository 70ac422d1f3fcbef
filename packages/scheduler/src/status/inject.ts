import type { Cib, NodeState, OperationRecord, ResourceHistoryRecord } from '@remora/cib';

/** What the revised status needs to know of an executed action (a subset of GraphAction). */
export interface ExecutedAction {
  readonly type: 'rsc_op' | 'pseudo' | 'cluster';
  readonly task: string;
  readonly resource?: string;
  /** `class:provider:type` (or `class:type`). */
  readonly agent?: string;
  readonly node?: string;
  readonly interval: number;
  readonly expectedRc: number;
  /** Fencing: reboot, off or on (unfencing leaves the node as it is). */
  readonly fenceAction?: string;
  /**
   * The name the resource's history on the node is looked up under first
   * (an anonymous clone instance's name in the history, or its configured
   * id: the name the executed-action line shows). Default: `resource`.
   */
  readonly historyId?: string;
  /**
   * The name the transition graph gives the resource (an anonymous clone
   * instance's configured id), looked up next and given to a new history
   * entry. Default: `historyId`.
   */
  readonly primitiveId?: string;
}

interface Entry {
  readonly record: ResourceHistoryRecord;
  /** The operations once changed (copied on the first change). */
  operations?: OperationRecord[];
}

interface MutableNode {
  state: NodeState;
  /** The node's history entries (in order, duplicates kept), built on the first change. */
  resources?: Entry[];
  /** The first entry per id. */
  byId?: Map<string, Entry>;
  changed: boolean;
}

const agentParts = new Map<string, { class?: string; provider?: string; type?: string }>();

function splitAgent(agent: string | undefined): {
  class?: string;
  provider?: string;
  type?: string;
} {
  if (!agent) return {};
  let parts = agentParts.get(agent);
  if (!parts) {
    const p = agent.split(':');
    parts =
      p.length === 3
        ? { class: p[0], provider: p[1], type: p[2] }
        : { class: p[0], type: p.slice(1).join(':') };
    agentParts.set(agent, parts);
  }
  return parts;
}

const failCounted = new WeakMap<NodeState, boolean>();

/** Whether a node's transient attributes hold any fail count. */
function hasFailCounts(state: NodeState): boolean {
  let has = failCounted.get(state);
  if (has === undefined) {
    has = Object.keys(state.transientAttributes).some((k) => k.startsWith('fail-count-'));
    failCounted.set(state, has);
  }
  return has;
}

/** Actions that are shown but leave no history (as in crm_simulate). */
const NO_HISTORY = new Set(['delete', 'meta-data']);

/**
 * The CIB as it would be once every executed action succeeded, the way
 * crm_simulate builds its "Revised Cluster Status": each resource operation
 * is recorded in the node's history with the rc the transition expects (a
 * probe finds the resource stopped), a successful stop forgets the
 * resource's recurring operations, a fenced node leaves the membership and
 * loses its history and transient attributes. Pseudo actions, shutdowns,
 * fail-count clearing and history deletions change nothing here, as in
 * crm_simulate. An anonymous clone instance's operations go to the entry
 * its history already has on the node (under the name the action shows, or
 * the configured id), else to a new entry under the configured id. Node
 * states and history entries nothing changed are the input's own objects.
 * The status tools' reading of that CIB (buildStatusView) then gives the
 * revised status.
 */
export interface InjectOptions {
  /**
   * Probes that find a resource stopped where it has no history entry yet
   * add none when this says so: such an entry reads as "stopped there",
   * which the status lists do not show for a resource outside clones (they
   * name clone instances by their entries) on a node without fail counts
   * (ordered by the node's entries). Default: every probe is recorded.
   */
  readonly omitStoppedProbe?: (action: ExecutedAction) => boolean;
}

export function injectTransition(
  cib: Cib,
  actions: readonly ExecutedAction[],
  options: InjectOptions = {},
): Cib {
  const omit = options.omitStoppedProbe;
  const nodes = new Map<string, MutableNode>();
  let callId = 0;
  for (const ns of cib.status) {
    for (const r of ns.resources)
      for (const op of r.operations) if (op.callId > callId) callId = op.callId;
    nodes.set(ns.uname, { state: ns, changed: false });
  }
  // configured nodes by name, once (not a scan per node: thousands of guests)
  const configured = new Map<string, Cib['nodes'][number]>();
  for (const x of cib.nodes) if (!configured.has(x.name)) configured.set(x.name, x);
  const nodeOf = (name: string): MutableNode => {
    let n = nodes.get(name);
    if (!n) {
      const kind = configured.get(name)?.kind ?? 'member';
      const id = configured.get(name)?.id ?? name;
      const member = kind === 'member';
      n = {
        state: {
          id,
          uname: name,
          inCcm: true,
          crmd: 'online',
          join: member ? 'member' : undefined,
          expected: member ? 'member' : undefined,
          remoteNode: !member,
          resources: [],
          transientAttributes: {},
          attributes: member
            ? {
                id,
                uname: name,
                in_ccm: 'true',
                crmd: 'online',
                join: 'member',
                expected: 'member',
              }
            : { id, uname: name, remote_node: 'true' },
        },
        resources: [],
        byId: new Map(),
        changed: true,
      };
      nodes.set(name, n);
    }
    return n;
  };
  /** The node's history entry for an action: the first under either name, else a new one. */
  const entryFor = (n: MutableNode, a: ExecutedAction, resource: string): Entry | undefined => {
    if (!n.resources || !n.byId) {
      n.resources = n.state.resources.map((record) => ({ record }));
      n.byId = new Map();
      for (const e of n.resources) if (!n.byId.has(e.record.id)) n.byId.set(e.record.id, e);
    }
    n.changed = true;
    const first = a.historyId ?? resource;
    const preferred = a.primitiveId ?? first;
    let entry = n.byId.get(first) ?? n.byId.get(preferred);
    if (!entry) {
      if (
        omit &&
        a.task === 'monitor' &&
        a.interval === 0 &&
        a.expectedRc === 7 &&
        !hasFailCounts(n.state) &&
        omit(a)
      )
        return undefined;
      entry = {
        record: { id: preferred, ...splitAgent(a.agent), operations: [] },
        operations: [],
      };
      n.byId.set(preferred, entry);
      n.resources.push(entry);
    }
    return entry;
  };
  let actionId = 0;
  for (const a of actions) {
    actionId++;
    // unfencing ("on") leaves the node as it is
    if (a.type === 'cluster' && a.task === 'stonith' && a.node && a.fenceAction === 'on') continue;
    if (a.type === 'cluster' && a.task === 'stonith' && a.node) {
      const n = nodeOf(a.node);
      n.state = {
        ...n.state,
        inCcm: false,
        crmd: 'offline',
        join: 'down',
        expected: 'down',
        transientAttributes: {},
        attributes: {
          ...n.state.attributes,
          in_ccm: 'false',
          crmd: 'offline',
          join: 'down',
          expected: 'down',
        },
      };
      n.resources = [];
      n.byId = new Map();
      n.changed = true;
      continue;
    }
    if (a.type !== 'rsc_op' || !a.resource || !a.node || NO_HISTORY.has(a.task)) continue;
    const entry = entryFor(nodeOf(a.node), a, a.resource);
    if (!entry) continue;
    const name = entry.record.id;
    const key = `${name}_${a.task}_${a.interval}`;
    const transitionKey = `${actionId}:1:${a.expectedRc}:remora-simulate`;
    const record: OperationRecord = {
      id: a.interval > 0 ? key : `${name}_last_0`,
      operationKey: key,
      operation: a.task,
      callId: ++callId,
      rc: a.expectedRc,
      opStatus: 0,
      interval: a.interval,
      transitionKey,
      transitionMagic: `0:${a.expectedRc};${transitionKey}`,
      onNode: a.node,
      attributes: {},
    };
    const ops = (entry.operations ??= [...entry.record.operations]);
    // the same operation is replaced; a stopped resource has no recurring operations left
    const stop = a.task === 'stop';
    let kept = 0;
    for (const o of ops) if (o.id !== record.id && !(stop && o.interval > 0)) ops[kept++] = o;
    ops.length = kept;
    ops.push(record);
  }
  const status: NodeState[] = [];
  for (const n of nodes.values()) {
    if (!n.changed || !n.resources) {
      status.push(n.state);
      continue;
    }
    const resources: ResourceHistoryRecord[] = [];
    for (const e of n.resources)
      resources.push(e.operations ? { ...e.record, operations: e.operations } : e.record);
    status.push({ ...n.state, resources });
  }
  return { ...cib, status };
}
