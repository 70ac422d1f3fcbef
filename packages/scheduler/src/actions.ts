/**
 * Actions and their ordering: what each resource must do to reach its next
 * role, probes, recurring monitors, fencing, shutdowns, orderings (internal,
 * configured, remote connections) and the propagation of "required" and
 * "unrunnable" along orderings until nothing changes.
 */
import type { OrderConstraint, ResourceSet } from '@remora/cib';
import type { Action, Coloc, Ordering, Rsc, SNode } from './model';
import {
  INF,
  O,
  Role,
  cloneOf,
  containerNodeConnection,
  inPromotable,
  isActiveRole,
  nodeAvailable,
  primitivesOf,
  topOf,
} from './model';
import type { WorkingSet } from './unpack';
import {
  blockFailure,
  failCountInfo,
  fenceNode,
  historyRecord,
  activeNode,
  needsFencing,
  nodeUnfenced,
} from './unpack';
import { configChanges } from './digest';
import { orderProbes, probeRestartOrderer } from './probe-orderings';
import { ABSENT } from './scores';
import {
  cloneInternal,
  createCloneActions,
  createNotifications,
  notifyAfterFencing,
  inhibitUnpaired,
  instancesToProbe,
  orderInterleaved,
} from './clone';
import { mergeNvSets, parseBoolean, parseInterval } from '@remora/cib';
import { propagate, setReason } from './propagate';
import { actionsAfter } from './output';

/**
 * The ordering lists of an action without any: shared, and replaced by the
 * action's own list on its first ordering (most actions have one or two, and
 * an empty array grows to 17 slots on its first push; large transitions have
 * hundreds of thousands of actions).
 */
const NO_ORDERINGS: Ordering[] = [];

export class ActionSet {
  readonly actions: Action[] = [];
  readonly orderings: Ordering[] = [];
  /**
   * The missing 'first' actions orderings created (without a node): Pacemaker
   * creates them only when it applies its orderings, after the fencing and
   * the remote connection orderings, so they are newer than those (see visitOrder).
   */
  readonly createdFirsts: Action[] = [];
  /**
   * "Stop A then X" orderings of a primitive A that is not active (no stop to
   * order): its probes still come before X (see probe-orderings.ts).
   */
  readonly stopOrderingsOfStopped: { first: Rsc; thens: Action[]; flags: number }[] = [];
  /** Mandatory interleaved orderings between clones (re-checked once all orderings exist). */
  readonly interleavedStarts: { first: Rsc; then: Rsc }[] = [];
  /** The orderings of each migration, made after the configured orderings (see createMigration). */
  readonly migrationOrderings: (() => void)[] = [];
  /**
   * Guest nodes whose resources were not probed because the guest is stopped
   * (`monitor`: Pacemaker orders their starts after the container's probes) or
   * about to stop (`stop`: after the container's stop, and so its probes), see
   * guestProbeOrderings.
   */
  readonly unprobedGuests: { node: SNode; task: 'stop' | 'monitor'; done: boolean }[] = [];
  /** Actions by key, then node (maps keyed by objects and constant task names: no string building per lookup). */
  private readonly index = new Map<string, Map<SNode | undefined, Action>>();
  /** Actions per resource and task, for resolving resource-level orderings. */
  private readonly byRscTask = new Map<Rsc, Map<string, Action[]>>();
  /** Ordering.seq: early orderings count up from far below the others. */
  private seq = 0;
  private earlySeq = -Number.MAX_SAFE_INTEGER;

  constructor(private readonly ws: WorkingSet) {}

  find(key: string, node?: SNode): Action | undefined {
    return this.index.get(key)?.get(node);
  }

  ofRsc(rsc: Rsc, task: string, node?: SNode): Action[] {
    const list = this.byRscTask.get(rsc)?.get(task);
    if (!list) return [];
    return node ? list.filter((a) => a.node === node) : list;
  }

  custom(
    rsc: Rsc | undefined,
    task: string,
    interval: number,
    node: SNode | undefined,
    optional: boolean,
    opts: { pseudo?: boolean; key?: string } = {},
  ): Action {
    const key = opts.key ?? `${rsc ? rsc.id : ''}_${task}_${interval}`;
    const existing = this.find(key, node);
    if (existing) {
      // as on creation, an unmanaged resource's one-shot actions stay optional
      if (rsc && node && !existing.pseudo && !rsc.managed && interval === 0 && task !== 'monitor')
        existing.optional = true;
      else if (!optional) existing.optional = false;
      return existing;
    }
    const a: Action = {
      id: this.actions.length,
      rsc,
      task,
      node,
      interval,
      key,
      optional,
      runnable: true,
      pseudo: opts.pseudo ?? false,
      migrateRunnable: false,
      before: NO_ORDERINGS,
      after: NO_ORDERINGS,
      // set later on many actions: declared up front, so every action has the same shape
      reason: undefined,
      expectedRc: undefined,
      probeFlags: undefined,
    };
    if (rsc && !a.pseudo) this.setRunnable(a);
    this.actions.push(a);
    const byNode = this.index.get(key);
    if (byNode) byNode.set(node, a);
    else this.index.set(key, new Map([[node, a]]));
    if (rsc) {
      let tasks = this.byRscTask.get(rsc);
      if (!tasks) {
        tasks = new Map();
        this.byRscTask.set(rsc, tasks);
      }
      const list = tasks.get(task);
      if (list) list.push(a);
      else tasks.set(task, [a]);
      rsc.actions.push(a);
    }
    return a;
  }

  /**
   * Cancel the recurring operation `name`/`interval` of `rsc` on `node`. Pacemaker
   * names a cancel by the operation's own key, so when an action with that key
   * already exists on the node (on a remote or guest node, the one made from the
   * history, see activeRecurringOnRemoteNodes) that action becomes the cancel: the
   * node gets no separate monitor that its connection's start would make required.
   */
  cancel(rsc: Rsc, name: string, interval: number, node: SNode): Action {
    const opKey = `${rsc.id}_${name}_${interval}`;
    const key = `${opKey}-cancel`;
    const own = this.find(opKey, node);
    if (own && !this.find(key, node)) {
      this.index.get(opKey)?.delete(node);
      const byNode = this.index.get(key);
      if (byNode) byNode.set(node, own);
      else this.index.set(key, new Map([[node, own]]));
      const tasks = this.byRscTask.get(rsc);
      const list = tasks?.get(own.task);
      if (list) list.splice(list.indexOf(own), 1);
      const cancels = tasks?.get('cancel');
      if (cancels) cancels.push(own);
      else tasks?.set('cancel', [own]);
      own.task = 'cancel';
      own.key = key;
    }
    const a = this.custom(rsc, 'cancel', interval, node, false, { key });
    a.cancel = true;
    a.cancelTask = name;
    return a;
  }

  private setRunnable(a: Action): void {
    const rsc = a.rsc as Rsc;
    const node = a.node;
    const cfg = this.ws.config;
    if (!rsc.managed && a.interval === 0 && !(a.task === 'monitor')) a.optional = true;
    if (!node) {
      a.runnable = false;
      return;
    }
    if (!node.online && (node.kind !== 'guest' || node.remoteRequiresReset)) {
      a.runnable = false;
      return;
    }
    if (node.pending) {
      a.runnable = false;
      return;
    }
    const needs = a.task === 'start' || a.task === 'promote' ? rsc.requires : ('nothing' as const);
    if (needs === 'nothing') {
      // the cluster never stops an unmanaged resource
      a.runnable = rsc.managed || a.task !== 'stop';
      return;
    }
    const policy = effectiveQuorumPolicy(cfg, rsc);
    if (policy === 'stop') {
      a.runnable = false;
      a.reason = 'no quorum';
    } else if (policy === 'freeze') {
      if (!isActiveRole(rsc.role) || rsc.nextRole > rsc.role) {
        a.runnable = false;
        a.reason = 'quorum freeze';
      }
    }
  }

  order(
    first: Action | undefined,
    then: Action | undefined,
    flags: number,
    collectiveFirst?: Action,
  ): Ordering | undefined {
    if (!first || !then || first === then) return undefined;
    for (const o of first.after) {
      if (o.then === then) {
        // Pacemaker drops an ordering between the same actions that shares a flag with
        // one already there (two user orderings, Optional then Mandatory: the first wins)
        if (!(o.flags & flags)) o.flags |= flags;
        return undefined;
      }
    }
    const seq = this.seq++;
    const o: Ordering = collectiveFirst
      ? { first, then, flags, seq, collectiveFirst }
      : { first, then, flags, seq };
    if (first.after === NO_ORDERINGS) first.after = [o];
    else first.after.push(o);
    if (then.before === NO_ORDERINGS) then.before = [o];
    else then.before.push(o);
    this.orderings.push(o);
    return o;
  }

  /**
   * An ordering Pacemaker makes at once (order_actions, as against fencing)
   * rather than when it applies its list of orderings: older than those, so it
   * comes after them when the orderings before or after an action are visited
   * newest first, and after the other early ones.
   */
  orderEarly(first: Action, then: Action, flags: number): void {
    if (first === then) return;
    if (first.after.some((x) => x.then === then)) {
      this.order(first, then, flags);
      return;
    }
    const o: Ordering = { first, then, flags, seq: this.earlySeq++, early: true };
    const insert = (list: Ordering[]): Ordering[] => {
      if (list === NO_ORDERINGS) return [o];
      const i = list.findIndex((x) => !x.early);
      if (i < 0) list.push(o);
      else list.splice(i, 0, o);
      return list;
    };
    first.after = insert(first.after);
    then.before = insert(then.before);
    this.orderings.push(o);
  }

  /** Drop the orderings from `first` to the actions `which` selects. */
  unorder(first: Action, which: (then: Action) => boolean): void {
    for (const o of [...first.after]) {
      if (!which(o.then)) continue;
      first.after.splice(first.after.indexOf(o), 1);
      o.then.before.splice(o.then.before.indexOf(o), 1);
      const i = this.orderings.indexOf(o);
      if (i >= 0) this.orderings.splice(i, 1);
    }
  }

  /**
   * Order every `firstTask` action of `a` before every `thenTask` action of
   * `b`, as Pacemaker resolves resource-level orderings: a missing "first"
   * action is created without a node (so it is unrunnable and blocks what
   * must follow it), except a stop of a stopped resource; a missing "then"
   * means there is nothing to order.
   */
  orderRsc(a: Rsc, firstTask: string, b: Rsc, thenTask: string, flags: number): void {
    const firsts = a === b ? this.rscActions(a, firstTask) : this.firstActions(a, firstTask);
    const thens = this.rscActions(b, thenTask);
    if (firsts.length === 0) this.noteStopOfStopped(a, firstTask, b, thens);
    for (const f of firsts) {
      // a dangling migration's stop does not make the resource's own actions required
      const fl = f.dangle && f.rsc === b ? flags & ~O.impliesThen : flags;
      for (const t of thens) this.order(f, t, fl);
    }
  }

