/**
 * Clones: placing a clone's instances (Pacemaker's distribute_children),
 * colocations with clones (interleaved or not), and the clone's actions,
 * orderings and probes. Instances are ordinary primitives (or groups) whose
 * parent is the clone; see model.ts for their ids.
 */
import type { Action, Coloc, Rsc, SNode } from './model';
import { INF, O, Role, cloneOf, nodeAvailable, primitivesOf } from './model';
import { parseBoolean } from '@remora/cib';
import type { ActionSet } from './actions';
import type { WorkingSet } from './unpack';
import {
  W,
  applyColocToWeights,
  assign,
  baseWeight,
  hasTable,
  locate,
  mergeWeights,
} from './assign';
import { ABSENT, NodeScores } from './scores';
import { thisWithList, withThisList } from './colocations';
import {
  addPromotionScores,
  colocateWithPromotable,
  createPromotablePseudoActions,
  orderPromotable,
  setInstanceRoles,
} from './promotable';

// ------------------------------------------------------------- placement helpers

/** Where an instance runs now (one node), or will run (`current` false). */
export function instanceNode(inst: Rsc, current: boolean): SNode | undefined {
  const nodes = new Set<SNode>();
  for (const p of primitivesOf(inst)) {
    if (current) for (const n of p.runningOn) nodes.add(n);
    else if (p.assignedTo) nodes.add(p.assignedTo);
  }
  return nodes.size === 1 ? [...nodes][0] : undefined;
}

/** Where an instance is active: a cloned group's nodes in the order its members' histories were read. */
function runningNodes(inst: Rsc): SNode[] {
  const nodes: SNode[] = [];
  for (const p of primitivesOf(inst))
    for (const n of p.runningOn) if (!nodes.includes(n)) nodes.push(n);
  if (inst.kind !== 'group' || nodes.length < 2 || !inst.activeOn) return nodes;
  const seen = inst.activeOn.filter((n) => nodes.includes(n));
  return [...seen, ...nodes.filter((n) => !seen.includes(n))];
}

function isFailed(inst: Rsc): boolean {
  return primitivesOf(inst).some((p) => p.failed) || inst.failed;
}

function isBlocked(inst: Rsc): boolean {
  return inst.blocked || primitivesOf(inst).some((p) => p.blocked);
}

function isProvisional(inst: Rsc): boolean {
  return inst.kind === 'group' ? inst.provisional : inst.provisional;
}

function weight(t: NodeScores, node: SNode): number {
  return t.get(node.index);
}

/** The instance's own score table (a cloned group's, or the primitive's). */
function tableOf(inst: Rsc): NodeScores {
  return inst.allowed;
}

/**
 * Whether an instance's current node is still allowed for it when instances
 * are sorted. Pacemaker's node scores do not yet reflect that a node is
 * offline or shutting down at that point (only assignment checks it), so
 * for such a node, whose scores here start from -INFINITY, only a missing
 * score disallows it.
 */
function allowedOn(inst: Rsc, node: SNode): boolean {
  const w = weight(tableOf(inst), node);
  if (w === ABSENT) return false;
  return w >= 0 || baseWeight(node) <= -INF;
}

/**
 * Pacemaker's cmp_instance_by_colocation: an active instance's score on its
 * current node once the clone's colocations are applied to that node alone
 * (the primaries' scores, and the positive preferences of the dependents).
 */
function colocatedScore(ws: WorkingSet, clone: Rsc, node: SNode): number {
  let work = new NodeScores(ABSENT, new Map([[node.index, baseWeight(node)]]));
  for (const c of thisWithList(clone))
    work = mergeWeights(ws, c.primary, work, c.nodeAttribute, c.score / INF, 0);
  for (const c of withThisList(clone)) {
    if (!c.influence) continue;
    work = mergeWeights(ws, c.dependent, work, c.nodeAttribute, c.score / INF, W.positive);
  }
  return work.get(node.index);
}

