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
}

interface MutableNode {
  state: NodeState;
  resources: Map<string, { record: ResourceHistoryRecord; operations: OperationRecord[] }>;
}

function splitAgent(agent: string | undefined): {
  class?: string;
  provider?: string;
  type?: string;
} {
  if (!agent) return {};
  const parts = agent.split(':');
  if (parts.length === 3) return { class: parts[0], provider: parts[1], type: parts[2] };
  return { class: parts[0], type: parts.slice(1).join(':') };
}

/**
 * The CIB as it would be once every executed action succeeded, the way
 * crm_simulate builds its "Revised Cluster Status": each resource operation
 * is recorded in the node's history with the rc the transition expects (a
 * probe finds the resource stopped), a successful stop forgets the
 * resource's recurring operations, a fenced node leaves the membership and
 * loses its history and transient attributes. Pseudo actions, shutdowns and
 * fail-count clearing change nothing here, as in crm_simulate. The status
 * tools' reading of that CIB (buildStatusView) then gives the revised status.
 */
export function injectTransition(cib: Cib, actions: readonly ExecutedAction[]): Cib {
  const nodes = new Map<string, MutableNode>();
  let callId = 0;
  for (const ns of cib.status) {
    const resources = new Map<
      string,
      { record: ResourceHistoryRecord; operations: OperationRecord[] }
    >();
    for (const r of ns.resources) {
      resources.set(r.id, { record: r, operations: [...r.operations] });
      for (const op of r.operations) callId = Math.max(callId, op.callId);
    }
    nodes.set(ns.uname, { state: ns, resources });
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
        resources: new Map(),
      };
      nodes.set(name, n);
    }
    return n;
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
      n.resources.clear();
      continue;
    }
    if (a.type !== 'rsc_op' || !a.resource || !a.node) continue;
    const n = nodeOf(a.node);
    let entry = n.resources.get(a.resource);
    if (!entry) {
      entry = {
        record: { id: a.resource, ...splitAgent(a.agent), operations: [] },
        operations: [],
      };
      n.resources.set(a.resource, entry);
    }
    const key = `${a.resource}_${a.task}_${a.interval}`;
    const transitionKey = `${actionId}:1:${a.expectedRc}:remora-simulate`;
    const record: OperationRecord = {
      id: a.interval > 0 ? key : `${a.resource}_last_0`,
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
    let ops = entry.operations.filter((o) => o.id !== record.id);
    // A stopped resource has no recurring operations left.
    if (a.task === 'stop') ops = ops.filter((o) => o.interval === 0);
    ops.push(record);
    entry.operations = ops;
  }
  const status: NodeState[] = [...nodes.values()].map((n) => ({
    ...n.state,
    resources: [...n.resources.values()].map((e) => ({ ...e.record, operations: e.operations })),
  }));
  return { ...cib, status };
}