  /** Remember "stop A then X" when A has no stop (A is not active). */
  noteStopOfStopped(
    a: Rsc,
    firstTask: string,
    b: Rsc,
    thens: Action[],
    flags: number = O.optional,
  ): void {
    if (firstTask !== 'stop' || a === b || a.kind !== 'primitive' || thens.length === 0) return;
    this.stopOrderingsOfStopped.push({ first: a, thens, flags });
  }

  /**
   * The actions an ordering starts from; a missing one is created without a node
   * (unrunnable). Configured orderings (`configured`) come before the internal
   * ones, as Pacemaker applies them, so a start created here gets its
   * resource's own "stop then start" too (a stopping resource's start is then
   * required, and so is what it implies); one created for another ordering
   * before them (`lateFirst`) is theirs only once a configured ordering starts
   * from it.
   */
  firstActions(a: Rsc, task: string, configured = false): Action[] {
    const firsts = this.rscActions(a, task);
    // Pacemaker creates it here, for this configured ordering
    if (configured) for (const f of firsts) f.lateFirst = false;
    if (firsts.length > 0 || task === 'monitor') return firsts;
    const stopped =
      a.kind === 'group' ? a.children.every((c) => !isActiveRole(c.role)) : !isActiveRole(a.role);
    if (task === 'stop' && stopped) return [];
    // nothing to demote: an ordering after the demotion of an unpromoted resource is ignored
    if (task === 'demote' && a.role === Role.Unpromoted) return [];
    if (a.kind !== 'primitive') return [];
    const created = this.custom(a, task, 0, undefined, true);
    if (!configured) created.lateFirst = true;
    this.createdFirsts.push(created);
    return [created];
  }

  private rscActions(r: Rsc, task: string): Action[] {
    return this.ofRsc(r, task).filter((x) => x.interval === 0);
  }
}

// ---------------------------------------------------------------- primitives

/**
 * The no-quorum-policy that applies to a resource's actions: none while the
 * cluster has quorum; with `demote`, promotable instances (promoted or
 * unpromoted now) carry on as with `ignore` and everything else stops.
 */
function effectiveQuorumPolicy(cfg: WorkingSet['config'], rsc: Rsc): string {
  if (cfg.haveQuorum) return 'ignore';
  if (cfg.noQuorumPolicy === 'demote')
    return rsc.role === Role.Promoted || rsc.role === Role.Unpromoted ? 'ignore' : 'stop';
  return cfg.noQuorumPolicy;
}

function stopResource(as: ActionSet, rsc: Rsc, optional: boolean, restarting = false): void {
  const unexpected = restarting && rsc.stopUnexpected === true;
  for (const node of rsc.runningOn) {
    // multiple-active=stop_unexpected: leave it where it is expected to run
    if (unexpected && rsc.nextRole > Role.Stopped && node === rsc.assignedTo) continue;
    let stopOptional = optional;
    if (rsc.partialTarget) {
      // a partial migration continues where it was going
      if (node === rsc.partialTarget && node === rsc.assignedTo) continue;
      stopOptional = false;
    }
    const stop = as.custom(rsc, 'stop', 0, node, stopOptional);
    if (!rsc.assignedTo) setReason(stop, 'node availability');
    else if (unexpected) setReason(stop, 'being multiply active', true);
  }
}

function startResource(as: ActionSet, rsc: Rsc, node: SNode, optional: boolean): Action {
  const start = as.custom(rsc, 'start', 0, node, true);
  // required even for an unmanaged resource (Pacemaker's start_resource clears the
  // flag directly); such a start stays out of the graph, but what waits for it stalls
  if (start.runnable && !optional) start.optional = false;
  return start;
}

/** What takes a resource one step from a role to the next (Pacemaker's role transition table). */
type RoleStep = 'stop' | 'start' | 'promote' | 'demote' | undefined;

/** The next role on the way from `from` to `target`: Stopped -> Unpromoted -> Promoted and back. */
export function nextRoleToward(from: Role, target: Role): Role {
  switch (from) {
    case Role.Unknown:
      return target === Role.Unknown ? Role.Unknown : Role.Stopped;
    case Role.Stopped:
      if (target === Role.Started) return Role.Started;
      if (target === Role.Unpromoted || target === Role.Promoted) return Role.Unpromoted;
      return Role.Stopped;
    case Role.Started:
      return target === Role.Unknown ? Role.Stopped : target;
    case Role.Unpromoted:
      return target === Role.Unpromoted || target === Role.Promoted ? target : Role.Stopped;
    case Role.Promoted:
      if (target === Role.Promoted) return Role.Promoted;
      return target === Role.Unknown ? Role.Stopped : Role.Unpromoted;
  }
}

/** The action for one step between adjacent roles (undefined: nothing to do, or not a step). */
export function roleStep(from: Role, to: Role): RoleStep {
  if (from === to) return undefined;
  switch (from) {
    case Role.Unknown:
      return to === Role.Stopped ? 'stop' : undefined;
    case Role.Stopped:
      return to === Role.Started || to === Role.Unpromoted ? 'start' : undefined;
    case Role.Started:
      return to === Role.Stopped ? 'stop' : to === Role.Promoted ? 'promote' : undefined;
    case Role.Unpromoted:
      return to === Role.Promoted ? 'promote' : to === Role.Unknown ? undefined : 'stop';
    case Role.Promoted:
      return to === Role.Unknown ? undefined : 'demote';
  }
}

/** Promotion needs every start on the node to be runnable; otherwise existing promotes cannot run. */
function promoteResource(as: ActionSet, rsc: Rsc, node: SNode, optional: boolean): void {
  const runnable = as.ofRsc(rsc, 'start', node).every((s) => s.runnable);
  if (runnable) as.custom(rsc, 'promote', 0, node, optional);
  else for (const p of as.ofRsc(rsc, 'promote', node)) p.runnable = false;
}

/** Demote wherever the resource is active (a multiply active instance is demoted everywhere). */
function demoteResource(as: ActionSet, rsc: Rsc, optional: boolean, restarting: boolean): void {
  const unexpected = restarting && rsc.stopUnexpected === true;
  for (const node of rsc.runningOn) {
    if (unexpected && rsc.nextRole > Role.Stopped && node === rsc.assignedTo) continue;
    as.custom(rsc, 'demote', 0, node, optional);
  }
}

function createPrimitiveActions(ws: WorkingSet, as: ActionSet, rsc: Rsc): void {
  if (rsc.nextRole === Role.Unknown) rsc.nextRole = rsc.assignedTo ? Role.Started : Role.Stopped;
  // a resource that is not promotable never goes beyond started; one found
  // promoted or unpromoted anyway is demoted and restarted (the role matrix)
  if (!inPromotable(rsc) && rsc.nextRole > Role.Started) rsc.nextRole = Role.Started;
  const current = activeNode(rsc);
  const allActive = rsc.runningOn.length;
  const cleanActive = rsc.runningOn.filter((n) => !n.unclean).length;
  let needStop = false;
  let needPromote = false;
  let moving = false;
  let allowMigrate = false;
  if (current && rsc.assignedTo && current !== rsc.assignedTo && rsc.nextRole >= Role.Started) {
    moving = true;
    // a partial migration continues only to its target
    allowMigrate =
      canMigrate(rsc, current) &&
      (rsc.partialTarget === undefined || rsc.partialTarget === rsc.assignedTo);
    needStop = true;
  }
  for (const node of rsc.dangling ?? []) as.custom(rsc, 'stop', 0, node, false).dangle = true;
  const continuing =
    allActive === 2 &&
    cleanActive === 2 &&
    rsc.assignedTo !== undefined &&
    current === rsc.partialSource &&
    rsc.assignedTo === rsc.partialTarget;
  const multiply = !continuing && (needsFencing(rsc) ? allActive > 1 : cleanActive > 1);
  if (multiply) {
    if (rsc.multipleActive === 'stop_start' || rsc.multipleActive === 'stop_unexpected')
      needStop = true;
    if (rsc.multipleActive === 'stop_unexpected') rsc.stopUnexpected = true;
    if (rsc.partialSource && rsc.partialTarget) {
      // the migration cannot continue to another target: stop on both nodes
      rsc.partialSource = undefined;
      rsc.partialTarget = undefined;
    } else rsc.multiplyActive = true;
    allowMigrate = false;
  }
  // a start already pending in the history is represented by a start on the
  // chosen node that goes into the transition even when it is optional
  if (rsc.startPending && rsc.assignedTo)
    as.custom(rsc, 'start', 0, rsc.assignedTo, true).printAlways = true;
  if (!moving) {
    if (rsc.failed) {
      if (rsc.stopFlag) needStop = true;
      // on-fail=demote: recovered by demoting, and promoted again if it stays promoted
      else if (rsc.nextRole === Role.Promoted) needPromote = true;
    } else if (rsc.blocked) {
      needStop = true;
    } else if (rsc.role > Role.Started && current && rsc.assignedTo) {
      // a promoted instance whose start was already made required is recovered by a restart
      const start = as.custom(rsc, 'start', 0, rsc.assignedTo, true);
      if (!start.optional) needStop = true;
    }
  }

  const step = (
    kind: RoleStep,
    node: SNode | undefined,
    optional: boolean,
    restarting: boolean,
  ) => {
    switch (kind) {
      case 'stop':
        stopResource(as, rsc, optional, restarting);
        return true;
      case 'demote':
        demoteResource(as, rsc, optional, restarting);
        return true;
      case 'start':
        if (!node) return false;
        {
          const start = startResource(as, rsc, node, optional);
          // with stop_unexpected the resource keeps running where it is expected:
          // its start there is only a pseudo action
          if (restarting && rsc.stopUnexpected === true && node === rsc.assignedTo)
            start.pseudo = true;
        }
        return true;
      case 'promote':
        if (!node) return false;
        promoteResource(as, rsc, node, optional);
        return true;
      default:
        return false;
    }
  };
  // restart: down to stopped on the current node, back up to the current role on the next
  let role = rsc.role;
  while (role !== Role.Stopped) {
    const next = nextRoleToward(role, Role.Stopped);
    if (!step(roleStep(role, next), current, !needStop, true)) break;
    role = next;
  }
  while (rsc.role <= rsc.nextRole && role !== rsc.role && !rsc.blocked) {
    const next = nextRoleToward(role, rsc.role);
    const required = needStop || (next === Role.Promoted && needPromote);
    if (!step(roleStep(role, next), rsc.assignedTo, !required, true)) break;
    role = next;
  }
  // role transition: from the current role to the next
  role = rsc.role;
  while (role !== rsc.nextRole) {
    const next = nextRoleToward(role, rsc.nextRole);
    if (!step(roleStep(role, next), rsc.assignedTo, false, false)) break;
    role = next;
  }
  createRecurring(ws, as, rsc);
  if (allowMigrate && current) createMigration(as, rsc, current);
}

function canMigrate(rsc: Rsc, current: SNode): boolean {
  if (!rsc.allowMigrate) return false;
  if (!rsc.managed || rsc.failed || rsc.startPending) return false;
  // a node in standby (or shutting down) may still migrate its resources away
  if (!current.online || current.unclean) return false;
  return true;
}

