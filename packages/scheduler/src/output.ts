/**
 * What a schedule says in words: the transition summary (Pacemaker's
 * LogActions) and the executed actions in a valid order (the status lists
 * are status/: the CIB read as crm_mon reads it).
 */
import type { Action, Ordering, Rsc, SNode } from './model';
import { O, ROLE_NAMES, Role, displayName } from './model';
import type { ActionSet } from './actions';
import type { WorkingSet } from './unpack';
import { activeNode } from './unpack';

export interface SummaryLine {
  /** Start, Stop, Move, Recover, Restart, Migrate, Promote, Demote, Reload, Fence, ... */
  readonly change: string;
  /** The resource, or for Fence the node. */
  readonly subject: string;
  readonly from?: string;
  readonly to?: string;
  readonly reason?: string;
  readonly text: string;
}

/** A resource's summary line before its text is laid out in columns. */
type RscLine = Omit<SummaryLine, 'text'> & { readonly details: string };

function rscLine(
  change: string,
  rsc: Rsc,
  origin: SNode | undefined,
  destination: SNode | undefined,
  action: Action | undefined,
  source: Action | undefined,
): RscLine {
  const src = source ?? action;
  const sameHost = origin !== undefined && destination !== undefined && origin === destination;
  const sameRole = rsc.role === rsc.nextRole;
  // promotable clone instances say which role they are in and go to
  const needRole = rsc.role > Role.Started || rsc.nextRole > Role.Unpromoted;
  const role = ROLE_NAMES[rsc.role];
  const nextRole = ROLE_NAMES[rsc.nextRole];
  let details: string;
  if (origin === undefined)
    details = needRole
      ? `${role} -> ${nextRole} ${destination?.name ?? ''}`
      : (destination?.name ?? '');
  else if (destination === undefined) details = needRole ? `${role} ${origin.name}` : origin.name;
  else if (sameRole && sameHost) details = needRole ? `${role} ${origin.name}` : origin.name;
  else if (sameRole)
    details = needRole
      ? `${origin.name} -> ${destination.name} ${role}`
      : `${origin.name} -> ${destination.name}`;
  else if (sameHost) details = `${role} -> ${nextRole} ${origin.name}`;
  else details = `${role} ${origin.name} -> ${nextRole} ${destination.name}`;
  let reason: string | undefined;
  const runnable = action ? action.runnable : true;
  if (src?.reason && !runnable) reason = `due to ${src.reason} (blocked)`;
  else if (src?.reason) reason = `due to ${src.reason}`;
  else if (!runnable) reason = 'blocked';
  return {
    change,
    subject: rsc.id,
    from: origin?.name,
    to: destination && !sameHost ? destination.name : undefined,
    reason,
    details,
  };
}

/**
 * The resource lines' text, in columns as crm_simulate prints them: the
 * details right-aligned to the widest; the resource column starts 5 wide and
 * grows to a name's length plus 2 whenever a name is longer than it, line by
 * line. Pacemaker logs the summary before printing it with the same widths,
 * so the printed lines all use the final ones.
 */
function withText(drafts: readonly RscLine[]): SummaryLine[] {
  let rscWidth = 5;
  let detailWidth = 5;
  for (const d of drafts) {
    if (d.subject.length > rscWidth) rscWidth = d.subject.length + 2;
    detailWidth = Math.max(detailWidth, d.details.length);
  }
  return drafts.map(({ details, ...line }) => ({
    ...line,
    text:
      `${line.change.padEnd(8)}   ${line.subject.padEnd(rscWidth)}   ( ${details.padStart(detailWidth)} )` +
      (line.reason ? `  ${line.reason}` : ''),
  }));
}

function first<T>(list: T[]): T | undefined {
  return list[0];
}

