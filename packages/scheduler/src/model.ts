/**
 * The scheduler's working set: nodes, resources and actions as the
 * algorithms see them. Internal; the public shapes are in types.ts.
 */
import type { OperationRecord, Primitive } from '@remora/cib';
import type { NodeScores } from './scores';

export const INF = 1_000_000;

/** Resource roles, ordered as Pacemaker orders them. */
export enum Role {
  Unknown = 0,
  Stopped = 1,
  Started = 2,
  Unpromoted = 3,
  Promoted = 4,
}

export const ROLE_NAMES: Record<Role, string> = {
  [Role.Unknown]: 'Unknown',
  [Role.Stopped]: 'Stopped',
  [Role.Started]: 'Started',
  [Role.Unpromoted]: 'Unpromoted',
  [Role.Promoted]: 'Promoted',
};

export function parseRole(value: string | undefined): Role {
  switch ((value ?? '').toLowerCase()) {
    case 'stopped':
      return Role.Stopped;
    case 'started':
      return Role.Started;
    case 'slave':
    case 'unpromoted':
      return Role.Unpromoted;
    case 'master':
    case 'promoted':
      return Role.Promoted;
    default:
      return Role.Unknown;
  }
}

/** What a failed operation makes the cluster do (`on-fail`), in increasing severity. */
export enum OnFail {
  Ignore = 0,
  Demote = 1,
  Recover = 2,
  ResetRemote = 3,
  RestartContainer = 4,
  Migrate = 5,
  Block = 6,
  Stop = 7,
  Standby = 8,
  Fence = 9,
}

export interface SNode {
  readonly index: number;
  readonly name: string;
  readonly id: string;
  readonly kind: 'member' | 'remote' | 'guest';
  online: boolean;
  unclean: boolean;
  unseen: boolean;
  shutdown: boolean;
  standby: boolean;
  standbyOnFail: boolean;
  pending: boolean;
  maintenance: boolean;
  expectedUp: boolean;
  remoteRequiresReset: boolean;
  remoteWasFenced: boolean;
  rscDiscovery: boolean;
  /** Why the node must be fenced, when unclean. */
  fenceReason?: string;
  /** Node attributes as rules and colocations see them. */
  attrs: Record<string, string>;
  /** The connection resource of a remote or guest node. */
  connection?: Rsc;
  /** Resources assigned here during this run (for balancing). */
  assigned: number;
  /** Resources currently active here. */
  running: Rsc[];
  /** Remaining capacity per utilization attribute (placement strategies other than default). */
  utilization?: Map<string, number>;
  hasState: boolean;
  isDc: boolean;
  /**
   * Fail counts are per resource (`fail-count-rsc`, CIBs older than feature
   * set 3.0.13) rather than per operation (`fail-count-rsc#monitor_10000`).
   */
  legacyFailCounts: boolean;
}

export interface OpConfig {
  readonly name: string;
  readonly interval: number;
  readonly role: Role;
  readonly onFail?: string;
  readonly enabled: boolean;
  readonly timeout?: number;
  /** The operation's own parameters (its instance_attributes). */
  readonly params: Readonly<Record<string, string>>;
}

/**
 * A clone's settings and placement state. Instances are the clone's children
 * (`child:0`, `child:1`, ...; a cloned group's instance `grp:0` holds
 * `member:0`, ...); each instance primitive has its own role and next role,
 * so promotable clones extend instances with roles, not a separate model.
 */
export interface CloneInfo {
  /** clone-max (default: the number of nodes). */
  readonly max: number;
  /** clone-node-max (default 1). */
  readonly nodeMax: number;
  /** clone-min: instances that must be runnable before what is ordered after the clone. */
  readonly min: number;
  readonly ordered: boolean;
  readonly interleave: boolean;
  readonly notify: boolean;
  /** globally-unique. */
  readonly unique: boolean;
  readonly promotable: boolean;
  /** The configured child's id (instances are `${childId}:${n}`). */
  readonly childId: string;
  /** Instances created so far (configured and orphans): the next orphan's number. */
  total: number;
  /** Instances assigned per node during placement (for clone-node-max). */
  perNode: Int32Array;
  /** Instance colocations appended from the clone (once). */
  appended: Set<Rsc>;
}