function createMigration(as: ActionSet, rsc: Rsc, current: SNode): void {
  const target = rsc.assignedTo as SNode;
  const start = as.find(`${rsc.id}_start_0`, target);
  const stop = as.find(`${rsc.id}_stop_0`, current);
  if (!start || !stop) return;
  // a partial migration already ran migrate_to: only migrate_from is left
  const partial = rsc.partialTarget === target;
  // optional until the stop or start they replace is required (see the orderings below)
  const to = partial ? undefined : as.custom(rsc, 'migrate_to', 0, current, true);
  const from = as.custom(rsc, 'migrate_from', 0, target, true);
  if (to) to.migrateRunnable = true;
  from.migrateRunnable = true;
  start.migrateRunnable = true;
  stop.migrateRunnable = true;
  start.pseudo = true;
  rsc.migration = { to, from };
  // Pacemaker adds these to its list of orderings when it creates the actions,
  // after the configured orderings and before the internal ones: made then
  as.migrationOrderings.push(() => {
    if (to) as.order(to, from, O.optional | O.impliesFirstMigratable);
    // before every stop of the resource (Pacemaker orders by the stop's key): a
    // dangling migration's stop elsewhere is not migratable, so neither is this one
    for (const s of as.ofRsc(rsc, 'stop'))
      if (s.interval === 0) as.order(from, s, O.optional | O.impliesFirstMigratable);
    as.order(from, start, O.optional | O.impliesFirstMigratable | O.pseudoLeft);
  });
}

function activeRecurringKeys(rsc: Rsc, node: SNode): Set<string> {
  return rsc.activeRecurring?.get(node) ?? new Set();
}

function createRecurring(ws: WorkingSet, as: ActionSet, rsc: Rsc): void {
  const node = rsc.assignedTo;
  if (rsc.blocked || rsc.maintenance || node?.maintenance) return;
  // monitors for an active role hang off the start on the node, even a demoted instance's
  const start =
    node && (rsc.nextRole !== Role.Stopped || !rsc.managed)
      ? as.custom(rsc, 'start', 0, node, true)
      : undefined;
  for (const op of rsc.ops) {
    if (op.interval <= 0 || !op.enabled) continue;
    if (op.name !== 'monitor') continue;
    // the same name and interval configured twice (e.g. for two roles): Pacemaker uses neither
    if (rsc.ops.filter((o) => o.name === op.name && o.interval === op.interval).length > 1)
      continue;
    if (op.role === Role.Stopped) {
      recurringForInactive(ws, as, rsc, node, op.name, op.interval);
      continue;
    }
    if (rsc.nextRole === Role.Stopped || !node || !start) continue;
    const key = `${rsc.id}_${op.name}_${op.interval}`;
    // active: required when the start is, or when the monitor is not running yet
    let optional = true;
    if (!start.optional) optional = false;
    else if (!activeRecurringKeys(rsc, node).has(key)) optional = false;
    // a monitor for another role than the one the resource will have: cancel it where it runs
    const otherRole =
      op.role === Role.Unknown
        ? rsc.nextRole === Role.Promoted
        : op.role !== rsc.nextRole && !(op.role === Role.Started && rsc.nextRole === Role.Started);
    if (otherRole) {
      if (optional) {
        const cancel = as.cancel(rsc, op.name, op.interval, node);
        const after =
          rsc.role === Role.Promoted
            ? 'demote'
            : rsc.nextRole === Role.Promoted
              ? 'promote'
              : undefined;
        if (after) for (const a of as.firstActions(rsc, after)) as.order(cancel, a, O.runnableLeft);
      }
      continue;
    }
    const mon = as.custom(rsc, op.name, op.interval, node, optional);
    if (!start.runnable) mon.runnable = false;
    else if (!node.online || node.unclean) mon.runnable = false;
    if (rsc.nextRole === Role.Promoted) mon.expectedRc = 8;
    if (rsc.managed) {
      as.order(start, mon, O.impliesThen | O.runnableLeft);
      if (rsc.nextRole === Role.Promoted)
        for (const p of as.firstActions(rsc, 'promote'))
          as.order(p, mon, O.optional | O.runnableLeft);
      else if (rsc.role === Role.Promoted)
        for (const d of as.firstActions(rsc, 'demote'))
          as.order(d, mon, O.optional | O.runnableLeft);
    }
  }
}

/** A `role="Stopped"` monitor: runs on every node where the resource should not be active. */
function recurringForInactive(
  ws: WorkingSet,
  as: ActionSet,
  rsc: Rsc,
  node: SNode | undefined,
  name: string,
  interval: number,
): void {
  const key = `${rsc.id}_${name}_${interval}`;
  for (const n of ws.nodes) {
    if (node && n === node) {
      if (activeRecurringKeys(rsc, n).has(key) && rsc.runningOn.includes(n)) {
        as.cancel(rsc, name, interval, n);
      }
      continue;
    }
    let optional = activeRecurringKeys(rsc, n).has(key);
    const mon = as.custom(rsc, name, interval, n, optional);
    mon.expectedRc = 7;
    if (rsc.managed) {
      for (const stop of as.ofRsc(rsc, 'stop', n)) {
        if (!stop.optional) optional = false;
        if (!stop.runnable) mon.runnable = false;
        as.order(stop, mon, O.impliesThen | O.runnableLeft);
      }
    }
    if (!optional) mon.optional = false;
    if (!n.online || n.unclean) mon.runnable = false;
  }
}

/**
 * The recurring operations found active in a remote or guest node's history,
 * as optional actions (Pacemaker's process_recurring creates them while
 * unpacking, on every node): on such a node a recurring action is required
 * again when the node's connection starts, so a connection that moves or
 * recovers re-runs them there, even for a resource that leaves the node (but
 * not for one placed nowhere: pcmk__finalize_assignment made them unrunnable).
 */
function activeRecurringOnRemoteNodes(ws: WorkingSet, as: ActionSet): void {
  for (const r of ws.byId.values()) {
    if (r.kind !== 'primitive' || !r.activeRecurring) continue;
    for (const [node, keys] of r.activeRecurring) {
      if (node.kind === 'member') continue;
      for (const key of keys) {
        const m = /_([a-z_-]+)_(\d+)$/.exec(key);
        if (!m) continue;
        const [task, interval] = [m[1] as string, Number(m[2])];
        const a = as.custom(r, task, interval, node, true);
        // a resource placed nowhere cannot run them (but still its role="Stopped" monitors)
        const forStopped = r.ops.some(
          (o) => o.name === task && o.interval === interval && o.role === Role.Stopped,
        );
        if (!r.assignedTo && !forStopped) a.runnable = false;
      }
    }
  }
}

// ---------------------------------------------------------------- probes

/**
 * Probe a resource on a node. With `unprobed`, only collect the top-level
 * resources that would be probed on a stopped or stopping guest node.
 */
function probeResource(
  ws: WorkingSet,
  as: ActionSet,
  rsc: Rsc,
  node: SNode,
  unprobed?: Set<Rsc>,
): void {
  if (rsc.kind === 'clone') {
    if (rsc.exclusiveDiscover && rsc.discovery.get(node.index) !== 'exclusive') {
      const any = primitivesOf(rsc).some((p) => p.discovery.get(node.index) === 'exclusive');
      if (!any) return;
    }
    for (const inst of instancesToProbe(rsc, node)) probeResource(ws, as, inst, node, unprobed);
    return;
  }
  if (rsc.kind !== 'primitive') {
    for (const c of rsc.children) probeResource(ws, as, c, node, unprobed);
    return;
  }
  if (node.kind !== 'member') {
    if (rsc.cls === 'stonith') return;
    if (node.kind === 'guest' && containsGuest(rsc)) return;
    if (rsc.remoteNode) return;
  }
  if (rsc.container && !rsc.remoteNode) return;
  if (rsc.orphan) return;
  if (rsc.knownOn.has(node)) return;
  const top = rsc.parent ?? rsc;
  const mode = rsc.discovery.get(node.index);
  if (rsc.exclusiveDiscover || top.exclusiveDiscover) {
    if (rsc.allowed.get(node.index) === ABSENT) return;
    if (mode !== 'exclusive') return;
  }
  if (mode === 'never') return;
  if (node.kind === 'guest') {
    // nothing runs on a stopped guest, nor on a guest about to stop: the resource's
    // start comes after the guest's probes or stop (see guestProbeOrderings)
    const guest = node.connection?.container;
    if (guest && (guest.role === Role.Stopped || guestWillStop(node))) {
      unprobed?.add(topOf(rsc));
      return;
    }
  }
  if (unprobed) return;
  const probe = as.custom(rsc, 'monitor', 0, node, false);
  probe.expectedRc = 7;
  const flags =
    !probe.runnable && rsc.runningOn.length === 0 ? O.optional | O.runnableLeft : O.optional;
  probe.probeFlags = flags;
  orderAfterUnfencing(ws, as, rsc, node, probe);
}

/**
 * Pacemaker orders the start of every resource it would have probed on a
 * stopped guest after the guest's container's probes (pcmk__probe_rsc_on_node's
 * probe_then_start), and on a guest about to stop after the container's stop and
 * so its probes: optional orderings, with the probe restart orderings they imply.
 * They only delay starts unless the container's stop or probes never run (an
 * ordering loop, a stalled input) or they close a loop themselves, and there
 * are guests x resources x nodes of them: they are made only for a guest with
 * such an action among those the transition has but never runs (`neverRun`),
 * or one that already comes after an action they would put after it: a start
 * (not a connection's: connections are not probed on guests) or, through the
 * probe restart orderings, a stop or demotion (say the container's probe on a
 * remote node, after that node's connection restarts or after a stop an
 * anti-colocation puts before the connection's start; crm_simulate never runs
 * such a loop). True when any was made.
 */
export function guestProbeOrderings(
  ws: WorkingSet,
  as: ActionSet,
  neverRun: ReadonlySet<Action>,
): boolean {
  // (called after every executedActions pass: the graph walks below only when a guest waits)
  const pending = as.unprobedGuests.filter((g) => !g.done && g.node.connection?.container);
  if (pending.length === 0) return false;
  let made = false;
  const start = (a: Action): boolean =>
    a.task === 'start' && a.interval === 0 && a.rsc !== undefined && !a.rsc.remoteNode;
  const afterStart = actionsAfter(as, start);
  const afterRestart = actionsAfter(
    as,
    (a) => start(a) || ((a.task === 'stop' || a.task === 'demote') && a.rsc?.kind === 'primitive'),
  );
  // the orderings it follows (after collectives' starts) are not among those made here
  let orderRestarts: ((probe: Action, then: Action) => void) | undefined;
  for (const g of pending) {
    const guest = g.node.connection?.container as Rsc;
    const probes = as.ofRsc(guest, 'monitor').filter((a) => a.interval === 0);
    const firsts =
      g.task === 'stop'
        ? [...as.ofRsc(guest, 'stop').filter((a) => a.interval === 0), ...probes]
        : probes;
    const loop = g.task === 'stop' ? afterStart : afterRestart;
    if (!firsts.some((f) => neverRun.has(f) || loop.has(f))) continue;
    g.done = true;
    made = true;
    const tops = new Set<Rsc>();
    for (const r of ws.resources) probeResource(ws, as, r, g.node, tops);
    orderRestarts ??= probeRestartOrderer(ws, as);
    for (const top of tops) {
      const starts = as.ofRsc(top, 'start').filter((a) => a.interval === 0);
      for (const f of firsts) for (const t of starts) as.order(f, t, O.optional);
      // (the container's probes before such a start are added after the probe
      // restart orderings when it comes from the guest's stop: add_probe_orderings_for_stops)
      if (g.task === 'monitor') for (const p of probes) for (const t of starts) orderRestarts(p, t);
    }
  }
  return made;
}

