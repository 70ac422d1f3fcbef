import type { Cib } from '@remora/cib';
import type { WorkingSet } from './unpack';
import { unpack } from './unpack';

/** A node's state as the scheduler's unpack decides it: what crm_mon and crm_simulate print. */
export interface NodeStateView {
  readonly name: string;
  readonly id: string;
  readonly kind: 'member' | 'remote' | 'guest';
  readonly online: boolean;
  /** Must be fenced before anything can be assumed about it (UNCLEAN). */
  readonly unclean: boolean;
  /** Why it must be fenced, when unclean. */
  readonly fenceReason?: string;
  /** In the membership but not yet joined. */
  readonly pending: boolean;
  readonly standby: boolean;
  /** Put in standby by a failure with on-fail=standby. */
  readonly standbyOnFail: boolean;
  readonly maintenance: boolean;
  /** Asked to shut down (the `shutdown` attribute). */
  readonly shutdown: boolean;
}

/** "Now" for rules and failure timeouts: the given time, else the CIB's execution-date, else the clock. */
export function scheduleTime(cib: Cib, now?: Date): Date {
  if (now) return now;
  const ed = cib.rootAttributes['execution-date'];
  if (ed !== undefined && /^\d+$/.test(ed)) return new Date(Number(ed) * 1000);
  return new Date();
}

/** The node part of the scheduler's unpack (node_state, membership, fencing history, failures). */
export function unpackNodeStates(cib: Cib, now: Date): NodeStateView[] {
  return nodeStateViews(unpack(cib, now, { constraints: false }));
}

/** The node states of a working set unpacked without constraints (before tickets and scheduling change them). */
export function nodeStateViews(ws: WorkingSet): NodeStateView[] {
  return ws.nodes.map((n) => ({
    name: n.name,
    id: n.id,
    kind: n.kind,
    online: n.online,
    unclean: n.unclean,
    fenceReason: n.fenceReason,
    pending: n.pending,
    standby: n.standby,
    standbyOnFail: n.standbyOnFail,
    maintenance: n.maintenance,
    shutdown: n.shutdown,
  }));
}
