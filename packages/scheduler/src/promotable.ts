/**
 * Promotable clones: which instances are promoted, and the promote/demote
 * pseudo actions and orderings of the clone as a whole.
 *
 * Pacemaker's order: before the instances are placed, each instance's node
 * scores get its promotion score (the `master-<name>` node attribute, written
 * by the agent through `crm_attribute --promotion`); once they are placed,
 * each instance's promotion priority is its promotion score on its node
 * (-1 without one), plus `role="Promoted"` location scores and role-based
 * colocations; the clone's own node scores (plus those priorities and its
 * colocations for the promoted role) give the final order, and the first
 * `promoted-max` instances that may be promoted (at most `promoted-node-max`
 * per node) are promoted. Everything else runs unpromoted.
 */
import { addScores, parseBoolean } from '@remora/cib';
import type { Coloc, PromotableSettings, Rsc, SNode } from './model';
import { INF, O, Role, nodeAvailable, primitivesOf, topOf } from './model';
import type { ActionSet } from './actions';
import type { WorkingSet } from './unpack';
import type { NodeScores } from './scores';
import { ABSENT } from './scores';
import { ticketForbidsPromotion } from './constraints';

// ---------------------------------------------------------------- configuration

/** `promoted-max` / `promoted-node-max` (or the older `master-max` / `master-node-max`), default 1. */
export function promotableSettings(
  id: string,
  meta: Readonly<Record<string, string>>,
): PromotableSettings {
  const count = (names: readonly string[]): number => {
    for (const name of names) {
      const v = meta[name];
      if (v === undefined) continue;
      const n = Number.parseInt(v, 10);
      if (!Number.isInteger(n) || n < 0)
        throw new PromotableConfigError(id, name, v, 'must be a non-negative integer');
      return n;
    }
    return 1;
  };
  return {
    promotedMax: count(['promoted-max', 'master-max']),
    promotedNodeMax: count(['promoted-node-max', 'master-node-max']),
  };
}

/** A promotable clone's meta attribute that cannot be used, with where it is. */
export class PromotableConfigError extends Error {
  constructor(
    readonly resource: string,
    readonly attribute: string,
    readonly value: string,
    problem: string,
  ) {
    super(`promotable clone '${resource}': ${attribute}="${value}" ${problem}`);
    this.name = 'PromotableConfigError';
  }
}

/** The node attribute holding a resource's promotion score on that node. */
export function promotionScoreName(resource: string): string {
  return `master-${resource}`;
}

/** A promotion score attribute's value as a score (INFINITY words, else a leading integer). */
export function parsePromotionScore(value: string): number {
  const v = value.trim();
  if (/^\+?INFINITY$/i.test(v)) return INF;
  if (/^-INFINITY$/i.test(v)) return -INF;
  const n = Number.parseInt(v, 10);
  if (!Number.isFinite(n)) return 0;
  return Math.max(-INF, Math.min(INF, n));
}

// ---------------------------------------------------------------- instances

/** The clone a resource is an instance (or an instance member) of, if promotable. */
export function promotableCloneOf(rsc: Rsc): Rsc | undefined {
  for (let p = rsc.parent; p; p = p.parent) if (p.promotable) return p;
  return undefined;
}

function isUnique(clone: Rsc): boolean {
  return clone.clone?.unique ?? parseBoolean(clone.meta['globally-unique'], false);
}

/** An instance id without its instance number (`child:3` -> `child`). */
export function baseName(id: string): string {
  return id.replace(/:\d+$/, '');
}

/** Where an instance will be: the one node all its primitives are assigned to. */
export function instanceNode(inst: Rsc): SNode | undefined {
  if (inst.kind === 'primitive') return inst.assignedTo;
  let node: SNode | undefined;
  for (const p of primitivesOf(inst)) {
    if (!p.assignedTo) continue;
    if (node && node !== p.assignedTo) return undefined;
    node = p.assignedTo;
  }
  return node;
}