function containsGuest(rsc: Rsc): boolean {
  return rsc.guestConnection !== undefined;
}

function guestWillStop(node: SNode): boolean {
  const conn = node.connection;
  const container = conn?.container;
  return Boolean(
    node.remoteRequiresReset ||
    node.unclean ||
    (container && container.failed) ||
    (conn && conn.nextRole === Role.Stopped) ||
    (container && container.nextRole === Role.Stopped) ||
    // the guest is moving
    (container &&
      isActiveRole(container.role) &&
      container.assignedTo !== undefined &&
      !container.runningOn.includes(container.assignedTo)),
  );
}

function scheduleProbes(ws: WorkingSet, as: ActionSet): void {
  if (!ws.config.startupProbes) return;
  for (const node of ws.nodes) {
    if (!node.online) continue;
    if (node.unclean) continue;
    if (!node.rscDiscovery) continue;
    if (node.kind === 'guest') {
      // a guest that is stopped (or about to stop) runs nothing: no probes at all
      const guest = node.connection?.container;
      if (!guest) continue;
      if (guest.role === Role.Stopped) {
        // (probe_then_start: only when the container will start where its state is unknown)
        if (guest.assignedTo && !guest.knownOn.has(guest.assignedTo))
          as.unprobedGuests.push({ node, task: 'monitor', done: false });
        continue;
      }
      if (guestWillStop(node)) {
        as.unprobedGuests.push({ node, task: 'stop', done: false });
        continue;
      }
    }
    for (const r of ws.resources) probeResource(ws, as, r, node);
  }
}

// ---------------------------------------------------------------- groups

function createGroupActions(ws: WorkingSet, as: ActionSet, g: Rsc): void {
  for (const c of g.children) createPrimitiveActions(ws, as, c);
  for (const task of ['start', 'running', 'stop', 'stopped'])
    as.custom(g, task, 0, undefined, true, { pseudo: true });
  const first = g.children[0];
  g.nextRole = first ? first.nextRole : Role.Stopped;
}

function groupInternal(as: ActionSet, g: Rsc): void {
  const ordered = (g.meta.ordered ?? 'true') !== 'false';
  as.orderRsc(g, 'stopped', g, 'start', O.optional);
  as.orderRsc(g, 'stop', g, 'stopped', O.runnableLeft);
  as.orderRsc(g, 'start', g, 'running', O.runnableLeft);
  let prev: Rsc | undefined;
  let lastActive: Rsc | undefined;
  for (const m of g.children) {
    primitiveInternal(as, m);
    as.orderRsc(g, 'stop', m, 'stop', O.optional);
    // (implies_then_printed, or implies_then for the first member: an input in the
    // graph even when the member's stop is part of a migration)
    as.orderRsc(m, 'stop', g, 'stopped', O.optional | O.printed);
    as.orderRsc(g, 'start', m, 'start', O.optional);
    as.orderRsc(m, 'start', g, 'running', O.runnableLeft);
    if (ordered && prev) {
      as.orderRsc(prev, 'start', m, 'start', O.impliesThen | O.runnableLeft);
      as.orderRsc(m, 'stop', prev, 'stop', O.optional | O.restart);
      // every ordering between two resources has migration equivalents, a group's
      // internal ones between members too (pcmk__new_ordering)
      migrationEquivalents(as, prev, 'start', m, 'start');
      migrationEquivalents(as, m, 'stop', prev, 'stop');
    }
    if (m.runningOn.length > 0) {
      if (
        ordered &&
        prev &&
        prev.runningOn.length === 0 &&
        lastActive &&
        lastActive.runningOn.length > 0
      ) {
        as.orderRsc(m, 'stop', lastActive, 'stop', O.optional);
        migrationEquivalents(as, m, 'stop', lastActive, 'stop');
      }
      lastActive = m;
    }
    prev = m;
  }
}

// ---------------------------------------------------------------- orderings

/**
 * Each probe before its resource's starts, once the internal orderings exist
 * (Pacemaker schedules probes after creating those, so a start an internal
 * ordering created without a node, such as the previous group member's, is
 * ordered after the probe too).
 */
function probeStartOrderings(ws: WorkingSet, as: ActionSet): void {
  for (const rsc of ws.byId.values()) {
    if (rsc.kind !== 'primitive') continue;
    for (const probe of as.ofRsc(rsc, 'monitor')) {
      if (probe.interval !== 0) continue;
      const flags = probe.probeFlags ?? O.optional;
      for (const s of as.ofRsc(rsc, 'start')) as.order(probe, s, flags);
      // probe, then migrate_to (migrate_from when migrate_to already ran)
      const m = rsc.migration;
      if (m) as.order(probe, m.to ?? m.from, O.optional);
    }
  }
}

function primitiveInternal(as: ActionSet, rsc: Rsc): void {
  if (rsc.noInternalConstraints) return;
  as.orderRsc(rsc, 'stop', rsc, 'start', O.optional | O.impliesThen | O.restart);
  if (inPromotable(rsc) || rsc.role > Role.Unpromoted) {
    // demote before stop (required when a promoted resource must stop), start before promote
    as.orderRsc(rsc, 'demote', rsc, 'stop', O.promotedImpliesFirst);
    as.orderRsc(rsc, 'start', rsc, 'promote', O.runnableLeft);
  }
  if (rsc.container && !containerNodeConnection(rsc)) {
    as.orderRsc(rsc.container, 'start', rsc, 'start', O.impliesThen | O.runnableLeft);
    as.orderRsc(rsc, 'stop', rsc.container, 'stop', O.impliesFirst);
    as.orderRsc(rsc.container, 'monitor', rsc, 'stop', O.optional);
  }
}

/**
 * Placement strategies other than default: a load_stopped pseudo action per
 * node a resource with utilization may consider, after the resource's stops
 * on that node and before its start (or migration) there, so that what leaves
 * a node frees its capacity before anything new arrives.
 */
function utilizationOrderings(ws: WorkingSet, as: ActionSet): void {
  const loadStopped = (node: SNode): Action =>
    as.custom(undefined, 'load_stopped', 0, node, false, {
      pseudo: true,
      key: `load_stopped_${node.name}`,
    });
  for (const r of ws.byId.values()) {
    if (r.kind !== 'primitive' || !r.loadNodes || !r.managed) continue;
    for (const node of r.runningOn) {
      const ls = loadStopped(node);
      for (const stop of as.ofRsc(r, 'stop', node)) as.order(stop, ls, O.optional);
    }
    for (const node of r.loadNodes) {
      const ls = loadStopped(node);
      for (const start of as.ofRsc(r, 'start', node)) as.order(ls, start, O.optional);
      if (r.assignedTo === node)
        for (const m of as.ofRsc(r, 'migrate_to')) as.order(ls, m, O.optional);
    }
  }
}

/**
 * An action on a guest node never waits in the graph for an action of the
 * guest's own container (Pacemaker's ordering_is_invalid, once flags have
 * propagated): a configured "rsc then vm" with rsc placed inside vm's guest,
 * or its inverse "rsc stop then vm stop", would otherwise close a loop with
 * the container start (stop) the guest's actions wait for (come before).
 * Pacemaker exempts its internal remote orderings (pe_order_preserve, O.preserve
 * here); none of them goes from a guest's action to its container.
 */
function dropGuestContainerOrderings(as: ActionSet): void {
  const invalid = (o: Ordering): boolean =>
    !(o.flags & O.preserve) &&
    o.first.rsc !== undefined &&
    o.then.rsc !== undefined &&
    o.first.node?.kind === 'guest' &&
    o.first.node.connection?.container === o.then.rsc;
  const drop = as.orderings.filter(invalid);
  for (const o of drop) as.unorder(o.first, (t) => t === o.then);
}

/**
 * Resources migrating both ways between two nodes order each other through
 * the nodes' load_stopped pseudo actions (stop there, load_stopped, migrate_to
 * here): Pacemaker drops a "load_stopped then migrate_to" ordering that would
 * close a loop in the graph (its ordering_is_invalid).
 */
function breakLoadLoops(as: ActionSet): void {
  const live = (a: Action): boolean => !a.optional && a.runnable;
  for (const ls of as.actions) {
    if (ls.task !== 'load_stopped') continue;
    for (const o of [...ls.after]) {
      const m = o.then;
      if (m.task !== 'migrate_to' || !live(m)) continue;
      // does load_stopped (transitively) wait for the migrate_to it would come before?
      const seen = new Set<Action>();
      const stack = [ls];
      let loop = false;
      while (stack.length > 0 && !loop) {
        const a = stack.pop() as Action;
        for (const i of a.before) {
          if (!live(i.first) || seen.has(i.first)) continue;
          if (i.first === m) loop = true;
          seen.add(i.first);
          stack.push(i.first);
        }
      }
      if (loop) as.unorder(ls, (t) => t === m);
    }
  }
}

function orderConstraintFlags(
  kind: OrderConstraint['orderKind'],
  firstAction: string,
  symmetric: boolean,
  inverse: boolean,
): number {
  let flags: number = O.optional;
  if (kind === 'Optional') return flags;
  if (kind === 'Serialize') return flags | O.serialize;
  if (!symmetric) return flags | O.asymmetrical;
  if (inverse) return flags | O.impliesFirst;
  flags |= O.impliesThen;
  if (firstAction === 'start' || firstAction === 'promote') flags |= O.runnableLeft;
  return flags;
}

const INVERSE: Record<string, string> = {
  start: 'stop',
  stop: 'start',
  promote: 'demote',
  demote: 'promote',
  running: 'stopped',
  stopped: 'running',
  promoted: 'demoted',
  demoted: 'promoted',
};