export interface Rsc {
  readonly id: string;
  readonly kind: 'primitive' | 'group' | 'clone';
  parent?: Rsc;
  children: Rsc[];
  /** Clones only. */
  clone?: CloneInfo;
  /** In a clone instance: the configured id without the instance number. */
  baseId?: string;
  /** An anonymous instance found in the history under another name (`child:3` or `child`). */
  historyName?: string;
  /** The name the instance has in each node's history (promotion scores are read under it). */
  historyNames?: Map<SNode, string>;
  /** The node where a start is pending (from the history). */
  pendingNode?: SNode;
  readonly primitive?: Primitive;
  readonly agent: string;
  readonly cls: string;
  meta: Record<string, string>;
  params: Record<string, string>;
  ops: OpConfig[];
  priority: number;
  stickiness: number;
  migrationThreshold: number;
  failureTimeout: number;
  /** Remote connections: reconnect_interval in ms (0: none). */
  reconnectMs?: number;
  managed: boolean;
  /**
   * Unmanaged when Pacemaker created the internal constraints: it skips a
   * primitive's own (stop before start, container, remote-node bans).
   */
  noInternalConstraints?: boolean;
  targetRole: Role;
  multipleActive: string;
  allowMigrate: boolean;
  requires: 'nothing' | 'quorum' | 'fencing' | 'unfencing';
  critical: boolean;
  /** A remote connection: the node it creates. */
  remoteNode?: SNode;
  /** For a guest connection: the resource running the guest. */
  container?: Rsc;
  /** For a container: the guest connection it holds. */
  guestConnection?: Rsc;
  orphan: boolean;
  implicit: boolean;

  // status
  role: Role;
  nextRole: Role;
  runningOn: SNode[];
  /**
   * Collectives: the nodes where something in them is active, in the order
   * the histories were read (Pacemaker adds a member's node to its parents'
   * running_on).
   */
  activeOn?: SNode[];
  /** Nodes with any history for the resource. */
  knownOn: Set<SNode>;
  failed: boolean;
  stopFlag: boolean;
  blocked: boolean;
  startPending: boolean;

  // assignment
  /** Node scores (sparse: see scores.ts). */
  allowed: NodeScores;
  provisional: boolean;
  assigning: boolean;
  merging: boolean;
  assignedTo?: SNode;
  thisWith: Coloc[];
  withThis: Coloc[];
  /** Where probes may run: per node discovery mode. */
  discovery: Map<number, 'always' | 'never' | 'exclusive'>;
  exclusiveDiscover: boolean;

  actions: Action[];
  /** Keys of recurring operations active per node (from the history). */
  activeRecurring?: Map<SNode, Set<string>>;
  multiplyActive?: boolean;
  /** multiple-active=stop_unexpected and active on several nodes. */
  stopUnexpected?: boolean;
  failureIgnored?: boolean;
  /** Operation history per node, sorted by call id, with the index of the last start. */
  histories?: Map<SNode, { ops: readonly OperationRecord[]; startIndex: number }>;
  maintenance?: boolean;
  migration?: { to?: Action; from: Action };
  /** A migration whose migrate_to completed but migrate_from has not run yet. */
  partialSource?: SNode;
  partialTarget?: SNode;
  /** Sources of completed migrations that were never stopped there. */
  dangling?: SNode[];
  /** What the resource consumes per utilization attribute (primitives with a utilization set). */
  utilization?: Map<string, number>;
  /**
   * Placement strategy other than default and a utilization set: the nodes it
   * was allowed on before assignment, each getting a load_stopped pseudo action.
   */
  loadNodes?: SNode[];
  /** shutdown-lock: the node the resource is locked to (it may run nowhere else). */
  lockNode?: SNode;
  /** When the lock started (the node's shutdown time, seconds since the epoch). */
  lockTime?: number;
  /** A promotable clone: how many instances may be promoted. */
  promotable?: PromotableSettings;
  /** An instance of a promotable clone: its promotion priority while roles are chosen. */
  promotion?: InstancePromotion;
}