/** An instance's current role (a cloned group: its highest member role). */
export function currentRole(inst: Rsc): Role {
  if (inst.kind === 'primitive') return inst.role;
  return inst.children.reduce((m, c) => Math.max(m, currentRole(c)), Role.Unknown as Role);
}

/** An instance's next role (a cloned group: its highest member next role). */
export function nextRole(inst: Rsc): Role {
  if (inst.kind === 'primitive') return inst.nextRole;
  return inst.children.reduce((m, c) => Math.max(m, nextRole(c)), Role.Unknown as Role);
}

function priorityOf(rsc: Rsc): number {
  return rsc.promotion?.priority ?? rsc.priority;
}

function promotionOf(rsc: Rsc): { priority: number; sortIndex: number } {
  rsc.promotion ??= { priority: rsc.priority, sortIndex: 0 };
  return rsc.promotion;
}

// ---------------------------------------------------------------- promotion scores

function allowedOn(rsc: Rsc, node: SNode): boolean {
  const w = rsc.allowed.get(node.index);
  return w !== ABSENT && w >= 0;
}

/** The primitive of an instance whose configured name is `base`. */
function memberNamed(inst: Rsc, base: string): Rsc | undefined {
  return primitivesOf(inst).find((p) => baseName(p.id) === base);
}

/**
 * Whether an instance primitive's promotion score counts on a node: for an
 * anonymous clone, where this instance is active, or where no instance is
 * active but one was probed; for any clone, everywhere while the resource is
 * known nowhere (cluster start), else where this instance is known.
 */
function promotionScoreApplies(clone: Rsc, p: Rsc, node: SNode): boolean {
  const base = baseName(p.id);
  let applies = false;
  if (!isUnique(clone)) {
    let active: Rsc | undefined;
    for (const inst of clone.children) {
      const m = memberNamed(inst, base);
      if (m && m.runningOn.includes(node)) {
        active = m;
        break;
      }
    }
    if (active === p) applies = true;
    else if (!active)
      applies = clone.children.some((inst) => memberNamed(inst, base)?.knownOn.has(node) === true);
  }
  if (!applies) {
    if (p.runningOn.length === 0 && p.knownOn.size === 0) applies = true;
    else applies = p.knownOn.has(node) || p.runningOn.includes(node);
  }
  return applies && allowedOn(p, node);
}

/**
 * An instance's promotion score on a node, and whether none was found. A
 * cloned group's is the sum of its members'. The attribute is looked up under
 * the name the instance has in the history, then (anonymous clones) without
 * the instance number.
 */
export function promotionScore(
  ws: WorkingSet,
  inst: Rsc,
  node: SNode,
): { score: number; isDefault: boolean } {
  const clone = promotableCloneOf(inst) ?? topOf(inst);
  if (inst.kind !== 'primitive') {
    let score = 0;
    let isDefault = true;
    for (const c of inst.children) {
      const s = promotionScore(ws, c, node);
      if (!s.isDefault) isDefault = false;
      score += s.score;
    }
    return { score, isDefault };
  }
  if (!promotionScoreApplies(clone, inst, node)) return { score: 0, isDefault: true };
  const attrs = node.attrs;
  // the name the instance has in that node's history (crm_attribute --promotion wrote it there)
  let value =
    attrs[promotionScoreName(inst.historyNames?.get(node) ?? inst.historyName ?? inst.id)];
  if (value === undefined && !isUnique(clone)) {
    const base = baseName(inst.id);
    if (base !== inst.id) value = attrs[promotionScoreName(base)];
  }
  if (value === undefined) return { score: 0, isDefault: true };
  return { score: parsePromotionScore(value), isDefault: false };
}

/**
 * Before the instances are placed: each primitive instance prefers the nodes
 * where it has a positive promotion score, and its priority becomes its best
 * promotion score (so promotable instances are placed first where they can be
 * promoted).
 */
