/**
 * The propagation of "required" and "unrunnable" along orderings, and the
 * reason each action records when it changes, visited in Pacemaker's order
 * (pcmk__update_action_for_orderings): every action from the newest, each
 * from the latest ordering before it, and depth first: a 'first' that changes
 * is updated again at once with everything after it, a 'then' that changed
 * once all its orderings are applied; an action of a group member or clone
 * instance is updated again as soon as one ordering changes it. The first
 * reason an action is given stays (a lost migration's overwrites), so the
 * visiting order decides which blocked input a summary line names.
 */
import type { Action, Ordering, Rsc, SNode } from './model';
import { INF, O, Role, isActiveRole, primitivesOf, topOf } from './model';
import { childTask, cloneFirstFlags } from './clone';
import { ownWithThis } from './colocations';

/** What applying an ordering changed: its 'first', its 'then'. */
const FIRST_CHANGED = 1;
const THEN_CHANGED = 2;

/** Which flags an update may clear (Pacemaker's filter). */
const FILTER_OPTIONAL = 1;
const FILTER_RUNNABLE = 2;

/** An ordering's view of its 'first' action's flags. */
interface Flags {
  optional: boolean;
  runnable: boolean;
  migrateRunnable: boolean;
}

type Flag = 'optional' | 'runnable' | 'migrateRunnable';

export function setReason(a: Action, reason: string, overwrite = false): void {
  if (a.reason === undefined || overwrite) a.reason = reason;
}

/** The task an action-less reason names (a load_stopped pseudo action's key holds its node). */
function taskName(a: Action): string {
  return a.rsc || a.task !== 'load_stopped' ? a.task : a.key;
}

/**
 * Clear a flag of `a` because of `because` (Pacemaker's
 * clear_action_flag_because): an action of another resource (or none) is
 * named as the reason, "required X task" or "unrunnable X task"; only a lost
 * migration overwrites a reason already given.
 */
function clearBecause(a: Action, flag: Flag, because: Action): boolean {
  if (!a[flag]) return false;
  a[flag] = false;
  if (a.rsc !== because.rsc) {
    const change = flag === 'optional' ? 'required' : 'unrunnable';
    const who = because.rsc ? `${because.rsc.id} ` : '';
    setReason(a, `${change} ${who}${taskName(because)}`, flag === 'migrateRunnable');
  }
  return true;
}

/** The newest action of `rsc` for `task` (on `node` when given), as Pacemaker's find_first_action. */
function newestAction(rsc: Rsc, task: string, node: SNode | undefined): Action | undefined {
  for (let i = rsc.actions.length - 1; i >= 0; i--) {
    const a = rsc.actions[i] as Action;
    if (a.task === task && (node === undefined || a.node === node)) return a;
  }
  return undefined;
}

/**
 * The flags of an action as an ordering sees them: a collective's pseudo
 * action summarises its members' (required if any is, which makes the pseudo
 * action itself required; a group's completion runnable only if every member
 * is, a clone's if any instance is). Before an action on a node (`node`), a
 * clone's action is required only if an instance's action there is (Pacemaker's
 * action_flags_for_ordering), runnable if any instance's is anywhere.
 */
function flagsOf(a: Action, node?: SNode): Flags {
  const rsc = a.rsc;
  if (rsc && a.pseudo && rsc.kind === 'clone') {
    const f = cloneFirstFlags(a, (x) => flagsOf(x), node);
    if (!f.optional) a.optional = false;
    return { optional: f.optional, runnable: f.runnable, migrateRunnable: a.migrateRunnable };
  }
  if (rsc && a.pseudo && rsc.kind === 'group') {
    const task = childTask(a.task);
    let optional = true;
    let runnable = true;
    for (const m of rsc.children) {
      const ma = m.actions.find((x) => x.task === task && x.interval === 0);
      if (ma) {
        if (!ma.optional) optional = false;
        // a member that cannot run its action makes the group's completion
        // (running, stopped) unrunnable, not its start (group_action_flags,
        // which clears the pseudo action's own flag too)
        if (!ma.runnable && task !== a.task) {
          runnable = false;
          a.runnable = false;
        }
      } else if (task !== 'stop' && task !== 'demote') runnable = false;
    }
    if (!optional) a.optional = false;
    return { optional, runnable, migrateRunnable: a.migrateRunnable };
  }
  return { optional: a.optional, runnable: a.runnable, migrateRunnable: a.migrateRunnable };
}