/** Pacemaker's sort_clone_instance: the order instances are placed in. */
function compareInstances(clone: Rsc, a: Rsc, b: Rsc, colocated: (node: SNode) => number): number {
  const na = runningNodes(a);
  const nb = runningNodes(b);
  if (na.length > 0 && nb.length > 0 && na.length !== nb.length)
    return na.length < nb.length ? -1 : 1;
  let n1: SNode | undefined = na[0];
  let n2: SNode | undefined = nb[0];
  let can1 = true;
  let can2 = true;
  if (n1 && !allowedOn(a, n1)) {
    n1 = undefined;
    can1 = false;
  }
  if (n2 && !allowedOn(b, n2)) {
    n2 = undefined;
    can2 = false;
  }
  if (can1 !== can2) return can1 ? -1 : 1;
  // promotable instances: their best promotion score stands in for the priority
  const pa = a.promotion?.priority ?? a.priority;
  const pb = b.promotion?.priority ?? b.priority;
  if (pa !== pb) return pa > pb ? -1 : 1;
  if (!n1 && !n2) return 0;
  if (!n1) return 1;
  if (!n2) return -1;
  const av1 = nodeAvailable(n1);
  const av2 = nodeAvailable(n2);
  if (av1 !== av2) return av1 ? -1 : 1;
  const p1 = weight(clone.allowed, n1) !== ABSENT;
  const p2 = weight(clone.allowed, n2) !== ABSENT;
  if (!p1 && !p2) return 0;
  if (p1 !== p2) return p1 ? -1 : 1;
  const info = clone.clone as NonNullable<Rsc['clone']>;
  const c1 = info.perNode[n1.index] ?? 0;
  const c2 = info.perNode[n2.index] ?? 0;
  if (c1 !== c2) return c1 < c2 ? -1 : 1;
  const f1 = isFailed(a);
  const f2 = isFailed(b);
  if (f1 !== f2) return f1 ? 1 : -1;
  const s1 = colocated(n1);
  const s2 = colocated(n2);
  if (s1 !== s2) return s1 > s2 ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Every table in an instance (a cloned group and its members). */
function tablesIn(inst: Rsc): Rsc[] {
  const out = hasTable(inst) ? [inst] : [];
  if (inst.kind !== 'primitive') for (const c of inst.children) out.push(...tablesIn(c));
  return out;
}

function addToTables(inst: Rsc, node: SNode, score: number): void {
  for (const r of tablesIn(inst)) {
    const cur = r.allowed.get(node.index);
    if (cur === ABSENT) continue;
    r.allowed.set(node.index, addScore(cur, score));
  }
}

function addScore(a: number, b: number): number {
  if (a <= -INF || b <= -INF) return -INF;
  if (a >= INF || b >= INF) return INF;
  return Math.max(-INF, Math.min(INF, a + b));
}

/** Pacemaker's can_run_instance over all nodes: bans where the clone may not run or is full. */
function limitInstance(ws: WorkingSet, clone: Rsc, inst: Rsc, limit: number): void {
  const info = clone.clone as NonNullable<Rsc['clone']>;
  const t = tableOf(inst);
  for (const node of ws.nodes) {
    const i = node.index;
    if (t.get(i) === ABSENT) continue;
    const pw = weight(clone.allowed, node);
    if (!nodeAvailable(node) || inst.orphan || pw === ABSENT) addToTables(inst, node, -INF);
    else if (pw < 0) addToTables(inst, node, pw);
    else if ((info.perNode[i] ?? 0) >= limit) addToTables(inst, node, -INF);
  }
}

/** The clone's colocations an instance takes over (Pacemaker's append_parent_colocation). */
function appendParentColocations(clone: Rsc, inst: Rsc, all: boolean): void {
  const info = clone.clone as NonNullable<Rsc['clone']>;
  if (info.appended.has(inst)) return;
  info.appended.add(inst);
  for (const c of clone.thisWith)
    if (all || c.score < 0 || c.score >= INF) inst.thisWith.unshift(c);
  for (const c of clone.withThis) {
    if (!c.influence) continue;
    if (all || c.score < 0) inst.withThis.unshift(c);
  }
}

interface Saved {
  readonly r: Rsc;
  readonly allowed: NodeScores;
  readonly nextRole: Role;
}

function unassignInstance(inst: Rsc, saved: Saved[]): void {
  for (const s of saved) {
    s.r.allowed = s.allowed;
    s.r.nextRole = s.nextRole;
  }
  for (const r of [inst, ...(inst.kind === 'group' ? inst.children : [])]) {
    if (r.kind === 'primitive' && r.assignedTo) r.assignedTo.assigned--;
    r.assignedTo = undefined;
    r.provisional = true;
  }
}

function allocateInstance(
  ws: WorkingSet,
  clone: Rsc,
  inst: Rsc,
  prefer: SNode | undefined,
  all: boolean,
  limit: number,
): SNode | undefined {
  if (!isProvisional(inst)) return instanceNode(inst, false);
  if (inst.assigning) return undefined;
  appendParentColocations(clone, inst, all);
  if (prefer) {
    const w = weight(tableOf(inst), prefer);
    if (w === ABSENT || w < 0) return undefined;
  }
  limitInstance(ws, clone, inst, limit);
  const saved: Saved[] = tablesIn(inst).map((r) => ({
    r,
    allowed: r.allowed.clone(),
    nextRole: r.nextRole,
  }));
  let chosen = assign(ws, inst, prefer);
  if (chosen && prefer && chosen !== prefer) {
    if (inst.kind === 'group') {
      // Pacemaker 2.1.5 cannot take a group instance back (native_deallocate
      // does nothing for a group): only the group's own scores are restored,
      // its members stay where they were placed and the instance, no longer
      // provisional, is not counted on that node
      const own = saved.find((s) => s.r === inst);
      if (own) inst.allowed = own.allowed;
    } else unassignInstance(inst, saved);
    chosen = undefined;
  }
  if (chosen) {
    const info = clone.clone as NonNullable<Rsc['clone']>;
    if (weight(clone.allowed, chosen) !== ABSENT) info.perNode[chosen.index]++;
  }
  return chosen;
}

/** Place a clone's instances: current locations first, then the rest (Pacemaker's distribute_children). */
export function assignClone(ws: WorkingSet, clone: Rsc): void {
  if (!clone.provisional || clone.assigning) return;
  const info = clone.clone as NonNullable<Rsc['clone']>;
  if (clone.promotable) addPromotionScores(ws, clone);
  clone.assigning = true;
  for (const c of clone.thisWith) assign(ws, c.primary);
  for (const c of clone.withThis) {
    if (!c.influence) continue;
    clone.allowed = mergeInto(ws, clone, c);
  }
  info.perNode = new Int32Array(ws.nodes.length);
  const colocatedOn = new Map<SNode, number>();
  const colocated = (node: SNode): number => {
    let v = colocatedOn.get(node);
    if (v === undefined) {
      v = colocatedScore(ws, clone, node);
      colocatedOn.set(node, v);
    }
    return v;
  };
  clone.children.sort((a, b) => compareInstances(clone, a, b, colocated));

  const max = info.max;
  let available = 0;
  for (const n of ws.nodes)
    if (weight(clone.allowed, n) !== ABSENT && nodeAvailable(n)) available++;
  const all = max < available;
  const loopMax = Math.max(1, available > 0 ? Math.floor(max / available) : 1);
  let allocated = 0;
  for (const inst of clone.children) {
    if (allocated >= max) break;
    const running = runningNodes(inst);
    if (running.length === 0 || !isProvisional(inst) || isFailed(inst)) continue;
    const node = running[0] as SNode;
    if (!nodeAvailable(node)) continue;
    if (weight(clone.allowed, node) !== ABSENT && (info.perNode[node.index] ?? 0) >= loopMax)
      continue;
    if (allocateInstance(ws, clone, inst, node, all, info.nodeMax)) allocated++;
  }
  for (const inst of clone.children) {
    if (!isProvisional(inst)) continue;
    if (allocated >= max) {
      locate(ws, inst, undefined, -INF);
      for (const r of [inst, ...primitivesOf(inst)]) {
        r.provisional = false;
        r.assignedTo = undefined;
        r.nextRole = Role.Stopped;
      }
      continue;
    }
    if (allocateInstance(ws, clone, inst, undefined, all, info.nodeMax)) allocated++;
  }
  // promotable: choose the promoted instances; the clone keeps them in promotion order
  if (clone.promotable)
    clone.children = setInstanceRoles(ws, clone, {
      cloneScores: (c) => c.allowed,
      mergeScores: (other, scores, attribute, factor, flags) =>
        mergeWeights(
          ws,
          other,
          scores,
          attribute,
          factor,
          (flags.rollback ? W.rollback : 0) | (flags.onlyPositive ? W.positive : 0),
        ),
    });
  clone.provisional = false;
  clone.assigning = false;
}

function mergeInto(ws: WorkingSet, clone: Rsc, c: Coloc): NodeScores {
  // a dependent's preferences, positive only (rolled back when nothing is left)
  return mergeWeights(
    ws,
    c.dependent,
    clone.allowed,
    c.nodeAttribute,
    c.score / INF,
    W.rollback | W.positive,
  );
}

// ------------------------------------------------------------- colocation

/** The instance of `clone` placed (or, `current`, active) on `node`. */
export function instanceOnNode(clone: Rsc, node: SNode, current: boolean): Rsc | undefined {
  for (const inst of clone.children) {
    if (isBlocked(inst)) continue;
    if (instanceNode(inst, current) === node) return inst;
  }
  return undefined;
}

function sortedNodes(ws: WorkingSet, t: NodeScores): SNode[] {
  return ws.nodes
    .filter((n) => weight(t, n) !== ABSENT)
    .sort((a, b) => {
      const wa = nodeAvailable(a) ? weight(t, a) : -INF;
      const wb = nodeAvailable(b) ? weight(t, b) : -INF;
      if (wa !== wb) return wa > wb ? -1 : 1;
      if (a.assigned !== b.assigned) return a.assigned < b.assigned ? -1 : 1;
      return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
    });
}

/** Pacemaker's find_compatible_child: the instance of `clone` to pair `local` with. */
export function compatibleInstance(
  ws: WorkingSet,
  local: Rsc,
  clone: Rsc,
  current: boolean,
): Rsc | undefined {
  const node = instanceNode(local, current);
  if (node) return instanceOnNode(clone, node, current);
  const t = local.kind === 'group' ? (local.children[0]?.allowed ?? local.allowed) : local.allowed;
  for (const n of sortedNodes(ws, t)) {
    const pair = instanceOnNode(clone, n, current);
    if (pair) return pair;
  }
  return undefined;
}

/** A colocation of `dependent` (a primitive or instance) with a clone (clone_rsc_colocation_rh). */
export function applyColocationWithClone(
  ws: WorkingSet,
  dependent: Rsc,
  clone: Rsc,
  c: Coloc,
): void {
  if (clone.provisional) return;
  if (clone.promotable && c.primaryRole !== Role.Unknown) {
    // with the instances in a role: only while the dependent is placed (its role comes later)
    if (dependent.provisional) colocateWithPromotable(ws, dependent, clone, c);
    return;
  }
  const depClone = c.dependent.kind === 'clone' ? c.dependent : undefined;
  const interleave =
    depClone?.clone?.interleave === true && depClone.clone.nodeMax === clone.clone?.nodeMax;
  if (interleave) {
    const inst = instanceOf(dependent);
    const pair = compatibleInstance(ws, inst, clone, false);
    if (pair) {
      applyColocToWeights(ws, dependent, pair, c);
    } else if (c.score >= INF) {
      for (const r of [inst, ...primitivesOf(inst)]) {
        r.provisional = false;
        r.assignedTo = undefined;
        r.nextRole = Role.Stopped;
      }
    }
    return;
  }
  if (c.score >= INF) {
    const nodes = new Set<SNode>();
    for (const inst of clone.children) {
      const n = instanceNode(inst, false);
      if (n && !isBlocked(inst)) nodes.add(n);
    }
    const t = dependent.allowed;
    for (const node of ws.nodes) {
      if (t.get(node.index) === ABSENT) continue;
      if (!nodes.has(node)) t.set(node.index, -INF);
    }
    return;
  }
  for (const inst of clone.children) applyColocToWeights(ws, dependent, inst, c);
}

function instanceOf(r: Rsc): Rsc {
  let x = r;
  while (x.parent && x.parent.kind !== 'clone') x = x.parent;
  return x;
}

// ------------------------------------------------------------- actions

/** Whether an instance (recursively) stops, starts or is active (clone_update_pseudo_status). */
function pseudoStatus(
  inst: Rsc,
  st: { stopping: boolean; starting: boolean; active: boolean },
): void {
  if (inst.kind !== 'primitive') {
    for (const c of inst.children) pseudoStatus(c, st);
    return;
  }
  if (inst.runningOn.length > 0) st.active = true;
  for (const a of inst.actions) {
    if (st.starting && st.stopping) return;
    if (a.optional) continue;
    // (a stop on a node to be fenced becomes a pseudo action implied by the fencing)
    if (!a.pseudo && !a.runnable && !(a.task === 'stop' && a.node?.unclean)) continue;
    if (a.task === 'stop') st.stopping = true;
    else if (a.task === 'start' && a.runnable) st.starting = true;
  }
}

/** A clone's actions: its instances', then the clone's start/running/stop/stopped pseudo actions. */
export function createCloneActions(
  as: ActionSet,
  clone: Rsc,
  createInstanceActions: (inst: Rsc) => void,
): void {
  const st = { stopping: false, starting: false, active: false, migrate: true };
  for (const inst of clone.children) {
    createInstanceActions(inst);
    const one = { stopping: false, starting: false, active: false };
    pseudoStatus(inst, one);
    // an instance that stops and starts again keeps what depends on the clone from migrating
    if (one.stopping && one.starting) st.migrate = false;
    st.stopping ||= one.stopping;
    st.starting ||= one.starting;
    st.active ||= one.active;
  }
  const start = as.custom(clone, 'start', 0, undefined, !st.starting, { pseudo: true });
  const running = as.custom(clone, 'running', 0, undefined, !st.starting, { pseudo: true });
  running.runnable = st.active || st.starting;
  const stop = as.custom(clone, 'stop', 0, undefined, !st.stopping, { pseudo: true });
  stop.migrateRunnable = st.migrate;
  const stopped = as.custom(clone, 'stopped', 0, undefined, !st.stopping, { pseudo: true });
  if (clone.clone?.notify) {
    const startNotify = notifyPseudoActions(as, clone, start, running);
    const stopNotify = notifyPseudoActions(as, clone, stop, stopped);
    if (stopNotify.postDone && startNotify.pre)
      as.order(stopNotify.postDone, startNotify.pre, O.optional);
  }
  if (clone.promotable) {
    createPromotablePseudoActions(as, clone);
    if (clone.clone?.notify) createPromotableNotifyPseudoActions(as, clone);
  }
  clone.nextRole = clone.children.reduce(
    (m, c) => Math.max(m, c.nextRole === Role.Unknown ? Role.Stopped : c.nextRole),
    Role.Stopped,
  );
}

function byId(a: Rsc, b: Rsc): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Orderings inside a clone (clone_internal_constraints). */
export function cloneInternal(
  as: ActionSet,
  clone: Rsc,
  instanceInternal: (inst: Rsc) => void,
): void {
  as.orderRsc(clone, 'stopped', clone, 'start', O.optional);
  as.orderRsc(clone, 'start', clone, 'running', O.runnableLeft);
  as.orderRsc(clone, 'stop', clone, 'stopped', O.runnableLeft);
  const ordered = clone.clone?.ordered === true;
  const children = ordered ? [...clone.children].sort(byId) : clone.children;
  let last: Rsc | undefined;
  for (const inst of children) {
    instanceInternal(inst);
    as.orderRsc(clone, 'start', inst, 'start', O.runnableLeft);
    as.orderRsc(inst, 'start', clone, 'running', O.optional);
    if (ordered && last) as.orderRsc(last, 'start', inst, 'start', O.optional);
    as.orderRsc(clone, 'stop', inst, 'stop', O.optional);
    as.orderRsc(inst, 'stop', clone, 'stopped', O.optional);
    if (ordered && last) as.orderRsc(inst, 'stop', last, 'stop', O.optional);
    last = inst;
  }
  if (clone.promotable) orderPromotable(as, clone, children, ordered);
}

/** The instance of a clone to probe on a node (probe_anonymous_clone); all of them for unique clones. */
export function instancesToProbe(clone: Rsc, node: SNode): Rsc[] {
  const children = [...clone.children].sort(byId);
  if (children.length === 0) return [];
  if (clone.clone?.unique) return children;
  const known = children.find((c) => c.knownOn.has(node));
  if (known) return [known];
  const planned = children.find((c) => instanceNode(c, false) === node);
  return [planned ?? (children[0] as Rsc)];
}

/** Task names an ordering after a collective waits for. */
function completed(task: string): string {
  switch (task) {
    case 'start':
      return 'running';
    case 'stop':
      return 'stopped';
    case 'promote':
      return 'promoted';
    case 'demote':
      return 'demoted';
    default:
      return task;
  }
}

/** The instance task a clone pseudo action stands for (clone_child_action). */
export function childTask(task: string): string {
  switch (task) {
    case 'running':
      return 'start';
    case 'stopped':
      return 'stop';
    case 'promoted':
      return 'promote';
    case 'demoted':
      return 'demote';
    default:
      return task;
  }
}

function instanceAction(as: ActionSet, inst: Rsc, task: string): Action | undefined {
  return as.ofRsc(inst, task).find((a) => a.interval === 0);
}

/**
 * An ordering between two clones where the dependent clone interleaves:
 * each instance is ordered after the instance of the other clone on the
 * same node; an instance with no such partner may not start.
 */
export function orderInterleaved(
  ws: WorkingSet,
  as: ActionSet,
  first: Rsc,
  firstTask: string,
  then: Rsc,
  thenTask: string,
  flags: number,
): void {
  const fTask = completed(firstTask);
  const current = fTask === 'stopped' || fTask === 'demoted';
  if (!current && flags & (O.runnableLeft | O.impliesThen))
    as.interleavedStarts.push({ first, then });
  for (const thenInst of then.children) {
    const firstInst = compatibleInstance(ws, thenInst, first, current);
    if (!firstInst) {
      if (!current && flags & (O.runnableLeft | O.impliesThen)) inhibit(thenInst);
      continue;
    }
    const fa = instanceAction(as, firstInst, childTask(fTask));
    const ta = instanceAction(as, thenInst, thenTask);
    if (!fa || !ta) continue;
    as.order(fa, ta, flags);
  }
}

/**
 * Mandatory interleaved orderings are re-evaluated whenever an instance
 * loses its place (Pacemaker looks for the compatible instance each time it
 * updates the ordering): an instance whose partner was just inhibited has
 * nothing to pair with either, along whole chains of interleaved clones.
 */
export function inhibitUnpaired(ws: WorkingSet, as: ActionSet): void {
  for (let changed = true; changed;) {
    changed = false;
    for (const { first, then } of as.interleavedStarts) {
      for (const thenInst of then.children) {
        if (!primitivesOf(thenInst).some((p) => p.assignedTo)) continue;
        if (compatibleInstance(ws, thenInst, first, false)) continue;
        inhibit(thenInst);
        changed = true;
      }
    }
  }
}

/** An instance that may not become active after all (nothing to pair it with). */
function inhibit(inst: Rsc): void {
  for (const r of [inst, ...primitivesOf(inst)]) {
    if (r.kind === 'primitive' && r.assignedTo) r.assignedTo.assigned--;
    r.assignedTo = undefined;
    r.nextRole = Role.Stopped;
    for (const a of r.actions) {
      if (a.task === 'stop') a.optional = false;
      else if (a.task === 'start') a.runnable = false;
      else if (a.interval > 0 && a.expectedRc !== 7) a.runnable = false;
    }
  }
}

/** Flags of a clone's pseudo action as an ordering's first: any instance runnable, any required. */
export function cloneFirstFlags(
  a: Action,
  flagsOf: (x: Action) => { optional: boolean; runnable: boolean },
  node?: SNode,
): { optional: boolean; runnable: boolean } {
  const clone = a.rsc as Rsc;
  // a notification stands for the action it notifies about
  const notified = /_notify_([a-z_]+)_0$/.exec(a.key);
  const own =
    (a.task === 'notify' || a.task === 'notified') && notified ? (notified[1] as string) : a.task;
  const task = childTask(own);
  let optional = true;
  let runnable = false;
  for (const inst of clone.children) {
    // (a cloned group's instance has the completion pseudo action itself: running, stopped)
    const it = inst.kind === 'primitive' ? task : own;
    const ia = inst.actions.find((x) => x.task === it && x.interval === 0);
    if (!ia) continue;
    const f = flagsOf(ia);
    if (f.runnable) runnable = true;
    // ordered before an action on a node: only the instances' actions there make it required
    if (node && !requiredOn(inst, task, node, ia, f.optional)) continue;
    if (!f.optional) optional = false;
  }
  return { optional, runnable };
}

/** Whether an instance's action (a cloned group's: a member's) is required on `node`. */
function requiredOn(inst: Rsc, task: string, node: SNode, ia: Action, optional: boolean): boolean {
  if (inst.kind === 'primitive') return ia.node === node && !optional;
  return primitivesOf(inst).some((m) =>
    m.actions.some((x) => x.task === task && x.interval === 0 && x.node === node && !x.optional),
  );
}

// ------------------------------------------------------------- notifications

/**
 * A clone's notification pseudo actions around one of its actions
 * (pe__clone_notif_pseudo_ops): `pre` and `confirmed-pre` before the
 * action, `post` and `confirmed-post` after the action's completion.
 */
interface NotifyPseudo {
  readonly pre?: Action;
  readonly preDone?: Action;
  readonly post?: Action;
  readonly postDone?: Action;
}

function notifyKey(rscId: string, type: string, task: string): string {
  return `${rscId}_${type}_notify_${task}_0`;
}

/**
 * The pseudo actions notifying about `action` (before it) and `complete`
 * (after it); either may be absent (notifications after fencing have no
 * `pre` side).
 */
function notifyPseudoActions(
  as: ActionSet,
  clone: Rsc,
  action: Action | undefined,
  complete: Action | undefined,
): NotifyPseudo {
  const make = (of: Action, type: string, task: string): Action =>
    as.custom(clone, task, 0, undefined, of.optional, {
      pseudo: true,
      key: notifyKey(clone.id, type, of.task),
    });
  let pre: Action | undefined;
  let preDone: Action | undefined;
  let post: Action | undefined;
  let postDone: Action | undefined;
  if (action) {
    pre = make(action, 'pre', 'notify');
    preDone = make(action, 'confirmed-pre', 'notified');
    as.order(pre, preDone, O.optional);
    as.order(preDone, action, O.optional);
  }
  if (complete) {
    post = make(complete, 'post', 'notify');
    postDone = make(complete, 'confirmed-post', 'notified');
    post.runnable = complete.runnable;
    postDone.runnable = complete.runnable;
    as.order(complete, post, O.impliesThen);
    as.order(post, postDone, O.impliesThen);
  }
  if (preDone && post) as.order(preDone, post, O.optional);
  return { pre, preDone, post, postDone };
}

/** The notification pseudo actions of a clone's action (created with the clone's actions). */
function findNotifyPseudo(as: ActionSet, clone: Rsc, task: string, done: string): NotifyPseudo {
  const find = (type: string, of: string): Action | undefined =>
    as.find(notifyKey(clone.id, type, of));
  return {
    pre: find('pre', task),
    preDone: find('confirmed-pre', task),
    post: find('post', done),
    postDone: find('confirmed-post', done),
  };
}

/**
 * Promote and demote notifications of a promotable clone with notify=true,
 * and their order against the start and stop notifications: every
 * demotion is notified before anything is stopped, started or promoted,
 * and promotions are notified last.
 */
function createPromotableNotifyPseudoActions(as: ActionSet, clone: Rsc): void {
  const pseudo = (task: string): Action | undefined => as.find(`${clone.id}_${task}_0`);
  const promote = notifyPseudoActions(as, clone, pseudo('promote'), pseudo('promoted'));
  const demote = notifyPseudoActions(as, clone, pseudo('demote'), pseudo('demoted'));
  const start = findNotifyPseudo(as, clone, 'start', 'running');
  const stop = findNotifyPseudo(as, clone, 'stop', 'stopped');
  const order = (first: Action | undefined, then: Action | undefined): void => {
    if (first && then) as.order(first, then, O.optional);
  };
  order(stop.postDone, promote.pre);
  order(start.postDone, promote.pre);
  order(demote.postDone, promote.pre);
  order(demote.postDone, start.pre);
  order(demote.postDone, stop.pre);
}

/** An instance's actions the notifications report (collect_resource_data), by task. */
type Activity = Record<'start' | 'stop' | 'promote' | 'demote', number>;

function collectActivity(prims: readonly Rsc[]): Activity {
  const n: Activity = { start: 0, stop: 0, promote: 0, demote: 0 };
  for (const p of prims) {
    for (const a of p.actions) {
      if (a.optional || !a.node) continue;
      if (!a.runnable && !(a.task === 'stop' && a.node.unclean)) continue;
      if (a.task === 'start' || a.task === 'stop' || a.task === 'promote' || a.task === 'demote')
        n[a.task]++;
    }
  }
  return n;
}

/**
 * One instance's notify operation on a node (new_notify_action): none on
 * an offline node or when the clone's notification is not runnable.
 */
function notifyInstance(
  as: ActionSet,
  p: Rsc,
  node: SNode,
  task: string,
  type: 'pre' | 'post',
  op: Action | undefined,
  done: Action | undefined,
): void {
  if (!op || !done || !node.online || !op.runnable) return;
  const n = as.custom(p, 'notify', 0, node, op.optional, { key: notifyKey(p.id, type, task) });
  as.order(op, n, O.optional);
  as.order(n, done, O.optional);
  if (type !== 'post') return;
  // recurring monitors wait for every post-notification
  for (const mon of p.actions) {
    if (mon.interval > 0 && !mon.cancel && mon.task !== 'cancel') as.order(done, mon, O.optional);
  }
}

/**
 * Notifications about one of the clone's actions on its instances
 * (create_notify_actions): instances that are active now are told before
 * (and, unless they stop, after) a stop or demote; instances that will be
 * active are told before a promote (and before a start, unless they start
 * themselves) and after either, where they will run.
 */
function notifyInstances(
  as: ActionSet,
  prims: readonly Rsc[],
  task: 'start' | 'stop' | 'promote' | 'demote',
  n: NotifyPseudo,
): void {
  for (const p of prims) {
    if ((task === 'stop' || task === 'demote') && p.role !== Role.Stopped) {
      if (p.role === Role.Unknown) continue;
      const stop = p.actions.find((a) => a.task === 'stop' && a.interval === 0);
      for (const node of p.runningOn) {
        // a stop implied by fencing: the fenced node is not told
        if (stop?.pseudo && (node.unclean || node.remoteRequiresReset)) continue;
        notifyInstance(as, p, node, task, 'pre', n.pre, n.preDone);
        if (task === 'demote' || !stop || stop.optional)
          notifyInstance(as, p, node, task, 'post', n.post, n.postDone);
      }
    }
    if ((task === 'start' || task === 'promote') && p.nextRole !== Role.Stopped) {
      if (p.nextRole === Role.Unknown) continue;
      const start = p.actions.find((a) => a.task === 'start' && a.interval === 0);
      // behind a remote connection that cannot start: nothing to tell
      const connection = start?.node?.connection;
      if (connection) {
        const cstart = connection.actions.find((a) => a.task === 'start' && a.interval === 0);
        if (cstart && !cstart.runnable) continue;
      }
      const node = p.assignedTo;
      if (!node) continue;
      if (task !== 'start' || !start || start.optional)
        notifyInstance(as, p, node, task, 'pre', n.pre, n.preDone);
      notifyInstance(as, p, node, task, 'post', n.post, n.postDone);
    }
  }
}

/**
 * The instances' notify operations (pe__create_clone_notifications), created
 * once the transition's flags are final: for the clone's starts, stops,
 * promotions and demotions in that order. A clone action some instance
 * performs makes its notifications required; start, promote and demote
 * are only notified when some instance performs them.
 */
export function createNotifications(as: ActionSet, clone: Rsc): void {
  if (!clone.clone?.notify) return;
  const prims = primitivesOf(clone);
  const activity = collectActivity(prims);
  const tasks = [
    ['start', 'running'],
    ['stop', 'stopped'],
    ['promote', 'promoted'],
    ['demote', 'demoted'],
  ] as const;
  for (const [task, done] of tasks) {
    const n = findNotifyPseudo(as, clone, task, done);
    if (!n.pre && !n.post) continue;
    if (activity[task] > 0) {
      for (const a of [n.pre, n.preDone, n.post, n.postDone]) if (a) a.optional = false;
    } else if (task !== 'stop') {
      continue;
    }
    notifyInstances(as, prims, task, n);
  }
}

/**
 * A stop implied by fencing (pe__order_notifs_after_fencing): the stop
 * notifications cannot wait for it, so the instances that stay active are
 * told after the fencing instead (`post` and `confirmed-post` notification
 * pseudo actions of the fenced instance after the fencing).
 */
export function notifyAfterFencing(as: ActionSet, inst: Rsc, fence: Action): void {
  const clone = cloneOf(inst);
  // the instance's own notify (its meta attributes, or its clone's)
  if (!clone || !parseBoolean(inst.meta.notify, false)) return;
  const n = notifyPseudoActions(as, inst, undefined, fence);
  notifyInstances(as, primitivesOf(clone), 'stop', n);
}
