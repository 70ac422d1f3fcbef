import type { Cib } from '@remora/cib';
import type { NodeStateView } from '../nodes';
import type { HistoryActivity } from './build';
import type { ExecutedAction } from './inject';

/** What the revised node states need to know of a remote or guest node. */
export interface RemoteNodeLink {
  readonly node: string;
  /** The connection resource (a remote node's own id, a guest node's name). */
  readonly connection: string;
  /** A guest node: the resource that runs it. */
  readonly container?: string;
}

/**
 * Whether an operation record is anything but a completed operation with
 * the result its transition expected (a failure, a pending or cancelled
 * operation, or one without a transition key).
 */
function unusual(op: Cib['status'][number]['resources'][number]['operations'][number]): boolean {
  if (op.opStatus !== 0) return true;
  const key = op.transitionKey ?? op.transitionMagic?.split(';')[1];
  const rc = key?.split(':')[2];
  if (rc === undefined || !/^\d+$/.test(rc)) return true;
  // a probe that finds the resource stopped is expected whatever the key says
  if (op.operation === 'monitor' && op.interval === 0 && op.rc === 7) return false;
  return op.rc !== Number(rc);
}

/**
 * The node states once the executed actions succeeded, from the states
 * before them, when they follow without reading the revised CIB again: no
 * node is fenced, nothing is unclean, pending or in standby because of a
 * failure, and the history holds no failed or unfinished operation. Then a
 * cluster node's state is what it was (its node_state is untouched and the
 * recorded results are the expected ones), and a remote or guest node is
 * online exactly when its connection (and a guest's container) is active on
 * some online cluster node in the revised history. Undefined when that does
 * not hold: the caller unpacks the revised CIB instead.
 */
export function revisedNodeStates(
  cib: Cib,
  before: readonly NodeStateView[],
  actions: readonly ExecutedAction[],
  links: readonly RemoteNodeLink[],
):
  | ((historyOf: (resource: string) => readonly HistoryActivity[]) => NodeStateView[] | undefined)
  | undefined {
  if (actions.some((a) => a.task === 'stonith' || a.task === 'do_shutdown')) return undefined;
  if (before.some((n) => n.unclean || n.pending || n.standbyOnFail)) return undefined;
  for (const ns of cib.status)
    for (const h of ns.resources) for (const op of h.operations) if (unusual(op)) return undefined;
  const linkOf = new Map(links.map((l) => [l.node, l]));
  const members = new Set(before.filter((n) => n.kind === 'member' && n.online).map((n) => n.name));
  return (historyOf) => {
    // active, not failed, on an online cluster node (else: unknown here)
    const activeOn = (id: string): boolean | undefined => {
      let active = false;
      for (const a of historyOf(id)) {
        if (a.failed || (a.role !== 'Started' && a.role !== 'Stopped')) return undefined;
        if (a.role === 'Stopped') continue;
        if (!members.has(a.node)) return undefined;
        active = true;
      }
      return active;
    };
    const out: NodeStateView[] = [];
    for (const n of before) {
      if (n.kind === 'member') {
        out.push(n);
        continue;
      }
      const link = linkOf.get(n.name);
      if (!link) return undefined;
      const connection = activeOn(link.connection);
      const container = link.container === undefined ? true : activeOn(link.container);
      if (connection === undefined || container === undefined) return undefined;
      out.push({ ...n, online: connection && container });
    }
    return out;
  };
}