function userOrderings(ws: WorkingSet, as: ActionSet): void {
  // -INFINITY colocations order too, where Pacemaker unpacks them among the orderings
  const anti = new Map<string, Coloc[]>();
  for (const co of ws.colocations) {
    if (co.score > -INF) continue;
    const list = anti.get(co.id);
    if (list) list.push(co);
    else anti.set(co.id, [co]);
  }
  for (const c of ws.constraints) {
    if (c.kind === 'colocation') {
      for (const co of anti.get(c.id) ?? []) {
        antiColocationOrder(as, co.dependent, co.dependentRole, co.primary, co.primaryRole);
        antiColocationOrder(as, co.primary, co.primaryRole, co.dependent, co.dependentRole);
      }
      anti.delete(c.id);
      continue;
    }
    if (c.kind !== 'order') continue;
    const symmetric = c.symmetrical && c.orderKind !== 'Serialize';
    if (c.first !== undefined && c.then !== undefined) {
      const a = ws.byId.get(c.first) ?? ws.aliases.get(c.first);
      const b = ws.byId.get(c.then) ?? ws.aliases.get(c.then);
      if (!a || !b) continue;
      // the deprecated restart-type=restart of "then" makes an optional ordering imply restarts
      const restart = c.orderKind === 'Optional' && restartType(b);
      const flags =
        orderConstraintFlags(c.orderKind, c.firstAction, symmetric, false) |
        (restart ? O.impliesThen : 0);
      const min = a.kind === 'clone' ? cloneMinimum(a, c.requireAll) : 0;
      if (min > 0) orderAfterMinimum(as, c.id, a, c.firstAction, b, c.thenAction, flags, min);
      else orderUser(ws, as, a, c.firstAction, b, c.thenAction, flags, b);
      const fi = INVERSE[c.thenAction];
      const ti = INVERSE[c.firstAction];
      if (symmetric && fi && ti) {
        const iflags =
          orderConstraintFlags(c.orderKind, fi, true, true) | (restart ? O.impliesFirst : 0);
        orderUser(ws, as, b, fi, a, ti, iflags, b);
      }
      continue;
    }
    let last: ResourceSet | undefined;
    for (const set of c.sets) {
      orderWithinSet(ws, as, c, set);
      if (last) {
        orderSets(ws, as, c, last, set, symmetric, false);
        if (symmetric) orderSets(ws, as, c, set, last, true, true);
      }
      last = set;
    }
  }
}

/**
 * What keeps two resources apart with -INFINITY (Pacemaker's
 * anti_colocation_order): `first` losing its role (stop, or demote when
 * promoted; also promote when the colocation names the unpromoted role) before
 * `then` gaining its role (start, or promote; also demote for unpromoted).
 */
function antiColocationOrder(
  as: ActionSet,
  first: Rsc,
  firstRole: Role,
  then: Rsc,
  thenRole: Role,
): void {
  const firstTasks =
    firstRole === Role.Promoted
      ? ['demote']
      : firstRole === Role.Unpromoted
        ? ['stop', 'promote']
        : ['stop'];
  const thenTasks =
    thenRole === Role.Promoted
      ? ['promote']
      : thenRole === Role.Unpromoted
        ? ['start', 'demote']
        : ['start'];
  for (const ft of firstTasks)
    for (const tt of thenTasks)
      orderResources(as, first, ft, then, tt, O.antiColocation, O.antiColocation);
}

/** The deprecated `restart-type="restart"` meta attribute. */
function restartType(r: Rsc): boolean {
  return (r.meta['restart-type'] ?? '').toLowerCase() === 'restart';
}

/** Instances of a first clone that must be runnable (clone-min, or 1 with require-all=false). */
function cloneMinimum(clone: Rsc, requireAll: boolean): number {
  const min = clone.clone?.min ?? 0;
  if (min > 0) return min;
  return requireAll ? 0 : 1;
}

/**
 * "then" after enough instances of the first clone: each instance's action
 * before a pseudo action that is runnable once `min` of them are
 * (Pacemaker's clone-one-or-more), and "then" after that pseudo action.
 */
function orderAfterMinimum(
  as: ActionSet,
  id: string,
  clone: Rsc,
  fa: string,
  b: Rsc,
  ta: string,
  flags: number,
  min: number,
): void {
  const key = `clone-one-or-more:${id}`;
  const met = as.custom(undefined, key, 0, undefined, true, { pseudo: true, key });
  met.requiredRunnable = min;
  for (const inst of clone.children)
    for (const f of as.firstActions(inst, fa, true)) as.order(f, met, O.oneOrMore);
  // (a group's own pseudo action: propagation passes its flags on to each member)
  for (const t of userThens(as, b, ta)) as.order(met, t, flags | O.runnableLeft);
}

function setResources(ws: WorkingSet, c: OrderConstraint, set: ResourceSet): Rsc[] {
  const out: Rsc[] = [];
  for (const id of set.resources) {
    const r = ws.byId.get(id) ?? ws.aliases.get(id);
    if (r) out.push(r);
    else
      ws.warnings.push(`order '${c.id}': set '${set.id}' refers to '${id}', which does not exist`);
  }
  return out;
}

/** The orderings inside one set: a chain when sequential, everything after everything before with Serialize. */
function orderWithinSet(ws: WorkingSet, as: ActionSet, c: OrderConstraint, set: ResourceSet): void {
  const rscs = setResources(ws, c, set);
  if (rscs.length < 2) return;
  const kindAttr = set.attributes.kind;
  const kind: OrderConstraint['orderKind'] =
    kindAttr === 'Optional' || kindAttr === 'Serialize' || kindAttr === 'Mandatory'
      ? kindAttr
      : c.orderKind;
  const symAttr = set.attributes.symmetrical;
  const symmetric =
    kind !== 'Serialize' &&
    (symAttr !== undefined ? parseBoolean(symAttr, true) : kindAttr !== undefined || c.symmetrical);
  const action = set.action ?? 'start';
  const flags = orderConstraintFlags(kind, action, symmetric, false);
  for (let i = 0; i < rscs.length; i++) {
    const r = rscs[i] as Rsc;
    if (kind === 'Serialize') {
      for (const later of rscs.slice(i + 1))
        orderUser(ws, as, r, action, later, action, flags, later);
    } else if (set.sequential && i > 0) {
      orderUser(ws, as, rscs[i - 1] as Rsc, action, r, action, flags, r);
    }
  }
  const inverse = INVERSE[action];
  if (!symmetric || !inverse || !set.sequential) return;
  const iflags = orderConstraintFlags(kind, inverse, true, true);
  for (let i = 1; i < rscs.length; i++)
    orderUser(ws, as, rscs[i] as Rsc, inverse, rscs[i - 1] as Rsc, inverse, iflags, rscs[i] as Rsc);
}

/**
 * The orderings between two consecutive sets (or, inverted, the later set's
 * stops before the earlier set's). Between sets only an explicit
 * `sequential="true"` makes a set count by its first/last member, as in
 * Pacemaker 2.1; with `require-all="false"` the first set's members feed a
 * `one-or-more:SET` pseudo action that is runnable when any of them is.
 */
function orderSets(
  ws: WorkingSet,
  as: ActionSet,
  c: OrderConstraint,
  set1: ResourceSet,
  set2: ResourceSet,
  symmetric: boolean,
  inverse: boolean,
): void {
  let a1 = set1.action ?? 'start';
  let a2 = set2.action ?? 'start';
  if (inverse) {
    a1 = INVERSE[a1] ?? a1;
    a2 = INVERSE[a2] ?? a2;
  }
  const requireAll = set1.requireAll || a1 === 'stop' || a1 === 'demote';
  const flags = orderConstraintFlags(c.orderKind, a2, symmetric, inverse);
  const r1 = setResources(ws, c, set1);
  const r2 = setResources(ws, c, set2);
  if (!requireAll) {
    const key = `one-or-more:${set1.id}`;
    const any = as.custom(undefined, key, 0, undefined, true, { pseudo: true, key });
    any.requiredRunnable = 1;
    for (const r of r1) orderUserToAction(as, r, a1, any, O.oneOrMore);
    for (const r of r2) orderActionToUser(as, any, r, a2, flags | O.runnableLeft);
    return;
  }
  const explicit = (s: ResourceSet): boolean => parseBoolean(s.attributes.sequential, false);
  const firsts =
    explicit(set1) && r1.length > 0 ? [(inverse ? r1[0] : r1[r1.length - 1]) as Rsc] : r1;
  const thens =
    explicit(set2) && r2.length > 0 ? [(inverse ? r2[r2.length - 1] : r2[0]) as Rsc] : r2;
  // the dependent (whose interleave counts) is the resource that comes later when starting
  for (const f of firsts)
    for (const t of thens) orderUser(ws, as, f, a1, t, a2, flags, inverse ? f : t);
}

/** A resource's action (a group's completion pseudo action) before a given action. */
function orderUserToAction(as: ActionSet, a: Rsc, fa: string, then: Action, flags: number): void {
  const firstTask = completionTask(a, fa);
  const own = collectiveAction(as, a, fa, firstTask);
  for (const f of as.firstActions(a, firstTask, true)) remapped(as.order(f, then, flags, own));
}

/** A collective's own action for a task an ordering after it converts (its start for running). */
function collectiveAction(
  as: ActionSet,
  a: Rsc,
  task: string,
  converted: string,
): Action | undefined {
  if (converted === task) return undefined;
  return as.ofRsc(a, task).find((x) => x.interval === 0);
}

/** A given action before a resource's action (each group member's). */
function orderActionToUser(as: ActionSet, first: Action, b: Rsc, ta: string, flags: number): void {
  // a collective's own pseudo action: propagation passes its flags on to each member
  for (const t of userThens(as, b, ta)) as.order(first, t, flags);
}

/**
 * The actions a configured ordering leads to: the resource's own for the task,
 * not those only an internal ordering created (Pacemaker has not created them
 * yet when it applies the configured orderings, and ignores the ordering).
 */
function userThens(as: ActionSet, b: Rsc, ta: string): Action[] {
  return as.ofRsc(b, ta).filter((x) => x.interval === 0 && !x.lateFirst);
}

/** An ordering between resources, where either may be a group (its pseudo action stands for it). */
function orderUser(
  ws: WorkingSet,
  as: ActionSet,
  a: Rsc,
  fa: string,
  b: Rsc,
  ta: string,
  flags: number,
  dependent: Rsc,
): void {
  if (a.kind === 'clone' && b.kind === 'clone' && a !== b && dependent.clone?.interleave) {
    orderInterleaved(ws, as, a, fa, b, ta, flags);
    return;
  }
  for (const o of orderResources(as, a, fa, b, ta, flags)) remapped(o);
  migrationEquivalents(as, a, fa, b, ta);
}

/**
 * `a`'s `fa` before `b`'s `ta`, as Pacemaker makes an ordering between resources
 * (configured, or for an anti-colocation): a collective's own pseudo action
 * stands for it and propagation passes its flags on to each member or instance;
 * a missing 'first' is created without a node; a stop of a stopped 'first' is
 * remembered with `stopOfStoppedFlags` (its probes are ordered instead).
 * Returns the orderings made.
 */
function orderResources(
  as: ActionSet,
  a: Rsc,
  fa: string,
  b: Rsc,
  ta: string,
  flags: number,
  stopOfStoppedFlags: number = O.optional,
): (Ordering | undefined)[] {
  const firstTask = completionTask(a, fa);
  const firsts = as.firstActions(a, firstTask, true);
  const thens = userThens(as, b, ta);
  if (firsts.length === 0) as.noteStopOfStopped(a, firstTask, b, thens, stopOfStoppedFlags);
  const own = collectiveAction(as, a, fa, firstTask);
  const made: (Ordering | undefined)[] = [];
  for (const f of firsts) for (const t of thens) made.push(as.order(f, t, flags, own));
  return made;
}