export function addPromotionScores(ws: WorkingSet, clone: Rsc): void {
  for (const inst of clone.children) {
    const promotion = promotionOf(inst);
    for (const node of ws.nodes) {
      if (inst.allowed.get(node.index) === ABSENT && inst.kind === 'primitive') continue;
      if (!nodeAvailable(node)) continue;
      const { score } = promotionScore(ws, inst, node);
      if (score > 0 && inst.kind === 'primitive') {
        inst.allowed.set(node.index, addScores(inst.allowed.get(node.index), score));
      }
      if (score > promotion.priority) promotion.priority = score;
    }
  }
}

// ---------------------------------------------------------------- role-based constraints

interface PromotedLocation {
  readonly rsc: Rsc;
  readonly node: SNode;
  readonly score: number;
}

const promotedLocations = new WeakMap<WorkingSet, PromotedLocation[]>();

/**
 * A location constraint (or rule) for the promoted role: it does not move
 * instances, it adds to the promotion priority of the instance placed on the
 * node. `rsc` is what the constraint names (the clone or its child).
 */
export function addPromotedLocation(ws: WorkingSet, rsc: Rsc, node: SNode, score: number): void {
  let list = promotedLocations.get(ws);
  if (!list) {
    list = [];
    promotedLocations.set(ws, list);
  }
  list.push({ rsc, node, score });
}

function appliesTo(located: Rsc, inst: Rsc, clone: Rsc): boolean {
  return located === inst || topOf(located) === clone;
}

/** Where a primary (a primitive, a group or a clone instance) ended up, as a colocation sees it. */
function primaryNode(primary: Rsc, score: number): SNode | undefined {
  if (primary.kind === 'group') {
    const member =
      score >= INF ? primary.children[primary.children.length - 1] : primary.children[0];
    return member?.assignedTo;
  }
  return instanceNode(primary);
}

function attrOf(node: SNode, attr: string | undefined): string | undefined {
  return node.attrs[attr ?? '#id'];
}

/**
 * An instance of `primary` (a clone) that will be in `role` on the node where
 * `inst` will be (Pacemaker's compatible child).
 */
export function compatibleInstance(inst: Rsc, primary: Rsc, role: Role): Rsc | undefined {
  const node = instanceNode(inst);
  if (!node) return undefined;
  for (const child of primary.children) {
    if (role !== Role.Unknown && nextRole(child) !== role) continue;
    if (primitivesOf(child).some((p) => p.blocked)) continue;
    if (instanceNode(child) === node) return child;
  }
  return undefined;
}

/** A colocation of a placed promotable instance with a primitive (or group, or instance): its priority. */
function colocationPriority(inst: Rsc, primary: Rsc, c: Coloc): void {
  if (c.dependentRole < Role.Unpromoted) return;
  const promotion = promotionOf(inst);
  const mine = instanceNode(inst);
  const theirs = primaryNode(primary, c.score);
  if (!mine || !theirs) return;
  if (attrOf(mine, c.nodeAttribute) !== attrOf(theirs, c.nodeAttribute)) {
    if (c.score >= INF && c.dependentRole === Role.Promoted) promotion.priority = -INF;
    return;
  }
  const primaryRole = primary.kind === 'group' ? nextRole(primary) : nextRole(primary);
  if (c.primaryRole !== Role.Unknown && c.primaryRole !== primaryRole) return;
  const factor = c.dependentRole === Role.Unpromoted ? -1 : 1;
  promotion.priority = addScores(factor * c.score, promotion.priority);
}

/** A colocation of a placed promotable instance with a clone. */
function colocationWithClone(inst: Rsc, primary: Rsc, c: Coloc): void {
  const promotion = promotionOf(inst);
  if (primary.promotable && c.primaryRole !== Role.Unknown) {
    if (c.dependentRole !== Role.Promoted) return;
    const match = compatibleInstance(inst, primary, c.primaryRole);
    if (!match && c.score >= INF) promotion.priority = -INF;
    else if (match) promotion.priority = addScores(promotion.priority, c.score);
    return;
  }
  if (c.score >= INF) return;
  for (const child of primary.children) colocationPriority(inst, child, c);
}