/** The node an ordering's "then" is scoped to (a group's start: where the group is). */
function orderingNode(then: Action): SNode | undefined {
  if (then.node) return then.node;
  const rsc = then.rsc;
  if (rsc?.kind !== 'group' || then.task !== 'start') return undefined;
  // where all its members are placed (none when they are apart or not placed)
  const nodes = new Set(primitivesOf(rsc).map((m) => m.assignedTo));
  const [only] = nodes;
  return nodes.size === 1 ? only : undefined;
}

function snapshot(a: Action): number {
  return (
    (a.optional ? 1 : 0) | (a.runnable ? 2 : 0) | (a.migrateRunnable ? 4 : 0) | (a.pseudo ? 8 : 0)
  );
}

/** One propagation over a set of actions. */
class Propagation {
  /** One-or-more pseudo actions: how many of the actions before them are runnable. */
  private readonly runnableBefore = new Map<Action, number>();

  run(actions: readonly Action[]): void {
    for (let i = actions.length - 1; i >= 0; i--) this.blockColocatedStarts(actions[i] as Action);
    for (let i = actions.length - 1; i >= 0; i--) this.update(actions[i] as Action);
  }

  /**
   * An unrunnable start blocks the starts of what is colocated with its
   * resource with INFINITY (Pacemaker's pcmk__block_colocated_starts): once
   * every instance or member of the top-level resource cannot start, each
   * mandatory dependent's runnable start becomes unrunnable ("colocation with
   * X") and is updated at once, and so on down the colocation chain. Applied
   * to every action before the orderings, then to each start they block.
   */
  private blockColocatedStarts(a: Action): void {
    if (a.task !== 'start' || a.runnable || !a.rsc) return;
    const top = topOf(a.rsc);
    // a group's own colocations moved to its last member when it was assigned,
    // where Pacemaker 2.1.5 does not look: nothing colocated with a group is blocked
    if (top.kind === 'group' || top.withThis.length === 0) return;
    for (const child of top.children) {
      const start = child.actions.find((x) => x.task === 'start');
      if (!start || start.runnable) return;
    }
    // in the order of its sorted "with this" list (Pacemaker's rsc_cons_lhs)
    for (const c of ownWithThis(top)) if (c.score >= INF) this.blockStarts(c.dependent, a.rsc);
  }

  /**
   * Block a dependent's runnable starts, then its members' or instances'
   * (Pacemaker's mark_action_blocked: what the parent cannot do, neither can
   * its children).
   */
  private blockStarts(rsc: Rsc, primary: Rsc): void {
    for (const x of rsc.actions) {
      if (x.task !== 'start' || !x.runnable) continue;
      x.runnable = false;
      setReason(x, `colocation with ${primary.id}`);
      this.blockColocatedStarts(x);
      this.update(x);
    }
    for (const child of rsc.children) this.blockStarts(child, primary);
  }

  /** Apply every ordering before `then` (pcmk__update_action_for_orderings). */
  update(then: Action): void {
    const before = then.before;
    const last = snapshot(then);
    const wasRunnable = then.runnable;
    const anyOf = then.requiredRunnable !== undefined;
    if (anyOf) {
      // runnable again once enough of the actions before it are (counted below)
      this.runnableBefore.set(then, 0);
      then.runnable = false;
    }
    let changed = 0;
    for (let i = before.length - 1; i >= 0; i--) {
      const o = before[i] as Ordering;
      if (o.remapped) {
        // becomes the newest ordering of both actions, and 'then' is updated again
        o.remapped = false;
        before.splice(i, 1);
        before.push(o);
        const after = o.first.after;
        after.splice(after.indexOf(o), 1);
        after.push(o);
        changed |= THEN_CHANGED;
        continue;
      }
      changed &= ~FIRST_CHANGED;
      changed |= this.applyOrdering(o);
      if (changed & FIRST_CHANGED) {
        const first = o.first;
        this.updateAfter(first);
        this.update(first);
      }
    }
    if (anyOf) changed = snapshot(then) === last ? changed & ~THEN_CHANGED : changed | THEN_CHANGED;
    if (changed & THEN_CHANGED) {
      if (wasRunnable && !then.runnable) this.blockColocatedStarts(then);
      this.update(then);
      this.updateAfter(then);
    }
  }