/** `promoted-max` / `promoted-node-max` (formerly `master-max` / `master-node-max`). */
export interface PromotableSettings {
  readonly promotedMax: number;
  readonly promotedNodeMax: number;
}

export interface InstancePromotion {
  /** Promotion score on the instance's node, plus role-based locations and colocations. */
  priority: number;
  /** The priority after the clone's node scores were merged in: instances are promoted in its order. */
  sortIndex: number;
}

export interface Coloc {
  readonly id: string;
  readonly dependent: Rsc;
  readonly primary: Rsc;
  readonly score: number;
  readonly dependentRole: Role;
  readonly primaryRole: Role;
  readonly nodeAttribute?: string;
  readonly influence: boolean;
}

export interface Action {
  readonly id: number;
  readonly rsc?: Rsc;
  /** Changes only when a recurring action from history becomes its cancel (ActionSet.cancel). */
  task: string;
  readonly node?: SNode;
  readonly interval: number;
  /** `rsc_task_interval`, or a pseudo/cluster action key. */
  key: string;
  optional: boolean;
  runnable: boolean;
  pseudo: boolean;
  migrateRunnable: boolean;
  reason?: string;
  /** For fencing: reboot/off/on. */
  fenceAction?: string;
  before: Ordering[];
  after: Ordering[];
  /** Cancel of a recurring operation. */
  cancel?: boolean;
  clearFailcount?: boolean;
  /** `lrm_delete`: the resource's history on the node is deleted (a cluster event run by the DC). */
  historyDelete?: boolean;
  expectedRc?: number;
  /** Cancel: the task of the recurring operation cancelled. */
  cancelTask?: string;
  /** Probe: how it orders before the resource's start. */
  probeFlags?: number;
  /** reload-agent for changed reloadable parameters. */
  reload?: boolean;
  /** The stop of a completed migration's source (it implies nothing after it). */
  dangle?: boolean;
  /** Runnable only when this many of the actions ordered before it (one-or-more) are. */
  requiredRunnable?: number;
  /** In the transition even when optional (a start already pending). */
  printAlways?: boolean;
  /**
   * Created without a node as the first action of an internal ordering, which
   * Pacemaker applies after the configured orderings: those do not see it as a
   * 'then' (it did not exist yet when they were applied).
   */
  lateFirst?: boolean;
  /** Guest fencing: the resource that runs the guest. */
  guestOf?: Rsc;
  /**
   * A collective's own action (start, stop, ...) that orderings were made
   * after and remapped to its completion (running, stopped, ...): Pacemaker
   * keeps them among this action's orderings after it, so a change to it
   * updates their 'then' again (see Ordering.remapped).
   */
  remappedAfter?: Ordering[];
}

export const O = {
  optional: 1,
  impliesThen: 2,
  impliesFirst: 4,
  runnableLeft: 8,
  restart: 16,
  asymmetrical: 32,
  serialize: 64,
  /** migrate_to/migrate_from before stop/start: 'first' runs only if 'then' can migrate. */
  impliesFirstMigratable: 128,
  /** migrate_from before start: an unrunnable migrate_from makes the start a real one. */
  pseudoLeft: 256,
  /** Counts towards the `then` action's requiredRunnable. */
  oneOrMore: 512,
  /** A required 'then' (stop) of a resource that is promoted now makes 'first' (demote) required. */
  promotedImpliesFirst: 1024,
  /** Left out of the graph when 'first' is part of a migration (it is the migrate_to/from that count). */
  firstNonMigratable: 2048,
  /**
   * Only this flag: from a -INFINITY colocation (A's stop before B's start, and
   * the reverse). It changes no action; in the graph it is an input only on the
   * same node (or without one) and when 'first' is required.
   */
  antiColocation: 4096,
  /**
   * An internal remote-node ordering (Pacemaker's pe_order_preserve, which every
   * connection start-then-action and action-then-stop ordering carries): never
   * dropped as a guest's action before its container's, and it counts as an
   * ordering that can change actions (an unrunnable required 'first' stays an
   * input in the graph) even when it has no other flag.
   */
  preserve: 8192,
  /**
   * Pacemaker's implies_then_printed: changes no action, but the ordering is not
   * a purely optional one (kept in the graph after a stop that is part of a migration).
   */
  printed: 16384,
} as const;