/** Colocations that apply to an instance: its own, and its clone's. */
function instanceColocations(inst: Rsc, clone: Rsc): Coloc[] {
  const seen = new Set<Coloc>();
  const out: Coloc[] = [];
  for (const c of [...inst.thisWith, ...clone.thisWith]) {
    if (seen.has(c)) continue;
    seen.add(c);
    out.push(c);
  }
  return out;
}

// ---------------------------------------------------------------- choosing roles

function setCurrentRoleUnpromoted(rsc: Rsc): void {
  if (rsc.role === Role.Started) rsc.role = Role.Unpromoted;
  for (const c of rsc.children) setCurrentRoleUnpromoted(c);
}

function setNextRoleUnpromoted(rsc: Rsc): void {
  rsc.nextRole = instanceNode(rsc) ? Role.Unpromoted : Role.Stopped;
  for (const c of rsc.children) setNextRoleUnpromoted(c);
}

function setNextRolePromoted(rsc: Rsc): void {
  if (rsc.nextRole === Role.Unknown) rsc.nextRole = Role.Promoted;
  for (const c of rsc.children) setNextRolePromoted(c);
}

/** An instance's promotion priority once it is placed. */
function setInstancePriority(ws: WorkingSet, clone: Rsc, inst: Rsc): void {
  const promotion = promotionOf(inst);
  if (currentRole(inst) === Role.Started) setCurrentRoleUnpromoted(inst);
  const chosen = instanceNode(inst);
  if (!chosen) return;
  const next = nextRole(inst);
  if (next === Role.Started || next === Role.Unknown) {
    const { score, isDefault } = promotionScore(ws, inst, chosen);
    // without a promotion score only a location or colocation for the promoted role can promote it
    promotion.priority = isDefault ? -1 : score;
  } else if (next === Role.Unpromoted || next === Role.Stopped) {
    promotion.priority = -INF;
  }
  for (const l of promotedLocations.get(ws) ?? [])
    if (l.node === chosen && appliesTo(l.rsc, inst, clone))
      promotion.priority = addScores(promotion.priority, l.score);
  for (const c of instanceColocations(inst, clone)) {
    if (c.primary.kind === 'clone') colocationWithClone(inst, c.primary, c);
    else colocationPriority(inst, c.primary, c);
  }
  promotion.sortIndex = next === Role.Promoted ? INF : promotion.priority;
}

/** Hooks into the placement code for the clone's node scores (merging colocated resources' scores). */
export interface PromotionPlacement {
  /** The clone's node scores after placement (a copy is changed). */
  readonly cloneScores: (clone: Rsc) => NodeScores;
  /** Pacemaker's merge_weights: `scores` plus `other`'s (and its colocated resources') scores times `factor`. */
  readonly mergeScores: (
    other: Rsc,
    scores: NodeScores,
    attribute: string | undefined,
    factor: number,
    flags: { readonly rollback: boolean; readonly onlyPositive: boolean },
  ) => NodeScores;
}