/** The task an ordering after `a` waits for: a collective's completion (running for start). */
function completionTask(a: Rsc, task: string): string {
  return a.kind === 'group' || a.kind === 'clone' ? groupTask(task, true) : task;
}

/**
 * An ordering after a collective's completion standing for its start (stop, ...):
 * Pacemaker orders after the start and swaps in the completion only when it first
 * updates 'then' (action_for_ordering), so it counts from the next update on.
 */
function remapped(o: Ordering | undefined): void {
  if (!o?.collectiveFirst || !o.first.rsc || !o.then.rsc) return;
  for (let p = o.then.rsc.parent; p; p = p.parent) if (p === o.first.rsc) return;
  o.remapped = true;
  (o.collectiveFirst.remappedAfter ??= []).push(o);
}

/** The group pseudo action that marks a task as complete for orderings after it. */
function groupTask(task: string, first: boolean): string {
  if (!first) return task;
  switch (task) {
    case 'start':
      return 'running';
    case 'stop':
      return 'stopped';
    default:
      return task;
  }
}

// ---------------------------------------------------------------- remote nodes

type RemoteState = 'unknown' | 'alive' | 'resting' | 'failed' | 'stopped';

function remoteState(node: SNode): RemoteState {
  const conn = node.connection as Rsc;
  const cluster = conn.runningOn[0];
  if (conn.nextRole === Role.Stopped || !conn.assignedTo) {
    if (cluster && cluster.unclean) return 'failed';
    if (!conn.failed) return 'stopped';
    return 'failed';
  }
  if (!cluster) return 'unknown';
  if (cluster.unclean || !cluster.online) return 'resting';
  return 'alive';
}

function remoteOrderings(ws: WorkingSet, as: ActionSet): void {
  // Pacemaker visits the actions newest first (its list is built by prepending), so
  // a connection's start is ordered before its newest action on the node first and
  // its oldest (the probes) last, which is the order flags propagate along later;
  // a remote node's first fencing reason is kept: the stops scheduled while
  // unpacking failures are its oldest actions, then come the probes, then the others
  const fences: { node: SNode; reason: string; rank: number }[] = [];
  const rankOf = (a: Action): number => {
    const forced = ws.forcedStops.findIndex(
      (f) => a.task === 'stop' && f.rsc === a.rsc && f.node === a.node,
    );
    return forced >= 0 ? forced - ws.forcedStops.length : a.id;
  };
  for (const a of [...as.actions].reverse()) {
    const rsc = a.rsc;
    if (!rsc || !a.node || a.node.kind === 'member' || !a.node.connection || a.pseudo) continue;
    if (rsc.remoteNode) continue;
    const conn = a.node.connection;
    const state = remoteState(a.node);
    const startsOf = (): Action[] => as.ofRsc(conn, 'start');
    const stopsOf = (): Action[] => as.ofRsc(conn, 'stop');
    // the connection's start comes first, and 'a' cannot run unless that start can
    // (a connection without a start gets an unrunnable one, as for any ordering)
    const startThen = (flags: number): void => {
      for (const s of as.firstActions(conn, 'start'))
        as.order(s, a, flags | O.runnableLeft | O.preserve);
      if (a.task === 'start') migrationEquivalents(as, conn, 'start', rsc, 'start');
    };
    const thenStop = (flags: number): void => {
      for (const s of stopsOf()) as.order(a, s, flags | O.preserve);
      if (a.task === 'stop') migrationEquivalents(as, rsc, 'stop', conn, 'stop');
    };
    // a resource moving onto a remote or guest node stops where it was only after the
    // connection started (if that fails, it stays where it runs)
    if (a.task === 'start')
      for (const other of rsc.actions)
        if (other.task === 'stop' && other.node !== a.node)
          for (const s of startsOf()) as.order(s, other, O.optional);
    let task = a.task;
    if (task === 'migrate_to' || task === 'migrate_from') task = 'stop';
    const container = conn.container;
    if (a.node.kind === 'guest' && container) {
      guestOrdering(as, a, task, container, startThen, thenStop);
      continue;
    }
    const fence = (reason: string): void => {
      fences.push({ node: a.node as SNode, reason, rank: rankOf(a) });
    };
    if (task === 'start' || task === 'promote') {
      startThen(state === 'failed' ? O.impliesThen : 0);
    } else if (task === 'stop') {
      if (state === 'alive') thenStop(O.impliesFirst);
      else if (state === 'failed') fence('resources are active but connection is unrecoverable');
      else if (conn.nextRole === Role.Stopped) thenStop(O.impliesFirst);
      else startThen(0);
    } else if (task === 'demote') {
      if (state === 'resting' || state === 'unknown') startThen(0);
    } else if (a.interval > 0) {
      startThen(O.impliesThen);
    } else {
      if (task === 'monitor' && state === 'failed')
        fence('resources are in unknown state and connection is unrecoverable');
      if (conn.runningOn.length > 0 && state === 'stopped') thenStop(O.runnableLeft);
      else startThen(0);
    }
  }
  fences.sort((x, y) => y.rank - x.rank);
  for (const f of fences) fenceNode(f.node, f.reason);
}

/** A collective's completion pseudo action for a task (what orderings after it count from). */
const COMPLETED: Readonly<Record<string, string>> = {
  start: 'running',
  stop: 'stopped',
  promote: 'promoted',
  demote: 'demoted',
};

/**
 * The migration actions' share of an ordering between two resources, one of
 * which may migrate (Pacemaker's order_migration_equivalents): "A start then
 * B start" also orders A's start (unless A migrates) and A's migrate_from
 * before B's migrate_to; "A stop then B stop" orders A's stops before B's
 * migrate_to (and its migrate_from when B's migration is partial), and so do
 * "A promote then B start" and "A demote then B stop" with A's promote and
 * demote. Pacemaker does this for every ordering between two resources, the
 * configured ones too. All
 * optional: they only order the graph.
 */
function migrationEquivalents(as: ActionSet, a: Rsc, fa: string, b: Rsc, ta: string): void {
  if (a === b || (!a.allowMigrate && !b.allowMigrate)) return;
  for (let p = a.parent; p; p = p.parent) if (p === b) return;
  for (let p = b.parent; p; p = p.parent) if (p === a) return;
  const order = (f: Rsc, ft: string, t: Rsc, tt: string, flags: number): void => {
    const thens = as.ofRsc(t, tt);
    if (thens.length === 0) return;
    // a collective's completion pseudo action stands for it (as for any ordering after it)
    const collective = f.kind === 'group' || f.kind === 'clone';
    const done = collective ? (COMPLETED[ft] ?? ft) : ft;
    const firsts = as.ofRsc(f, done);
    // "stop A then B migrate_to" with A stopped still orders A's probes (probe-orderings.ts)
    if (firsts.length === 0) as.noteStopOfStopped(f, ft, t, thens);
    const own = collective ? collectiveAction(as, f, ft, done) : undefined;
    for (const x of firsts) for (const y of thens) remapped(as.order(x, y, flags, own));
  };
  const nonMigrating = a.allowMigrate ? O.firstNonMigratable : 0;
  if (fa === 'start' && ta === 'start') {
    if (a.allowMigrate && b.allowMigrate) order(a, 'migrate_from', b, 'migrate_to', O.optional);
    if (b.allowMigrate) order(a, 'start', b, 'migrate_to', O.optional | nonMigrating);
  } else if (fa === 'stop' && ta === 'stop' && b.allowMigrate) {
    order(a, 'stop', b, 'migrate_to', O.optional | nonMigrating);
    if (b.partialTarget) order(a, 'stop', b, 'migrate_from', O.optional | nonMigrating);
  } else if (fa === 'promote' && ta === 'start' && b.allowMigrate) {
    order(a, 'promote', b, 'migrate_to', O.optional);
  } else if (fa === 'demote' && ta === 'stop' && b.allowMigrate) {
    order(a, 'demote', b, 'migrate_to', O.optional);
    if (b.partialTarget) order(a, 'demote', b, 'migrate_from', O.optional);
  }
}

/**
 * An action on a guest node against the guest's container and connection
 * (Pacemaker's apply_container_ordering): a start or promote there is
 * required again when the container starts (it moves or recovers: "due to
 * required CONTAINER start") and waits for the connection; a stop or demote
 * comes before the connection stops, unless the failed container implies
 * it; anything else waits for the connection (recurring monitors are
 * required again when it starts).
 */
function guestOrdering(
  as: ActionSet,
  a: Action,
  task: string,
  container: Rsc,
  startThen: (flags: number) => void,
  thenStop: (flags: number) => void,
): void {
  if (task === 'start' || task === 'promote') {
    for (const s of as.ofRsc(container, 'start'))
      as.order(s, a, O.impliesThen | O.runnableLeft | O.preserve);
    startThen(0);
  } else if (task === 'stop' || task === 'demote') {
    if (!container.failed) thenStop(0);
  } else if (a.interval > 0) {
    startThen(O.impliesThen);
  } else {
    startThen(0);
  }
}

// ---------------------------------------------------------------- fencing

function canFence(ws: WorkingSet, node: SNode): boolean {
  if (node.kind === 'guest') {
    const container = node.connection?.container;
    for (const host of container?.runningOn ?? [])
      if (!host.online && !canFence(ws, host)) return false;
    return true;
  }
  const c = ws.config;
  if (!c.stonithEnabled || !c.haveStonithResource) return false;
  if (c.haveQuorum || c.noQuorumPolicy === 'ignore') return true;
  return node.online;
}
export { canFence };

function fenceAction(ws: WorkingSet, as: ActionSet, node: SNode, reason: string): Action {
  const action = ws.config.stonithAction;
  const a = as.custom(undefined, 'stonith', 0, node, false, {
    key: `stonith-${node.name}-${action}`,
  });
  a.fenceAction = action;
  setReason(a, reason);
  return a;
}

function orderStopsVsFence(ws: WorkingSet, as: ActionSet, fence: Action, node: SNode): void {
  // in Pacemaker's order of resources (guest connections last): the orderings made
  // here are visited in that order
  for (const rsc of ws.resources.flatMap(primitivesOf)) {
    if (!rsc.managed) continue;
    for (const stop of as.ofRsc(rsc, 'stop', node)) {
      stop.pseudo = true;
      stop.runnable = true;
      if (needsFencing(rsc) || node.kind === 'guest') as.orderEarly(fence, stop, O.optional);
      notifyAfterFencing(as, rsc, fence);
      // the stop is implied by the fencing: the node's connection need not wait for it
      // (it would wait for the fencing, which waits for the guest's container to stop)
      if (node.connection) as.unorder(stop, (t) => t.rsc === node.connection && t.task === 'stop');
    }
    // a demote there would never complete: the fencing implies it
    for (const demote of as.ofRsc(rsc, 'demote', node)) {
      demote.pseudo = true;
      demote.runnable = true;
      if (needsFencing(rsc) || node.kind === 'guest') as.orderEarly(fence, demote, O.optional);
    }
    orderStartsVsFence(as, rsc, fence, node);
  }
}