  /**
   * Update again each action after `a`, newest ordering first, including
   * those after a collective's completion that Pacemaker made after `a` (its
   * start, stop, ...) before remapping them: it keeps them in `a`'s list.
   */
  private updateAfter(a: Action): void {
    const remapped = a.remappedAfter;
    if (remapped === undefined) {
      for (let j = a.after.length - 1; j >= 0; j--) this.update((a.after[j] as Ordering).then);
      return;
    }
    const all = [...a.after, ...remapped].sort((x, y) => y.seq - x.seq);
    for (const o of all) this.update(o.then);
  }

  /** One ordering, kind by kind in Pacemaker's order (update_action_for_ordering_flags). */
  private applyOrdering(o: Ordering): number {
    const { first, then, flags } = o;
    const ff = flagsOf(first, orderingNode(then));
    // (the 'then' side is summarised too: a collective's action becomes required)
    flagsOf(then, first.node);
    let changed = 0;
    if (flags & O.impliesThen) {
      if (then.rsc) {
        const f = { optional: ff.optional, runnable: false, migrateRunnable: false };
        changed |= this.dispatch(then.rsc, first, then, f, FILTER_OPTIONAL, O.impliesThen);
      } else if (!ff.optional && then.optional) {
        then.optional = false;
        changed |= THEN_CHANGED;
      }
    }
    if (flags & O.restart && then.rsc) {
      const filter = FILTER_OPTIONAL | FILTER_RUNNABLE;
      changed |= this.dispatch(then.rsc, first, then, ff, filter, O.restart);
    }
    if (flags & O.impliesFirst) {
      if (first.rsc) {
        changed |= this.dispatch(first.rsc, first, then, ff, FILTER_OPTIONAL, O.impliesFirst);
      } else if (!ff.optional && first.runnable) {
        first.runnable = false;
        changed |= FIRST_CHANGED;
      }
    }
    if (flags & O.promotedImpliesFirst && then.rsc) {
      const f = { optional: ff.optional, runnable: false, migrateRunnable: false };
      changed |= this.dispatch(then.rsc, first, then, f, FILTER_OPTIONAL, O.promotedImpliesFirst);
    }
    if (flags & O.oneOrMore && !then.rsc && ff.runnable) {
      const n = (this.runnableBefore.get(then) ?? 0) + 1;
      this.runnableBefore.set(then, n);
      if (n >= (then.requiredRunnable ?? 1) && !then.runnable) {
        then.runnable = true;
        changed |= THEN_CHANGED;
      }
    }
    if (flags & O.runnableLeft) {
      if (then.rsc) {
        changed |= this.dispatch(then.rsc, first, then, ff, FILTER_RUNNABLE, O.runnableLeft);
      } else if (!ff.runnable && then.runnable) {
        then.runnable = false;
        changed |= THEN_CHANGED;
      }
    }
    if (flags & O.impliesFirstMigratable && then.rsc)
      changed |= this.dispatch(
        then.rsc,
        first,
        then,
        ff,
        FILTER_OPTIONAL,
        O.impliesFirstMigratable,
      );
    if (flags & O.pseudoLeft && then.rsc)
      changed |= this.dispatch(then.rsc, first, then, ff, FILTER_OPTIONAL, O.pseudoLeft);
    if (flags & O.asymmetrical && then.rsc)
      changed |= this.dispatch(then.rsc, first, then, ff, FILTER_RUNNABLE, O.asymmetrical);
    // a mandatory ordering after the stop of a blocked resource (unmanaged after a
    // failure it cannot recover from): 'then' would wait forever
    if (
      flags & (O.impliesThen | O.impliesFirst | O.restart) &&
      first.rsc &&
      !first.rsc.managed &&
      first.rsc.blocked &&
      !first.runnable &&
      first.task === 'stop' &&
      then.runnable
    ) {
      then.runnable = false;
      changed |= THEN_CHANGED;
    }
    return changed;
  }

  /** The update as the owning resource's kind does it (a collective's reaches its members). */
  private dispatch(
    owner: Rsc,
    first: Action,
    then: Action,
    ff: Flags,
    filter: number,
    type: number,
  ): number {
    let changed = this.updateOrdered(first, then, ff, filter, type);
    if (owner.kind === 'primitive' || !then.rsc) return changed;
    const node = then.node;
    if (owner.kind === 'group') {
      // the same action of each member
      for (const m of then.rsc.children) {
        const ma = newestAction(m, then.task, node);
        if (ma) changed |= this.dispatch(m, first, ma, ff, filter, type);
      }
    } else if (owner.kind === 'clone') {
      // the same action of each instance that can run it
      for (const inst of then.rsc.children) {
        const ia = newestAction(inst, then.task, node);
        if (!ia || !flagsOf(ia, node).runnable) continue;
        const c = this.dispatch(inst, first, ia, ff, filter, type);
        changed |= c;
        if (c & THEN_CHANGED) this.updateAfter(ia);
      }
    }
    return changed;
  }