function logPrimitive(as: ActionSet, rsc: Rsc, out: RscLine[]): void {
  const next = rsc.assignedTo;
  let current: SNode | undefined;
  if (rsc.runningOn.length > 0) {
    current = activeNode(rsc);
    if (rsc.role === Role.Stopped) rsc.role = Role.Started;
  }
  if (!current && rsc.orphan) return;
  if (!rsc.managed || (!current && !next)) return;
  const moving = current !== undefined && next !== undefined && current !== next;
  const start = next ? first(as.ofRsc(rsc, 'start', next)) : undefined;
  const startNode = start && start.runnable ? current : undefined;
  let stop = first(startNode ? as.ofRsc(rsc, 'stop', startNode) : as.ofRsc(rsc, 'stop'));
  if (!stop && rsc.stopUnexpected) stop = first(as.ofRsc(rsc, 'stop'));

  const promote = next ? first(as.ofRsc(rsc, 'promote', next)) : undefined;
  const demote = next ? first(as.ofRsc(rsc, 'demote', next)) : undefined;

  if (rsc.role === rsc.nextRole) {
    if (!next) return;
    const migrate = first(as.ofRsc(rsc, 'migrate_from', next));
    const reload = first(as.ofRsc(rsc, 'reload-agent'));
    if (migrate && current && migrate.runnable && !migrate.optional) {
      out.push(rscLine('Migrate', rsc, current, next, start, undefined));
    } else if (reload && !reload.optional && reload.runnable) {
      out.push(rscLine('Reload', rsc, current, next, reload, undefined));
    } else if (!start || start.optional) {
      // recovered by demotion and promoted again
      if (demote && promote && !demote.optional && !promote.optional)
        out.push(rscLine('Re-promote', rsc, current, next, promote, demote));
      return;
    } else if (!start.runnable) {
      const reasonOp = !stop || !stop.reason ? start : stop;
      out.push(rscLine('Stop', rsc, current, undefined, stop, reasonOp));
    } else if (moving && current) {
      out.push(rscLine(rsc.failed ? 'Recover' : 'Move', rsc, current, next, stop, undefined));
    } else if (rsc.failed) {
      out.push(rscLine('Recover', rsc, current, undefined, stop, undefined));
    } else {
      out.push(rscLine('Restart', rsc, current, next, start, undefined));
    }
    return;
  }

  if (stop && (rsc.nextRole === Role.Stopped || (start && !start.runnable))) {
    for (const node of rsc.runningOn) {
      const stopOp = first(as.ofRsc(rsc, 'stop', node));
      let reasonOp = start;
      if (stopOp?.reason) reasonOp = stopOp;
      out.push(rscLine('Stop', rsc, node, undefined, stopOp, reasonOp));
    }
  } else if (stop && rsc.failed && rsc.stopFlag) {
    out.push(rscLine('Recover', rsc, current, next, stop, start));
  } else if (moving) {
    out.push(rscLine('Move', rsc, current, next, stop, undefined));
  } else if (stop && !stop.optional) {
    out.push(rscLine('Restart', rsc, current, next, start, undefined));
  } else if (rsc.role === Role.Promoted) {
    out.push(rscLine('Demote', rsc, current, next, demote, undefined));
  } else if (rsc.nextRole === Role.Promoted) {
    out.push(rscLine('Promote', rsc, current, next, promote, undefined));
  } else if (rsc.role === Role.Stopped && rsc.nextRole > Role.Stopped) {
    out.push(rscLine('Start', rsc, current, next, start, undefined));
  }
}

function logResource(as: ActionSet, rsc: Rsc, out: RscLine[]): void {
  if (rsc.kind === 'primitive') logPrimitive(as, rsc, out);
  else for (const c of rsc.children) logResource(as, c, out);
}