/** The order in which instances are considered for promotion (highest sort index first). */
function sortForPromotion(ws: WorkingSet, clone: Rsc, placement: PromotionPlacement): Rsc[] {
  let scores: NodeScores = placement.cloneScores(clone).clone();
  for (const inst of clone.children) {
    const p = promotionOf(inst);
    const node = instanceNode(inst);
    if (p.sortIndex < 0 || !node) continue;
    scores.set(node.index, addScores(p.sortIndex, scores.get(node.index)));
  }
  // the clone is being merged: colocation chains that lead back to it stop there
  clone.merging = true;
  for (const c of clone.thisWith)
    if (c.dependentRole === Role.Promoted)
      scores = placement.mergeScores(c.primary, scores, c.nodeAttribute, c.score / INF, {
        rollback: c.score < INF,
        onlyPositive: false,
      });
  for (const c of clone.withThis)
    if (c.primaryRole === Role.Promoted && c.influence)
      scores = placement.mergeScores(c.dependent, scores, c.nodeAttribute, c.score / INF, {
        rollback: true,
        onlyPositive: true,
      });
  clone.merging = false;
  // a ticket needed for the promoted role and not granted: promoted nowhere
  if (ticketForbidsPromotion(ws, clone)) for (const n of ws.nodes) scores.set(n.index, -INF);
  for (const inst of clone.children) {
    const p = promotionOf(inst);
    const node = instanceNode(inst);
    if (!inst.managed && nextRole(inst) === Role.Promoted) p.sortIndex = INF;
    else if (node && p.sortIndex >= 0) p.sortIndex = scores.get(node.index);
  }
  const order = new Map(clone.children.map((c, i) => [c, i]));
  return [...clone.children].sort((a, b) => {
    const sa = promotionOf(a).sortIndex;
    const sb = promotionOf(b).sortIndex;
    if (sa !== sb) return sa > sb ? -1 : 1;
    const ra = currentRole(a);
    const rb = currentRole(b);
    if (ra !== rb) return ra > rb ? -1 : 1;
    return (order.get(a) ?? 0) - (order.get(b) ?? 0);
  });
}

/** The node `inst` would be promoted on, if it may be promoted there. */
function nodeToPromoteOn(
  ws: WorkingSet,
  clone: Rsc,
  inst: Rsc,
  perNode: Map<SNode, number>,
  cloneScores: NodeScores,
): SNode | undefined {
  for (const c of inst.children)
    if (!nodeToPromoteOn(ws, clone, c, perNode, cloneScores)) return undefined;
  const node = instanceNode(inst);
  if (!node) return undefined;
  if (!inst.managed) {
    // an unmanaged instance stays promoted where it is, and nothing else is promoted for it
    if (currentRole(inst) !== Role.Promoted) return undefined;
  } else if (priorityOf(inst) < 0) return undefined;
  else if (!nodeAvailable(node)) return undefined;
  if (cloneScores.get(node.index) === ABSENT) return undefined;
  const settings = clone.promotable as PromotableSettings;
  if ((perNode.get(node) ?? 0) >= settings.promotedNodeMax && inst.managed) return undefined;
  return node;
}

/**
 * After placement: choose each instance's next role. Returns the instances in
 * promotion order (Pacemaker keeps the clone's children in this order).
 */
export function setInstanceRoles(ws: WorkingSet, clone: Rsc, placement: PromotionPlacement): Rsc[] {
  const settings = clone.promotable as PromotableSettings;
  for (const inst of clone.children) setInstancePriority(ws, clone, inst);
  const ordered = sortForPromotion(ws, clone, placement);
  const cloneScores = placement.cloneScores(clone);
  const perNode = new Map<SNode, number>();
  let promoted = 0;
  for (const inst of ordered) {
    let chosen: SNode | undefined;
    if (promotionOf(inst).sortIndex >= 0 && (promoted < settings.promotedMax || !clone.managed))
      chosen = nodeToPromoteOn(ws, clone, inst, perNode, cloneScores);
    const frozen =
      currentRole(inst) < Role.Promoted &&
      !ws.config.haveQuorum &&
      ws.config.noQuorumPolicy === 'freeze';
    if (!chosen || frozen) {
      setNextRoleUnpromoted(inst);
      continue;
    }
    perNode.set(chosen, (perNode.get(chosen) ?? 0) + 1);
    setNextRolePromoted(inst);
    promoted++;
  }
  return ordered;
}

// ---------------------------------------------------------------- colocation with a promotable clone

/**
 * A resource being placed, colocated with the instances of a promotable clone
 * in a role: an optional colocation adds its score where such an instance
 * will be, a mandatory one (other than promoted with promoted) restricts the
 * dependent to those nodes, adding the instances' scores there.
 */