  /** One kind of ordering between two actions (pcmk__update_ordered_actions). */
  private updateOrdered(
    first: Action,
    then: Action,
    ff: Flags,
    filter: number,
    type: number,
  ): number {
    const t0 = snapshot(then);
    const f0 = snapshot(first);
    const thenWasOptional = then.optional;
    const firstWasOptional = first.optional;
    if (type & O.asymmetrical) asymmetric(first, then);
    // a remote connection that migrates is not really stopping for what runs through it
    const migratingConnection =
      then.task === 'stop' && then.migrateRunnable && then.rsc?.remoteNode !== undefined;
    if (type & O.impliesFirst && !thenWasOptional && !migratingConnection) {
      if (filter & FILTER_OPTIONAL && !ff.optional && firstWasOptional)
        clearBecause(first, 'optional', then);
      if (ff.migrateRunnable && !then.migrateRunnable) clearBecause(first, 'migrateRunnable', then);
    }
    if (
      type & O.promotedImpliesFirst &&
      then.rsc?.role === Role.Promoted &&
      filter & FILTER_OPTIONAL &&
      !then.optional
    ) {
      clearBecause(first, 'optional', then);
      if (first.migrateRunnable && !then.migrateRunnable)
        clearBecause(first, 'migrateRunnable', then);
    }
    if (type & O.impliesFirstMigratable && filter & FILTER_OPTIONAL) {
      if (!then.migrateRunnable || !then.runnable) clearBecause(first, 'runnable', then);
      if (!then.optional) clearBecause(first, 'optional', then);
    }
    if (type & O.pseudoLeft && filter & FILTER_OPTIONAL && !first.runnable) {
      clearBecause(then, 'migrateRunnable', first);
      then.pseudo = false;
    }
    if (type & O.runnableLeft && filter & FILTER_RUNNABLE && then.runnable && !ff.runnable) {
      clearBecause(then, 'runnable', first);
      clearBecause(then, 'migrateRunnable', first);
    }
    if (
      type & O.impliesThen &&
      filter & FILTER_OPTIONAL &&
      then.optional &&
      !ff.optional &&
      !first.migrateRunnable
    )
      clearBecause(then, 'optional', first);
    if (type & O.restart) restart(first, then, filter);
    let changed = 0;
    if (snapshot(then) !== t0) {
      changed |= THEN_CHANGED;
      // (Pacemaker: needed for "X stop then X start" of cloned groups)
      if (then.rsc?.parent) this.update(then);
    }
    if (snapshot(first) !== f0) changed |= FIRST_CHANGED;
    return changed;
  }
}

/** An asymmetrical ordering: an unrunnable 'first' blocks 'then' unless it is moot. */
function asymmetric(first: Action, then: Action): void {
  if (!then.rsc || first.runnable) return;
  if (then.optional) {
    const active = isActiveRole(then.rsc.role);
    // nothing to stop, or already started where it would start
    if (!active && then.task === 'stop') return;
    if (
      active &&
      then.task === 'start' &&
      then.rsc.runningOn.length === 1 &&
      then.rsc.runningOn[0] === then.node
    )
      return;
  }
  clearBecause(then, 'optional', first);
  clearBecause(then, 'runnable', first);
}

/**
 * Stop before start of one resource (and a group member's stop before the
 * previous member's): a required or unrunnable 'then' makes 'first' required
 * (a resource that cannot start again still stops), a required but
 * unrunnable 'first' blocks 'then'.
 */
function restart(first: Action, then: Action, filter: number): void {
  if (!first.rsc || !then.rsc) return;
  const required = filter & FILTER_OPTIONAL && !then.optional;
  const blocked =
    filter & FILTER_RUNNABLE && !then.runnable && then.rsc.managed && first.rsc === then.rsc;
  if (!required && !blocked) return;
  if (first.runnable) clearBecause(first, 'optional', then);
  if (!then.optional) clearBecause(first, 'optional', then);
  if (!then.migrateRunnable) clearBecause(first, 'migrateRunnable', then);
  if (!first.optional && !first.runnable) clearBecause(then, 'runnable', first);
}

export function propagate(actions: readonly Action[]): void {
  new Propagation().run(actions);
}