export function transitionSummary(ws: WorkingSet, as: ActionSet): SummaryLine[] {
  const out: SummaryLine[] = [];
  // newest first, as Pacemaker lists its actions (each new one goes to the front)
  for (const a of [...as.actions].reverse()) {
    if (a.rsc || a.optional) continue;
    if (a.task !== 'stonith') continue;
    const node = a.node as SNode;
    const guest = a.guestOf;
    const name = guest ? `${node.name} (resource: ${guest.id})` : node.name;
    const task = `Fence (${a.fenceAction ?? 'reboot'})`;
    out.push({
      change: 'Fence',
      subject: node.name,
      reason: a.reason,
      text: a.reason ? `${task} ${name} '${a.reason}'` : `${task} ${name}`,
    });
  }
  const drafts: RscLine[] = [];
  for (const r of ws.resources) logResource(as, r, drafts);
  return out.concat(withText(drafts));
}

// ---------------------------------------------------------------- executed

/**
 * A resource action for a node that is to be fenced stays out of the graph
 * (a probe scheduled before the node turned out to need fencing); pseudo
 * actions (stops implied by the fencing) and guests that need no reset are
 * kept, as Pacemaker's graph does.
 */
function onUncleanNode(a: Action): boolean {
  const node = a.node;
  if (!a.rsc || a.pseudo || !node || !node.unclean || a.clearFailcount || a.historyDelete)
    return false;
  return !(node.kind === 'guest' && !node.remoteRequiresReset);
}

/**
 * Whether an ordering is an input in the graph: one that only applies while
 * 'first' is not part of a migration is dropped when it is (Pacemaker's
 * apply_first_non_migratable), and so is a merely optional one after a stop
 * that is part of a migration; one only from a -INFINITY colocation when its
 * actions are on different nodes or 'first' is optional (should_add_input_to_graph),
 * whether or not 'first' is in the graph (a probe on a remote node before its
 * connection's start would otherwise close a loop).
 */
export function graphInput(o: Ordering): boolean {
  if (o.flags === O.antiColocation) {
    const a = o.first.node;
    const b = o.then.node;
    if ((a && b && a !== b) || o.first.optional) return false;
  }
  if (!o.first.migrateRunnable) return true;
  if (o.flags & O.firstNonMigratable) return false;
  // a merely optional ordering after a stop that is part of a migration
  return !(o.flags === O.optional && o.first.task === 'stop');
}

/**
 * Whether Pacemaker keeps an ordering as an input of 'then' in the graph
 * when 'first' itself is left out (its check_dump_input): an unrunnable
 * 'first' counts unless the ordering only orders (optional) or counts towards
 * one-or-more, or migrates; an anti-colocation's only on the same node (or
 * without one) and for a required 'first'; an optional 'first' never (except
 * one printed anyway); nor a failed unmanaged stop before a clone's action.
 */
function keptInput(o: Ordering): boolean {
  const { first, then, flags } = o;
  if (!graphInput(o)) return false;
  if (!first.runnable) {
    if ((flags & ~O.optional) === 0) return false;
    if (flags & (O.oneOrMore | O.impliesFirstMigratable)) return false;
  }
  // graphInput has already dropped one on different nodes or after an optional 'first'
  if (flags === O.antiColocation) return true;
  const frsc = first.rsc;
  if (
    frsc &&
    frsc !== then.rsc &&
    frsc.failed &&
    !frsc.managed &&
    first.task === 'stop' &&
    then.rsc?.kind === 'clone'
  )
    return false;
  return !first.optional || first.printAlways === true;
}

/** Whether an action is part of the transition (required or pending, runnable, for a node that stays). */
export function inTransition(a: Action): boolean {
  return (
    (!a.optional || (a.printAlways === true && a.rsc?.managed === true)) &&
    a.runnable &&
    !onUncleanNode(a) &&
    !unmanagedAction(a)
  );
}