/**
 * A resource's starts (and promotes) wait for a fencing (order_start_vs_fencing):
 * all of them when it requires fencing; when it requires only quorum, a start
 * waits (and is runnable only when the fencing is) if the fenced node is among
 * those the resource may consider and its state there is unknown, as it may
 * be active there.
 */
function orderStartsVsFence(as: ActionSet, rsc: Rsc, fence: Action, node: SNode): void {
  if (needsFencing(rsc)) {
    for (const a of rsc.actions)
      if ((a.task === 'start' || a.task === 'promote') && a.node !== node)
        as.orderEarly(fence, a, O.optional);
    return;
  }
  if (rsc.requires !== 'quorum' || rsc.allowed.get(node.index) === ABSENT) return;
  if (knownOnForFencing(rsc, node)) return;
  for (const a of rsc.actions)
    if (a.task === 'start') as.orderEarly(fence, a, O.optional | O.runnableLeft);
}

/** Known on a node, directly or, for an anonymous clone's primitive instance, through its clone. */
function knownOnForFencing(rsc: Rsc, node: SNode): boolean {
  if (rsc.knownOn.has(node)) return true;
  const p = rsc.parent;
  if (p?.kind !== 'clone' || p.clone?.unique !== false) return false;
  return p.children.some((c) => c.knownOn.has(node));
}

/**
 * Fencing of unclean nodes and shutdowns of nodes asked to shut down. Without
 * concurrent-fencing the fencings of non-DC nodes run one after the other; the
 * DC's fencing or shutdown comes after every other node's fencing (the last in
 * that chain) and its shutdown after every other shutdown, so the cluster does
 * not elect a new DC more than once (all optional orderings).
 */
function scheduleFencingAndShutdowns(ws: WorkingSet, as: ActionSet): void {
  const haveManaged = [...ws.byId.values()].some((r) => r.kind === 'primitive' && r.managed);
  let dcDown: Action | undefined;
  const fencings: Action[] = [];
  const shutdowns: Action[] = [];
  for (const node of ws.nodes) {
    if (node.kind === 'guest') {
      if (node.remoteRequiresReset && haveManaged && canFence(ws, node)) fenceGuest(ws, as, node);
      continue;
    }
    if (haveManaged && node.unclean && canFence(ws, node)) {
      const f = fenceAction(ws, as, node, node.fenceReason ?? 'node is unclean');
      orderStopsVsFence(ws, as, f, node);
      if (node.isDc) dcDown = f;
      else {
        const previous = fencings[fencings.length - 1];
        if (!ws.config.concurrentFencing && previous) as.orderEarly(previous, f, O.optional);
        fencings.push(f);
      }
    } else if (node.kind === 'member' && node.online && node.shutdown) {
      const down = as.custom(undefined, 'do_shutdown', 0, node, false, {
        key: `do_shutdown-${node.name}`,
      });
      // every stop there comes first and is required, except of resources left alone
      // (maintenance, or unmanaged and not blocked) so they do not hold the shutdown up
      for (const stop of as.actions) {
        if (stop.task !== 'stop' || stop.node !== node || !stop.rsc || stop.interval !== 0)
          continue;
        const rsc = stop.rsc;
        if (rsc.maintenance || ws.config.maintenanceMode || node.maintenance) continue;
        if (!rsc.managed && !rsc.blocked) continue;
        stop.optional = false;
        as.order(stop, down, O.optional | O.runnableLeft);
      }
      if (node.isDc) dcDown = down;
      else shutdowns.push(down);
    }
  }
  if (!dcDown) return;
  if (dcDown.task === 'do_shutdown')
    for (const s of shutdowns) as.orderEarly(s, dcDown, O.optional);
  const before = ws.config.concurrentFencing ? fencings : fencings.slice(-1);
  for (const f of before) as.orderEarly(f, dcDown, O.optional);
}

function fenceGuest(ws: WorkingSet, as: ActionSet, node: SNode): void {
  const container = node.connection?.container;
  if (!container) return;
  const stop = as.ofRsc(container, 'stop')[0];
  // only a label (the container's recovery does the fencing): "reboot" when the
  // container has a start of its own in this transition, however optional or
  // unrunnable, else "off"; a blocked container gets no start. Starts created
  // without a node come from orderings, which Pacemaker applies after this.
  const action = as.ofRsc(container, 'start').some((s) => s.node !== undefined) ? 'reboot' : 'off';
  const fence = as.custom(undefined, 'stonith', 0, node, false, {
    key: `stonith-${node.name}-${action}`,
    pseudo: true,
  });
  fence.fenceAction = action;
  setReason(fence, 'guest is unclean');
  fence.guestOf = container;
  if (stop) as.orderEarly(stop, fence, O.impliesThen | O.runnableLeft);
  orderStopsVsFence(ws, as, fence, node);
}

// ---------------------------------------------------------------- unfencing

/**
 * A node's unfencing (the "on" fencing action, Pacemaker's pe_fence_op),
 * optional until something requires it; a required one needs a node that
 * can be fenced. The first reason given stays.
 */
function unfenceAction(
  ws: WorkingSet,
  as: ActionSet,
  node: SNode,
  required: boolean,
  reason?: string,
): Action {
  const a = as.custom(undefined, 'stonith', 0, node, true, { key: `stonith-${node.name}-on` });
  a.fenceAction = 'on';
  if (required && canFence(ws, node)) a.optional = false;
  if (reason !== undefined) setReason(a, reason);
  return a;
}

/**
 * Unfence a node because of a fence device (trigger_unfencing): the node
 * given, when it is up and staying, else every such node the device may
 * run on. Nothing when no device unfences, or `rsc` is not a fence device.
 */
function triggerUnfencing(
  ws: WorkingSet,
  as: ActionSet,
  rsc: Rsc | undefined,
  node: SNode | undefined,
  reason: string,
): void {
  if (!ws.config.enableUnfencing) return;
  if (rsc && rsc.cls !== 'stonith') return;
  const up = (n: SNode): boolean => n.online && !n.unclean && !n.shutdown;
  if (node && up(node)) {
    unfenceAction(ws, as, node, true, reason);
  } else if (rsc) {
    for (const n of ws.nodes)
      if (rsc.allowed.get(n.index) !== ABSENT && up(n)) unfenceAction(ws, as, n, true, reason);
  }
}

/**
 * A probe (or start) of a resource that requires unfencing, or of a fence
 * device while unfencing is in use, comes after the node's unfencing
 * (pcmk__order_vs_unfence); a node never unfenced must be unfenced first
 * ("required by RSC monitor").
 */
function orderAfterUnfencing(
  ws: WorkingSet,
  as: ActionSet,
  rsc: Rsc,
  node: SNode,
  action: Action,
): void {
  const device = rsc.cls === 'stonith' && ws.config.enableUnfencing;
  if (!device && rsc.requires !== 'unfencing') return;
  as.order(unfenceAction(ws, as, node, false), action, O.optional);
  if (!nodeUnfenced(node))
    triggerUnfencing(ws, as, undefined, node, `required by ${rsc.id} ${action.task}`);
}

/**
 * Resources that require unfencing stop before a node is unfenced and
 * start after it; a required unfencing restarts them on that node
 * (pcmk__order_restart_vs_unfence: "due to required stonith").
 */
function unfencingOrderings(ws: WorkingSet, as: ActionSet): void {
  if (!ws.config.enableUnfencing) return;
  for (const r of ws.byId.values()) {
    if (r.kind !== 'primitive' || r.cls === 'stonith' || r.requires !== 'unfencing') continue;
    for (const a of [...r.actions]) {
      if ((a.task !== 'stop' && a.task !== 'start') || a.interval !== 0 || !a.node) continue;
      if (r.allowed.get(a.node.index) === ABSENT) continue;
      const unfence = unfenceAction(ws, as, a.node, false);
      if (a.task === 'stop') as.order(a, unfence, O.optional);
      else as.order(unfence, a, O.impliesThen);
    }
  }
}

// ---------------------------------------------------------------- configuration changes