export function colocateWithPromotable(
  ws: WorkingSet,
  dependent: Rsc,
  primary: Rsc,
  c: Coloc,
): void {
  const affected: SNode[] = [];
  const work = dependent.allowed;
  for (const inst of primary.children) {
    const node = instanceNode(inst);
    if (!node || nextRole(inst) !== c.primaryRole) continue;
    if (c.score < INF) {
      const value = node.attrs[c.nodeAttribute ?? '#uname'];
      for (const n of ws.nodes) {
        const cur = work.get(n.index);
        if (cur === ABSENT) continue;
        if (n.attrs[c.nodeAttribute ?? '#uname']?.toLowerCase() === value?.toLowerCase())
          work.set(n.index, addScores(cur, c.score));
      }
    }
    affected.push(node);
  }
  if (c.dependentRole === Role.Promoted && c.primaryRole === Role.Promoted) return;
  if (c.score < INF) return;
  for (const n of ws.nodes) {
    const cur = work.get(n.index);
    if (cur === ABSENT) continue;
    if (!affected.includes(n)) {
      work.set(n.index, -INF);
      continue;
    }
    // the score the (last) instance there had when it was placed
    const inst = [...primary.children]
      .reverse()
      .find((i) => instanceNode(i) === n && nextRole(i) === c.primaryRole);
    const w = inst && inst.kind === 'primitive' ? inst.allowed.get(n.index) : 0;
    work.set(n.index, addScores(cur, w === ABSENT ? 0 : w));
  }
}

// ---------------------------------------------------------------- actions

/** Whether any primitive of `inst` has a required action `task`. */
function changing(inst: Rsc, task: string): boolean {
  return primitivesOf(inst).some((p) => p.actions.some((a) => a.task === task && !a.optional));
}

/**
 * The clone's promote/promoted and demote/demoted pseudo actions (required
 * when an instance is promoted or demoted), after the instances' actions.
 */
export function createPromotablePseudoActions(as: ActionSet, clone: Rsc): void {
  const promoting = clone.children.some((i) => changing(i, 'promote'));
  const demoting = clone.children.some((i) => changing(i, 'demote'));
  for (const task of ['promote', 'promoted'])
    as.custom(clone, task, 0, undefined, !promoting, { pseudo: true });
  for (const task of ['demote', 'demoted'])
    as.custom(clone, task, 0, undefined, !demoting, { pseudo: true });
}

/**
 * Orderings of a promotable clone: everything stopped or demoted before
 * anything starts or is promoted, all started before promotions; per
 * instance demote before promote, the clone's pseudo actions around the
 * instances' promotions and demotions (one after the other for ordered
 * clones, in `instances` order).
 */
export function orderPromotable(
  as: ActionSet,
  clone: Rsc,
  instances: readonly Rsc[],
  ordered: boolean,
): void {
  const opt = O.optional;
  as.orderRsc(clone, 'demoted', clone, 'stop', opt);
  as.orderRsc(clone, 'running', clone, 'promote', O.runnableLeft | opt);
  as.orderRsc(clone, 'stopped', clone, 'start', opt);
  as.orderRsc(clone, 'stopped', clone, 'promote', opt);
  as.orderRsc(clone, 'demoted', clone, 'start', opt);
  as.orderRsc(clone, 'demote', clone, 'demoted', opt);
  as.orderRsc(clone, 'demoted', clone, 'promote', opt);
  let last: Rsc | undefined;
  for (const inst of instances) {
    for (const p of primitivesOf(inst)) as.orderRsc(p, 'demote', p, 'promote', opt);
    for (const p of primitivesOf(inst)) {
      as.orderRsc(clone, 'promote', p, 'promote', opt);
      as.orderRsc(p, 'promote', clone, 'promoted', opt);
      as.orderRsc(clone, 'demote', p, 'demote', opt);
      as.orderRsc(p, 'demote', clone, 'demoted', opt);
    }
    if (last && ordered) {
      for (const a of primitivesOf(last))
        for (const b of primitivesOf(inst)) {
          as.orderRsc(a, 'promote', b, 'promote', opt);
          as.orderRsc(b, 'demote', a, 'demote', opt);
        }
    }
    last = inst;
  }
}
