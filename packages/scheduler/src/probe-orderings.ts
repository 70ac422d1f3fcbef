/**
 * Probes before stops (Pacemaker's order_first_probes): a probe expects
 * "not running", the alternative to a stop while the state is unknown, so
 *
 * - a probe comes before the stops (demotes) of every other primitive whose
 *   start (promote) a required start after the probe would make required
 *   again, following implies-then orderings and going down from a group or
 *   clone to its members' actions (an interleaved clone: only the instance
 *   paired with the probed resource);
 * - for each "stop A then X" ordering (A a primitive, X not A's own), A's
 *   probes come before X, even when A has no stop to order.
 *
 * All of these are optional: they only order the graph. Pacemaker keeps them
 * when they close a loop, and so does remora: a connection migrating to
 * another node while a resource moves off its remote node makes an ordering
 * loop whose actions crm_simulate never runs.
 */
import type { ActionSet } from './actions';
import { compatibleInstance } from './clone';
import type { Action, Ordering, Rsc } from './model';
import { O, topOf } from './model';
import type { WorkingSet } from './unpack';

function probesOf(as: ActionSet, rsc: Rsc): Action[] {
  return as.ofRsc(rsc, 'monitor').filter((a) => a.interval === 0);
}

/** Probes on a node come after its unfencing, and before a shutdown only of their own node. */
function probeBefore(probe: Action, then: Action): boolean {
  if (then.task === 'stonith' && then.node === probe.node && then.fenceAction === 'on')
    return false;
  if (then.task === 'do_shutdown' && probe.node && then.node && probe.node !== then.node)
    return false;
  return true;
}

/** A group member's start implies its group's running (remora leaves the flag off that ordering). */
function impliesThen(after: Action, o: { then: Action; flags: number }): boolean {
  if (o.flags & O.impliesThen) return true;
  const group = after.rsc?.parent;
  return (
    group?.kind === 'group' &&
    after.task === 'start' &&
    o.then.rsc === group &&
    o.then.task === 'running'
  );
}

/**
 * The orderings after an action as Pacemaker's probe orderings see them: a
 * configured ordering after a collective's start (stop) hangs off that start
 * (stop), not off the running (stopped) action remora gives it.
 */
function orderingsAfter(
  after: Action,
  moved: ReadonlyMap<Action, readonly Ordering[]>,
): readonly Ordering[] {
  const own = moved.get(after);
  const kept = after.after.filter((o) => o.collectiveFirst === undefined);
  if (!own) return kept.length === after.after.length ? after.after : kept;
  return [...own, ...kept];
}

function restartOrderings(
  ws: WorkingSet,
  as: ActionSet,
  probe: Action,
  from: Action,
  moved: ReadonlyMap<Action, readonly Ordering[]>,
): void {
  const prsc = probe.rsc as Rsc;
  const seen = new Set<Action>();
  const stack = [from];
  while (stack.length > 0) {
    const after = stack.pop() as Action;
    if (seen.has(after)) continue;
    seen.add(after);
    const rsc = after.rsc;
    if (rsc?.kind === 'primitive' && rsc !== prsc) {
      const undo = after.task === 'start' ? 'stop' : after.task === 'promote' ? 'demote' : '';
      if (undo)
        for (const t of as.ofRsc(rsc, undo))
          if (t.interval === 0 && !t.pseudo) as.order(probe, t, O.optional);
    }
    const interleaved = rsc?.kind === 'clone' && rsc.clone?.interleave === true;
    const pair = interleaved ? compatibleInstance(ws, prsc, rsc, false) : undefined;
    for (const o of orderingsAfter(after, moved)) {
      if (!impliesThen(after, o)) {
        // down from a group or clone to its own members' actions only
        const child = o.then.rsc;
        if (!rsc || rsc.kind === 'primitive' || prsc.parent === rsc) continue;
        if (!child || child.kind === 'clone' || child.parent !== rsc) continue;
        if (interleaved && pair !== child) continue;
      }
      stack.push(o.then);
    }
  }
}

function stopOrderings(as: ActionSet): void {
  // (per kind: an anti-colocation's probe orderings keep their kind, as Pacemaker's do)
  const done = [new Map<Rsc, Set<Action>>(), new Map<Rsc, Set<Action>>()];
  const add = (first: Rsc, then: Action, flags: number): void => {
    if (then.rsc === first) return;
    // a resource inside a stopping container is not probed before the container stops
    if (first.container && then.rsc === first.container && then.task === 'stop') return;
    // a guest's fencing follows its container's stop through an ordering between the two
    // actions, not a constraint (pcmk__fence_guest): the container's probes stay unordered
    if (then.guestOf) return;
    const kind = flags === O.antiColocation ? O.antiColocation : O.optional;
    const byRsc = done[kind === O.optional ? 0 : 1] as Map<Rsc, Set<Action>>;
    let seen = byRsc.get(first);
    if (!seen) byRsc.set(first, (seen = new Set()));
    if (seen.has(then)) return;
    seen.add(then);
    for (const probe of probesOf(as, first))
      if (probeBefore(probe, then)) as.order(probe, then, kind);
  };
  for (const o of [...as.orderings])
    if (o.first.task === 'stop' && o.first.rsc?.kind === 'primitive')
      add(o.first.rsc, o.then, o.flags);
  for (const s of as.stopOrderingsOfStopped) for (const t of s.thens) add(s.first, t, s.flags);
}

/** Orderings after collectives' starts (stops), by that start (stop). */
function movedOrderings(as: ActionSet): Map<Action, Ordering[]> {
  const moved = new Map<Action, Ordering[]>();
  for (const o of as.orderings) {
    if (!o.collectiveFirst) continue;
    const list = moved.get(o.collectiveFirst);
    if (list) list.push(o);
    else moved.set(o.collectiveFirst, [o]);
  }
  return moved;
}

/** What makes the restart orderings (probe before stops) for an ordering of a probe before an action. */
export function probeRestartOrderer(
  ws: WorkingSet,
  as: ActionSet,
): (probe: Action, then: Action) => void {
  const moved = movedOrderings(as);
  return (probe, then) => restartOrderings(ws, as, probe, then, moved);
}

export function orderProbes(ws: WorkingSet, as: ActionSet): void {
  const moved = movedOrderings(as);
  const visit = (r: Rsc): void => {
    if (r.kind !== 'primitive') {
      for (const c of r.children) visit(c);
      return;
    }
    const top = topOf(r);
    for (const probe of probesOf(as, r)) {
      // a clone instance's probe comes before the clone's start
      const afters: Action[] = [];
      for (const o of probe.after) {
        const t =
          top.kind === 'clone' && o.then.rsc === r && o.then.task === 'start'
            ? as.ofRsc(top, 'start')[0]
            : o.then;
        if (t && !afters.includes(t)) afters.push(t);
      }
      for (const after of afters) restartOrderings(ws, as, probe, after, moved);
    }
  };
  for (const r of ws.resources) visit(r);
  stopOrderings(as);
}