export interface Ordering {
  readonly first: Action;
  readonly then: Action;
  flags: number;
  /**
   * A configured ordering after a group or clone's start (stop), whose 'first'
   * is the collective's running (stopped) action: Pacemaker keeps it on the
   * collective's own start (stop) action until the graph is written, so the
   * probe orderings follow it from there.
   */
  collectiveFirst?: Action;
  /** Made at once, before the orderings Pacemaker applies later (see ActionSet.orderEarly). */
  early?: boolean;
  /** Creation order among the orderings after an action (early ones below the others). */
  readonly seq: number;
  /**
   * After a collective's completion that stands for its start (collectiveFirst):
   * not applied the first time 'then' is updated, the newest ordering of both
   * actions from then on (Pacemaker's action_for_ordering makes it anew there).
   * The ordering Pacemaker first made stays among the start's orderings after
   * it, disabled only on the 'then' side (Action.remappedAfter).
   */
  remapped?: boolean;
}

export function isActiveRole(role: Role): boolean {
  return role !== Role.Stopped && role !== Role.Unknown;
}

/** Whether `rsc` belongs to a promotable clone (its roles are Unpromoted and Promoted, not Started). */
export function inPromotable(rsc: Rsc): boolean {
  for (let p = rsc.parent; p; p = p.parent) if (p.promotable || p.clone?.promotable) return true;
  return false;
}

/** The top-level resource holding `rsc`. */
export function topOf(rsc: Rsc): Rsc {
  let r = rsc;
  while (r.parent) r = r.parent;
  return r;
}

/** The clone holding `rsc` (an instance or a member of a cloned group's instance). */
export function cloneOf(rsc: Rsc): Rsc | undefined {
  for (let r = rsc.parent; r; r = r.parent) if (r.kind === 'clone') return r;
  return undefined;
}

/** The clone instance `rsc` belongs to (itself when it is an instance). */
export function instanceOf(rsc: Rsc): Rsc | undefined {
  for (let r: Rsc | undefined = rsc; r; r = r.parent) if (r.parent?.kind === 'clone') return r;
  return undefined;
}

/** An instance (or instance member) of an anonymous clone. */
export function isAnonymous(rsc: Rsc): boolean {
  const c = cloneOf(rsc);
  return c !== undefined && c.clone?.unique === false;
}

/** The name crm_simulate shows in executed actions (an anonymous instance's history name). */
export function displayName(rsc: Rsc): string {
  if (rsc.orphan && rsc.historyName !== undefined) return rsc.historyName;
  const clone = cloneOf(rsc);
  if (!clone || clone.clone?.unique !== false) return rsc.id;
  // once any instance's history uses the bare configured name, actions use it for all
  const base = rsc.baseId;
  if (primitivesOf(clone).some((p) => p.baseId === base && p.historyName === base))
    return base as string;
  return rsc.historyName ?? rsc.id;
}

/**
 * The connection of the node a resource is forced onto by its `container`
 * meta attribute, when that names a remote connection or a resource that
 * holds a guest node (Pacemaker runs it on that node instead of colocating
 * it with the container); undefined for fillers and guest connections.
 */
export function containerNodeConnection(rsc: Rsc): Rsc | undefined {
  const container = rsc.container;
  if (!container || rsc.remoteNode) return undefined;
  return container.remoteNode ? container : container.guestConnection;
}

export function primitivesOf(rsc: Rsc): Rsc[] {
  if (rsc.kind === 'primitive') return [rsc];
  return rsc.children.flatMap(primitivesOf);
}

export function nodeAvailable(
  node: SNode | undefined,
  weight?: number,
): node is SNode & { online: true } {
  if (!node || !node.online || node.shutdown || node.unclean || node.standby || node.maintenance)
    return false;
  if (weight !== undefined && weight < 0) return false;
  return true;
}