function applyConfigChanges(ws: WorkingSet, as: ActionSet): void {
  const defaults = mergeNvSets(ws.cib.opDefaults);
  const defaultTimeout = defaults.timeout
    ? parseInterval(defaults.timeout, '/cib/configuration/op_defaults/timeout')
    : undefined;
  // nodes with a history entry under each resource id: Pacemaker checks an entry
  // against the resource with that id even when unpacking matched it to
  // another anonymous instance
  const entryNodes = new Map<string, SNode[]>();
  for (const st of ws.cib.status) {
    const node = ws.nodeByName.get(st.uname);
    if (!node) continue;
    for (const h of st.resources) {
      if (h.operations.length === 0) continue;
      const list = entryNodes.get(h.id);
      if (list) list.push(node);
      else entryNodes.set(h.id, [node]);
    }
  }
  for (const r of ws.byId.values()) {
    // (an unmanaged resource is checked too: only its changed monitors are rescheduled)
    if (r.kind !== 'primitive') continue;
    const checkNodes = new Set<SNode>(r.histories?.keys() ?? []);
    if (!r.orphan) for (const n of entryNodes.get(r.id) ?? []) checkNodes.add(n);
    if (checkNodes.size === 0) continue;
    const histories: NonNullable<Rsc['histories']> = r.histories ?? new Map();
    const timeoutOf = (task: string, interval: number): number | undefined => {
      const op = r.ops.find((o) => o.name === task && o.interval === interval);
      if (!op) return undefined;
      return op.timeout ?? defaultTimeout ?? 20_000;
    };
    // the nodes Pacemaker checks: those that can run resources, and maintenance nodes
    const checked = (n: SNode): boolean => nodeAvailable(n) || (n.online && n.maintenance);
    const agentChanged = new Set<SNode>();
    for (const node of checkNodes) {
      if (!checked(node) || !r.managed) continue;
      const rec = historyRecord(ws, r.id, node.name);
      const p = r.primitive;
      if (!rec || !p) continue;
      const differs = (a: string | undefined, b: string | undefined): boolean =>
        a !== b && !(a === undefined && b === undefined);
      if (
        !differs(rec.class, p.class) &&
        !differs(rec.type, p.type) &&
        !differs(rec.provider, p.provider)
      )
        continue;
      // the agent changed: restart where active, and forget the old history
      agentChanged.add(node);
      triggerUnfencing(ws, as, r, node, 'Device definition changed');
      const active = r.runningOn.includes(node);
      if (active) {
        const stop = as.custom(r, 'stop', 0, node, false);
        for (const start of as.ofRsc(r, 'start'))
          as.order(stop, start, O.optional | O.impliesThen | O.restart);
        r.startPending = true;
      }
      if (r.failed || !node.online || node.unclean) continue;
      const del = as.custom(r, 'delete', 0, node, false);
      for (const stop of as.ofRsc(r, 'stop', node)) as.order(stop, del, O.optional);
      for (const start of as.ofRsc(r, 'start')) as.order(del, start, O.optional);
    }
    for (const node of r.runningOn) {
      if (!checked(node) || agentChanged.has(node)) continue;
      const h = histories.get(node);
      if (!h) continue;
      const from = Math.max(0, h.startIndex);
      const changes = configChanges(
        r,
        node,
        h.ops,
        from,
        timeoutOf,
        ws.cib.rootAttributes.crm_feature_set,
      );
      // recurring operations no longer configured (or disabled) count as changed too
      const orphaned = h.ops.some(
        (op, i) =>
          i >= from &&
          op.interval > 0 &&
          !r.ops.some((o) => o.enabled && o.name === op.operation && o.interval === op.interval),
      );
      // a failure of an operation whose definition changed is forgotten: retried fresh
      if (!r.managed) {
        for (const c of changes) {
          if (c.kind === 'restart' && startFrozen(ws, r))
            for (const start of as.ofRsc(r, 'start')) {
              // nothing orders an unmanaged resource's monitors after its start
              start.runnable = false;
              for (const mon of as.ofRsc(r, 'monitor', start.node))
                if (mon.interval > 0) mon.runnable = false;
            }
          if (c.kind !== 'reschedule' || !r.assignedTo) continue;
          const mon = as.find(`${r.id}_${c.task}_${c.interval}`, r.assignedTo);
          if (mon) mon.optional = false;
        }
        continue;
      }
      if ((changes.length > 0 || orphaned) && effectiveFailCount(ws, r, node) > 0)
        clearFailCount(as, r, node);
      if (changes.length === 0) continue;
      for (const c of changes) {
        const unfenceWhy =
          c.kind === 'restart' ? '' : c.kind === 'reload' ? ' (reload)' : ' (reschedule)';
        triggerUnfencing(ws, as, r, node, `Device parameters changed${unfenceWhy}`);
        if (c.kind === 'reload') {
          // an agent that reloads: unless the resource restarts anyway (see cancelReloads)
          if (r.failed || r.nextRole === Role.Stopped) continue;
          if (r.startPending) {
            // no reload while a start is pending: restart instead
            as.custom(r, 'stop', 0, node, false);
            continue;
          }
          const reload = as.custom(r, 'reload-agent', 0, node, false);
          setReason(reload, 'resource definition change');
          reload.reload = true;
        } else if (c.kind === 'restart') {
          for (const start of as.ofRsc(r, 'start')) {
            if (!start.runnable) continue;
            start.optional = false;
            // Pacemaker records the reason before the start is placed on its node, and
            // placing the start of a resource that requires nothing clears it again
            if (r.requires !== 'nothing') {
              setReason(start, 'resource definition change', true);
              if (startFrozen(ws, r)) start.runnable = false;
            }
            // a promoted instance restarts back up to promoted
            if (r.role === Role.Promoted && r.nextRole === Role.Promoted)
              for (const p of as.ofRsc(r, 'promote', start.node)) p.optional = false;
          }
        } else if (r.assignedTo) {
          // an expired failure of an older feature set forces the monitor Pacemaker
          // recreated from the history: the one on the node the history is from,
          // even when the resource leaves it
          const key = `${r.id}_${c.task}_${c.interval}`;
          const here = !c.expiredLegacy || c.node === r.assignedTo || !r.runningOn.includes(c.node);
          const mon =
            here || !c.node.online || c.node.unclean
              ? as.find(key, r.assignedTo)
              : (as.find(key, c.node) ?? as.custom(r, c.task, c.interval, c.node, false));
          if (mon) mon.optional = false;
        }
      }
    }
  }
}

/**
 * Whether a start that a definition change requires stays unrunnable: Pacemaker
 * creates that start before it has a node, which makes it unrunnable, and once
 * placed only a policy that allows starting makes it runnable again; without
 * quorum, freeze (for an active resource) leaves it as it is.
 */
function startFrozen(ws: WorkingSet, r: Rsc): boolean {
  return r.requires !== 'nothing' && effectiveQuorumPolicy(ws.config, r) === 'freeze';
}

/** A fail count that has not expired (failure-timeout) and is not being cleared already. */
function effectiveFailCount(ws: WorkingSet, r: Rsc, node: SNode): number {
  if (ws.clearFailcounts.some((c) => c.rsc === r && c.node === node)) return 0;
  const fc = failCountInfo(r, node);
  if (fc.count > 0 && r.failureTimeout > 0 && blockFailure(r, node)) r.failureTimeout = 0;
  const nowSec = Math.floor(ws.now.getTime() / 1000);
  if (r.failureTimeout > 0 && fc.lastFailure > 0 && nowSec >= fc.lastFailure + r.failureTimeout)
    return 0;
  return fc.count;
}

function clearFailCount(as: ActionSet, r: Rsc, node: SNode): void {
  const a = as.custom(r, 'clear_failcount', 0, node, false, {
    key: `${r.id}_clear_failcount_0`,
  });
  a.clearFailcount = true;
}

// ---------------------------------------------------------------- entry

/**
 * The actions in the order Pacemaker creates them, for propagation: those it
 * creates while unpacking first (active recurring operations, stops forced by
 * failures), then the others as remora creates them, then the 'first' actions
 * orderings created (Pacemaker creates those only when it applies the
 * orderings, so the propagation visits them first).
 */
function visitOrder(ws: WorkingSet, as: ActionSet): Action[] {
  const early: Action[] = [];
  const seen = new Set<Action>();
  for (const { rsc, node, key } of ws.unpackedActions) {
    const a = as.find(key, node);
    if (!a || a.rsc !== rsc || seen.has(a)) continue;
    seen.add(a);
    early.push(a);
  }
  const late = as.createdFirsts.filter((a) => !seen.has(a));
  if (early.length === 0 && late.length === 0) return as.actions;
  for (const a of late) seen.add(a);
  return [...early, ...as.actions.filter((a) => !seen.has(a)), ...late];
}

export function createActions(ws: WorkingSet): ActionSet {
  const as = new ActionSet(ws);
  activeRecurringOnRemoteNodes(ws, as);
  // stops decided while unpacking (failures)
  scheduleProbes(ws, as);
  for (const r of ws.resources) {
    if (r.kind === 'group') createGroupActions(ws, as, r);
    else if (r.kind === 'primitive') createPrimitiveActions(ws, as, r);
    else if (r.kind === 'clone')
      createCloneActions(as, r, (inst) =>
        inst.kind === 'group'
          ? createGroupActions(ws, as, inst)
          : createPrimitiveActions(ws, as, inst),
      );
  }
  for (const f of ws.forcedStops) {
    if (f.container || f.rsc.runningOn.includes(f.node)) as.custom(f.rsc, 'stop', 0, f.node, false);
  }
  // orphaned recurring operations: cancel them
  for (const r of ws.byId.values()) {
    if (r.kind !== 'primitive' || r.orphan) continue;
    const act = r.activeRecurring;
    if (!act) continue;
    for (const [node, keys] of act) {
      if (!r.runningOn.includes(node)) continue;
      // Pacemaker checks the histories of nodes that can run resources or are in maintenance
      if (!nodeAvailable(node) && !(node.online && node.maintenance)) continue;
      const maintenance = r.maintenance === true || node.maintenance;
      if (!maintenance && !ws.config.stopOrphanActions) continue;
      for (const key of keys) {
        const m = /_([a-z_-]+)_(\d+)$/.exec(key);
        if (!m) continue;
        const interval = Number(m[2]);
        const configured = r.ops.some(
          (o) => `${r.id}_${o.name}_${o.interval}` === key && o.enabled,
        );
        if (configured && !maintenance) continue;
        as.cancel(r, m[1] as string, interval, node);
      }
    }
  }
  // orphans are stopped, then their history is deleted wherever they have one
  // (Pacemaker's check_actions_for and DeleteRsc): on nodes that can run
  // resources (or are in maintenance), not for failed ones; instances of
  // anonymous clones are only stopped
  for (const r of ws.byId.values()) {
    if (!r.orphan || !r.managed || r.failed || !r.histories) continue;
    const clone = cloneOf(r);
    if (clone && !clone.clone?.unique) continue;
    if (!clone && r.baseId !== undefined) continue;
    for (const node of r.histories.keys()) {
      if (!(nodeAvailable(node) || (node.online && node.maintenance))) continue;
      if (!node.online || node.unclean) continue;
      const stop = as.find(`${r.id}_stop_0`, node);
      const del = as.custom(r, 'delete', 0, node, false);
      if (stop) as.order(stop, del, O.optional | O.runnableLeft);
    }
  }
  // an orphan's fail counts are cleared on the nodes that can run it (clear_failcounts_if_orphaned)
  if (ws.config.stopOrphanResources) {
    for (const r of ws.byId.values()) {
      if (!r.orphan || r.parent || r.kind !== 'primitive' || r.baseId !== undefined) continue;
      for (const node of ws.nodes) {
        if (!node.online || failCountInfo(r, node).count <= 0) continue;
        if (ws.clearFailcounts.some((c) => c.rsc === r && c.node === node)) continue;
        const clear = as.custom(r, 'clear_failcount', 0, node, false, {
          key: `${r.id}_clear_failcount_0`,
        });
        clear.clearFailcount = true;
        for (const stop of as.ofRsc(r, 'stop')) as.order(clear, stop, O.optional);
      }
    }
  }
  for (const d of ws.historyDeletes) {
    const a = as.custom(d.rsc, 'lrm_delete', 0, d.node, false, {
      key: `${d.rsc.id}_lrm_delete_0`,
    });
    a.historyDelete = true;
    // run by the DC, so possible while the node is down
    a.runnable = true;
  }
  for (const c of ws.clearFailcounts) {
    const a = as.custom(c.rsc, 'clear_failcount', 0, c.node, false, {
      key: `${c.rsc.id}_clear_failcount_0`,
    });
    a.clearFailcount = true;
  }
  userOrderings(ws, as);
  for (const made of as.migrationOrderings) made();
  // in Pacemaker's order: top-level resources, a group's members within the group's
  for (const r of ws.resources) {
    if (r.kind === 'primitive') primitiveInternal(as, r);
    else if (r.kind === 'group') groupInternal(as, r);
    else if (r.kind === 'clone')
      cloneInternal(as, r, (inst) =>
        inst.kind === 'group' ? groupInternal(as, inst) : primitiveInternal(as, inst),
      );
  }
  utilizationOrderings(ws, as);
  applyConfigChanges(ws, as);
  probeStartOrderings(ws, as);
  inhibitUnpaired(ws, as);
  // after the configured orderings: a required unfencing is what a start is required by
  // (Pacemaker orders clone instances against each other only while updating flags)
  unfencingOrderings(ws, as);
  remoteOrderings(ws, as);
  scheduleFencingAndShutdowns(ws, as);
  orderProbes(ws, as);
  propagate(visitOrder(ws, as));
  dropGuestContainerOrderings(as);
  breakLoadLoops(as);
  // a required stop cancels a reload
  for (const a of as.actions) {
    if (!a.reload || !a.rsc) continue;
    if (as.ofRsc(a.rsc, 'stop', a.node).some((s) => !s.optional)) a.optional = true;
  }
  for (const r of ws.resources) if (r.kind === 'clone') createNotifications(as, r);
  return as;
}