/** Actions the transition runs (required, runnable), in a topological order of the orderings. */
export function executedActions(as: ActionSet, neverRun?: Set<Action>): Action[] {
  let live = as.actions.filter(inTransition);
  const all = live;
  const inGraph = new Set(live);
  // An input the transition leaves out (an unrunnable action, an unmanaged
  // resource's start or stop, an action on a node that is to be fenced) can stay
  // in Pacemaker's graph as an input that never completes: the transition stalls
  // there, and nothing after it runs (crm_simulate: "An invalid transition was produced")
  const stalled: Action[] = live.filter((a) =>
    a.before.some((o) => !inGraph.has(o.first) && keptInput(o)),
  );
  for (let head = 0; head < stalled.length; head++) {
    const a = stalled[head] as Action;
    if (!inGraph.delete(a)) continue;
    for (const o of a.after) if (inGraph.has(o.then) && graphInput(o)) stalled.push(o.then);
  }
  if (inGraph.size < live.length) live = live.filter((a) => inGraph.has(a));
  const indegree = new Map<Action, number>();
  for (const a of live) indegree.set(a, 0);
  for (const a of live)
    for (const o of a.after)
      if (inGraph.has(o.then) && graphInput(o))
        indegree.set(o.then, (indegree.get(o.then) ?? 0) + 1);
  const ready = live.filter((a) => indegree.get(a) === 0);
  const out: Action[] = [];
  for (let head = 0; head < ready.length; head++) {
    const a = ready[head] as Action;
    out.push(a);
    for (const o of a.after) {
      if (!inGraph.has(o.then) || !graphInput(o)) continue;
      const d = (indegree.get(o.then) ?? 0) - 1;
      indegree.set(o.then, d);
      if (d === 0) ready.push(o.then);
    }
  }
  if (neverRun && out.length < all.length) {
    const ran = new Set(out);
    for (const a of all) if (!ran.has(a)) neverRun.add(a);
  }
  // a cycle would leave actions out: append them (and let verification report it)
  if (out.length < live.length) {
    const done = new Set(out);
    for (const a of live) if (!done.has(a)) out.push(a);
  }
  return out;
}

/**
 * The actions of the transition that come after (directly or not) one of
 * those `from` picks, following the orderings the graph has.
 */
export function actionsAfter(as: ActionSet, from: (a: Action) => boolean): Set<Action> {
  const out = new Set<Action>();
  const stack: Action[] = as.actions.filter((a) => from(a) && inTransition(a));
  while (stack.length > 0) {
    const a = stack.pop() as Action;
    for (const o of a.after) {
      if (out.has(o.then) || !graphInput(o) || !inTransition(o.then)) continue;
      out.add(o.then);
      stack.push(o.then);
    }
  }
  return out;
}

/**
 * An action of an unmanaged resource stays out of the transition, except
 * monitors and cancellations of recurring monitors.
 */
function unmanagedAction(a: Action): boolean {
  if (!a.rsc || a.rsc.managed || a.task === 'monitor') return false;
  return !(a.cancel === true && a.interval > 0);
}

export function actionLine(a: Action): string {
  if (a.task === 'stonith') {
    if (a.pseudo) return `Pseudo action:   ${a.key} on ${a.node?.name ?? ''}`;
    return `Fencing ${a.node?.name ?? ''} (${a.fenceAction ?? 'reboot'})`;
  }
  if (a.task === 'do_shutdown') return `Cluster action:  do_shutdown on ${a.node?.name ?? ''}`;
  if (a.clearFailcount || a.historyDelete)
    return `Cluster action:  ${a.task} for ${a.rsc?.id ?? ''} on ${a.node?.name ?? ''}`;
  if (a.pseudo) return `Pseudo action:   ${a.key}`;
  const rsc = a.rsc as Rsc;
  const task =
    a.cancel !== undefined && a.cancel
      ? `cancel=${a.interval}`
      : a.interval > 0
        ? `${a.task}=${a.interval}`
        : a.task;
  return `Resource action: ${displayName(rsc).padEnd(15)} ${task} on ${a.node?.name ?? ''}`;
}
